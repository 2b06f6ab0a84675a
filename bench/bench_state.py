#!/usr/bin/env python3
"""State backends: the apply lock's acquire+release round trip, a lease renewal, and one reconcile
iteration of inventories/demo on the sim platform, on SQLite and on PostgreSQL.

PostgreSQL 15 is started by this script on a free loopback port (tests/servers/postgres.py: initdb +
pg_ctl, no system service) and stopped at the end. Each round trip is repeated --repeat times; the
median and the 95th percentile are reported. The reconcile iterations are timed in-process (no
interpreter start): the first one converges the demo (73 changes through apply: lock, journal,
audit, verify), the next ones find it in sync (plan + drift under the lock). Last, the controller's
fail-over: two `reconcile --apply` replicas on the PostgreSQL state, kill -9 of the leader, and the
time until the other's /metrics says it leads (with the default 15 s TTL and a 3 s one). Writes
bench/results/state.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamverse_ctl.engine.reconcile import reconcile  # noqa: E402
from streamverse_ctl.state.store import StateStore  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402
from tests.servers.process import free_port  # noqa: E402


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def row(name: str, times: list[float], **extra: Any) -> dict[str, Any]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    r = {"name": name, "seconds": round(statistics.median(times), 5), "p95_s": round(p95, 5), "runs": len(times),
         **extra}
    print(f"  {name:<44} median {r['seconds'] * 1000:8.2f} ms   p95 {p95 * 1000:8.2f} ms   ({len(times)} runs)")
    return r


def bench_backend(label: str, location: str, work: Path, repeat: int, iterations: int) -> list[dict[str, Any]]:
    store = StateStore(location, create=True)
    results = []
    try:
        def lock_round_trip() -> None:
            store.acquire("bench", purpose="bench")
            store.release("bench")

        lock_round_trip()  # warm: the lock's own connection, prepared plans
        results.append(row(f"{label}: lock acquire+release", timed(lock_round_trip, repeat)))
        store.lease_acquire("bench-lease", "bench", 15)
        results.append(row(f"{label}: lease renew", timed(lambda: store.lease_acquire("bench-lease", "bench", 15),
                                                           repeat)))
    finally:
        store.close()

    inv = work / f"inventories-{label}"
    for name in ("base", "demo"):
        shutil.copytree(ROOT / "inventories" / name, inv / name)
    os.environ["STREAMVERSE_LOCAL_DIR"] = str(work / f"local-{label}")  # the sim platform beside a server store

    def one() -> str:
        tick = next(iter(reconcile(inv / "demo", state_dir=location, platform="sim", apply=True, iterations=1)))
        if tick.status not in ("applied", "in-sync"):
            raise SystemExit(f"{label}: reconcile iteration ended {tick.status}: {tick.detail}")
        return tick.status

    t0 = time.perf_counter()
    status = one()
    first = time.perf_counter() - t0
    assert status == "applied", status
    results.append(row(f"{label}: reconcile iteration (converge, 73 changes)", [first]))
    results.append(row(f"{label}: reconcile iteration (in sync)", timed(one, iterations)))
    return results


def is_leader(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            return bool(re.search(r"^streamverse_reconcile_is_leader 1\.0$", resp.read().decode(), re.M))
    except OSError:
        return False


def wait(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def bench_takeover(url: str, work: Path, ttl: int) -> dict[str, Any]:
    """Two replicas (two working directories, one sim platform), kill -9 of the leader: seconds until
    the follower leads (the lease's TTL bounds it: expiry after the last renewal + one try of TTL/10)."""
    exe = str(Path(sys.executable).parent / "streamverse")
    procs, ports = [], []
    for n in range(2):
        home = work / f"replica-{ttl}-{n}"
        for name in ("base", "demo"):
            shutil.copytree(ROOT / "inventories" / name, home / "inventories" / name)
        port = free_port()
        env = {**os.environ, "STREAMVERSE_STATE_URL": url, "STREAMVERSE_LOCAL_DIR": str(work / f"sim-{ttl}")}
        procs.append(subprocess.Popen([exe, "ctl", "reconcile", "-i", str(home / "inventories" / "demo"), "--apply",
                                       "--platform", "sim", "--interval", "1s", "--lease-ttl", f"{ttl}s",
                                       "--metrics-addr", f"127.0.0.1:{port}"], cwd=home, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ports.append(port)
        if n == 0 and not wait(lambda: is_leader(ports[0]), 120):
            raise SystemExit("the first replica never became leader")
    try:
        time.sleep(ttl / 2)  # the follower is running; the leader renewed a moment ago
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        t0 = time.perf_counter()
        if not wait(lambda: is_leader(ports[1]), ttl * 4 + 30):
            raise SystemExit("the follower never took over")
        took = time.perf_counter() - t0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=60)
    return row(f"postgresql: take-over after kill -9 (TTL {ttl} s)", [took], ttl_s=ttl,
               meets_target=took <= ttl)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=200, help="lock and lease round trips per backend")
    ap.add_argument("--iterations", type=int, default=10, help="in-sync reconcile iterations per backend")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "state.json")
    args = ap.parse_args(argv)
    for var in [v for v in os.environ if v.startswith("STREAMVERSE_") and v != "STREAMVERSE_CACHE_DIR"]:
        del os.environ[var]
    work = Path(tempfile.mkdtemp(prefix="sv-bench-state-"))
    os.environ.setdefault("STREAMVERSE_CACHE_DIR", str(work / "cache"))
    pg = PostgresServer().start()
    results: list[dict[str, Any]] = []
    try:
        (work / "sqlite").mkdir()
        results += bench_backend("sqlite", str(work / "sqlite"), work, args.repeat, args.iterations)
        results += bench_backend("postgresql", pg.new_database(), work, args.repeat, args.iterations)
        for ttl in (3, 15):
            results.append(bench_takeover(pg.new_database(), work, ttl))
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "state", "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "postgresql": "15 on 127.0.0.1 (tests/servers/postgres.py)", "targets": {"seconds": "take-over within the TTL"},
        "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
