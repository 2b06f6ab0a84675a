"""The controller as replicas (issue 9 section 3): two `reconcile --apply` processes, two working
directories, one PostgreSQL state (tests/servers/postgres.py), one sim platform (STREAMVERSE_LOCAL_DIR).

Only the lease holder writes; kill -9 of it and the other takes over (the lease's TTL, not a pid
guess); /metrics shows is-leader flip; SIGTERM finishes the iteration, releases the lease, exits 0.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers.process import free_port

from .test_cli import CLI
from .test_team_state import machine

pytestmark = pytest.mark.slow
WWW = "dns.record/www.streamverse.example./A/{}"
TTL = "3s"


class Replica:
    """One `reconcile --apply` process; its JSON ticks (stdout) and log lines (stderr) collected."""

    def __init__(self, cli: CLI, *extra: str, interval: str = "300ms") -> None:
        self.cli = cli
        self.port = free_port()
        self.proc = subprocess.Popen(
            cli.cmd("reconcile", "--apply", "--platform", "sim", "--interval", interval, "--lease-ttl", TTL,
                    "--metrics-addr", f"127.0.0.1:{self.port}", "-o", "json", *extra),
            cwd=cli.cwd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL)
        self.ticks: list[dict] = []  # type: ignore[type-arg]
        self.log: list[str] = []
        threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True).start()

    def _read(self, stream, ticks: bool) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            if ticks and line.strip():
                self.ticks.append(json.loads(line))
            elif not ticks:
                self.log.append(line.rstrip("\n"))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def metric(self, name: str) -> float | None:
        code, text = self.get("/metrics")
        m = re.search(rf"^streamverse_reconcile_{name} (\S+)$", text, re.M) if code == 200 else None
        return float(m.group(1)) if m else None

    def leader(self) -> bool:
        return self.metric("is_leader") == 1.0

    def holder(self) -> str:
        return next(t["leader"] for t in reversed(self.ticks) if t.get("leader"))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)


def until(what: str, check: Callable[[], object], timeout: float = 60) -> None:
    """Wait (bounded) for a condition; no timing is asserted here, only that it happens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {what}")


@pytest.fixture
def two_machines(tmp_path: Path, postgres_url: str) -> tuple[CLI, CLI]:
    sim = tmp_path / "sim"
    return machine(tmp_path, "node-a", postgres_url, sim), machine(tmp_path, "node-b", postgres_url, sim)


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    for r in started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


def applied_by(replica: Replica) -> int:
    return sum(t["applied"] for t in replica.ticks)


def test_one_leader_writes_kill_9_hands_over_metrics_flip_sigterm_releases(
        two_machines: tuple[CLI, CLI], replicas: list[Replica]) -> None:
    node_a, node_b = two_machines
    a = Replica(node_a)
    replicas.append(a)
    until("a leads and converged the demo", lambda: a.leader() and any(t["status"] == "in-sync" for t in a.ticks))
    b = Replica(node_b)
    replicas.append(b)
    until("b ran iterations", lambda: len(b.ticks) >= 3)
    assert b.metric("is_leader") == 0.0 and a.metric("is_leader") == 1.0
    assert b.get("/readyz")[0] == 200 and b.get("/healthz")[0] == 200  # a follower is ready: it plans and reports
    holder_a = a.holder()
    assert all(t["role"] == "follower" and t["leader"] == holder_a for t in b.ticks)
    assert f"follower; leader is {holder_a} since" in b.ticks[-1]["detail"]

    for n, region in enumerate(("us-west", "eu-west", "ap-pacific")):  # out-of-band changes: only a repairs
        node_a.ok("sim", "drift", WWW.format(region), f"weight={n + 1}")
        until(f"drift on {region} repaired", lambda: node_b("diff", "--platform", "sim",
                                                            "--detailed-exitcode").returncode == 0)
    seen_by_b = len(b.ticks)
    until("b planned after the repairs", lambda: len(b.ticks) >= seen_by_b + 2)
    assert applied_by(a) == 73 + 3 and applied_by(b) == 0  # exactly one replica wrote, every time

    a.proc.send_signal(signal.SIGKILL)  # the leader dies without releasing anything
    a.proc.wait()
    killed = time.monotonic()
    until("b takes over", b.leader, timeout=60)
    took = time.monotonic() - killed
    print(f"take-over after kill -9: {took:.1f} s (TTL {TTL})")
    assert b.metric("lease_age_seconds") is not None
    node_b.ok("sim", "drift", WWW.format("us-west"), "weight=9")
    until("b repairs the drift", lambda: applied_by(b) == 1)
    takeover = [e for e in node_b.json("state", "audit", "-n", "500", "--action", "lease.*")  # type: ignore[union-attr]
                if e["action"] == "lease.acquired"]
    assert takeover[-1]["detail"]["previous"] == holder_a and "expired" in takeover[-1]["detail"]["reason"]

    assert b.stop(signal.SIGTERM) == 0  # finishes the iteration, releases the lease, exits 0
    released = node_b.json("state", "audit", "-n", "5", "--action", "lease.released")
    assert isinstance(released, list) and released[-1]["detail"]["holder"] == b.holder()
    assert "Traceback" not in "\n".join(a.log + b.log)


def test_json_logs_are_one_object_per_event_with_no_secret(two_machines: tuple[CLI, CLI], postgres_url: str) -> None:
    node, _ = two_machines
    secret_url = postgres_url.replace("postgresql://postgres@", "postgresql://postgres:pw-Zq83-secret@")
    node.env["STREAMVERSE_STATE_URL"] = secret_url  # the loopback cluster trusts any password
    out = subprocess.run(node.cmd("reconcile", "--apply", "--platform", "sim", "-n", "2", "--interval", "100ms",
                                  "--log-format", "json"), cwd=node.cwd, env=node.env, capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["event"] for e in events] == ["lease.acquired", "reconcile.tick", "reconcile.tick", "lease.released"]
    assert all({"ts", "level", "event"} <= set(e) for e in events)
    assert events[1]["status"] == "applied" and events[1]["role"] == "leader"
    assert "pw-Zq83-secret" not in out.stdout + out.stderr and "postgres:***@" in out.stdout


def test_sigterm_mid_iteration_finishes_the_apply_then_releases(two_machines: tuple[CLI, CLI],
                                                                replicas: list[Replica]) -> None:
    node, _ = two_machines
    node.ok("sim", "faults", "--write-delay", "0.05")  # ~4 s of writes: SIGTERM arrives in the middle
    a = Replica(node, interval="1h")
    replicas.append(a)
    until("a leads", a.leader)
    until("a is writing", lambda: node.json("state", "lock")["lock"] is not None)  # type: ignore[index]
    assert a.stop(signal.SIGTERM) == 0
    assert [(t["status"], t["applied"]) for t in a.ticks] == [("applied", 73)]  # the iteration was finished
    assert node.ok("diff", "--platform", "sim", "--detailed-exitcode").returncode == 0
    released = node.json("state", "audit", "-n", "5", "--action", "lease.released")
    assert isinstance(released, list) and len(released) == 1
