"""Automatic remediation (issue 9 section 3): FailoverPolicy mode automatic read by the controller.

`sim fail-region` makes a region's health checks fail (the sim platform's health); after
unhealthyObservations iterations the leader runs the regional-failover runbook, once: not again at
later iterations, not by the other replica after a kill -9 of the leader, not for a second region
within the cooldown; never while a guardrail refuses; mode manual only reports.
"""

from __future__ import annotations

import http.server
import json
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_cli import CLI
from .test_controller_replicas import Replica, until
from .test_team_state import machine

pytestmark = pytest.mark.slow


def set_policy(cli: CLI, **fields: object) -> None:
    path = cli.inventory.parent / "base" / "policies.yaml"
    text = path.read_text()
    head, sep, rest = text.partition("---")
    for key, value in fields.items():
        line = f"  {key}: {value}"
        head, n = re.subn(rf"^  {key}: .*$", line, head, flags=re.M)
        if not n:
            head = head.rstrip("\n") + "\n" + line + "\n"
    path.write_text(head + sep + rest)


AUTOMATIC = {"mode": "automatic", "unhealthyObservations": 3, "cooldown": "1h"}


def failover_runs(cli: CLI) -> list[dict]:  # type: ignore[type-arg]
    runs = cli.json("runbook", "history", "-n", "50")
    assert isinstance(runs, list)
    return [r for r in runs if r["ref"] == "regional-failover"]


def region_state(cli: CLI, region: str) -> str:
    data = cli.json("sim", "status")
    assert isinstance(data, dict)
    return next("drained" if r["drained"] else "serving" for r in data["regions"] if r["region"] == region)


def remediation(replica: Replica) -> list[dict]:  # type: ignore[type-arg]
    return [item for t in replica.ticks for item in t["remediation"]]


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    for r in started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


def test_one_failover_not_two_across_iterations_replicas_and_a_second_region(
        tmp_path: Path, postgres_url: str, replicas: list[Replica]) -> None:
    sim = tmp_path / "sim"
    node_a, node_b = machine(tmp_path, "node-a", postgres_url, sim), machine(tmp_path, "node-b", postgres_url, sim)
    for node in (node_a, node_b):
        set_policy(node, **AUTOMATIC)
    a = Replica(node_a)
    replicas.append(a)
    until("a leads and converged", lambda: a.leader() and any(t["status"] == "in-sync" for t in a.ticks))
    b = Replica(node_b)
    replicas.append(b)
    until("b follows", lambda: len(b.ticks) >= 2)

    node_a.ok("sim", "fail-region", "us-east")
    until("us-east drained by the controller", lambda: region_state(node_a, "us-east") == "drained", timeout=120)
    done = [i for i in remediation(a) if i["action"] == "failover"]
    assert [(i["region"], i["result"]) for i in done] == [("us-east", "ok")], done
    counted = [i["observations"] for i in remediation(a) if i["action"] == "observe" and i["region"] == "us-east"]
    assert counted[:2] == [1, 2]  # two observations below the threshold first: no failover at once
    assert not [i for i in remediation(b) if i.get("result") == "ok"]  # the follower never runs it
    follower_saw = [i for i in remediation(b) if i["action"] == "failover"]
    assert all(i["result"] == "would" and "the leader runs" in i["detail"] for i in follower_saw)

    a.proc.send_signal(signal.SIGKILL)  # the leader dies; b takes over with the drained region in the state
    a.proc.wait()
    until("b leads", b.leader)
    node_b.ok("sim", "fail-region", "us-west")  # a second region within the cooldown: reported, not failed over
    mark = len(b.ticks)
    until("b observed us-west past the threshold", lambda: any(
        i.get("result") == "cooldown" and i["region"] == "us-west" for t in b.ticks[mark:] for i in t["remediation"]))
    assert region_state(node_b, "us-west") == "serving"
    assert b.stop() == 0

    runs = failover_runs(node_b)
    assert len(runs) == 1 and runs[0]["status"] == "done", runs
    audit = node_b.json("state", "audit", "-n", "500", "--action", "remediation.*")
    assert isinstance(audit, list)
    assert [(e["action"], e["target"], e["result"]) for e in audit] == [
        ("remediation.failover", "us-east", "started"), ("remediation.failover", "us-east", "ok")]
    assert audit[0]["detail"]["mode"] == "automatic" and "3/3 observations" in audit[0]["detail"]["reason"]
    failover_steps = node_b.json("state", "audit", "-n", "500", "--action", "runbook.forced")
    assert failover_steps == []  # nothing forced past a guardrail


def run_reconcile(cli: CLI, n: int) -> list[dict]:  # type: ignore[type-arg]
    out = subprocess.run(cli.cmd("reconcile", "--apply", "--platform", "sim", "-n", str(n), "--interval", "100ms",
                                 "-o", "json"), cwd=cli.cwd, env=cli.env, capture_output=True, text=True,
                         timeout=300, stdin=subprocess.DEVNULL)
    assert "Traceback" not in out.stderr, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


@pytest.fixture
def one_node(tmp_path: Path) -> CLI:
    node = machine(tmp_path, "node", "", tmp_path / "unused")
    del node.env["STREAMVERSE_STATE_URL"]
    (tmp_path / "state").mkdir()
    node.env.update(STREAMVERSE_STATE_DIR=str(tmp_path / "state"))
    return node


class Webhook:
    """A real HTTP receiver on loopback that keeps every JSON body POSTed to it (the on-call channel)."""

    def __init__(self) -> None:
        self.received: list[dict] = []  # type: ignore[type-arg]
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [str(r["text"]) for r in self.received]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def test_no_failover_while_a_guardrail_refuses(one_node: CLI, webhook: Webhook) -> None:
    set_policy(one_node, **AUTOMATIC, minRegionsServing=6)  # a failover would leave 5 regions serving
    one_node.env["STREAMVERSE_WEBHOOK_URL"] = webhook.url
    run_reconcile(one_node, 1)
    one_node.ok("sim", "fail-region", "us-east")
    ticks = run_reconcile(one_node, 5)
    items = [i for t in ticks for i in t["remediation"] if i["action"] == "failover"]
    assert [i["result"] for i in items] == ["refused"] * 3, items  # iterations 3, 4, 5: tried, refused each time
    assert "[min-regions]" in items[0]["detail"] and "nothing forced" in items[0]["detail"]
    assert region_state(one_node, "us-east") == "serving"
    assert all(r["status"] == "refused" for r in failover_runs(one_node))
    audit = one_node.json("state", "audit", "-n", "500", "--action", "remediation.*")
    assert isinstance(audit, list) and {e["result"] for e in audit} == {"started", "refused"}
    refused = [t for t in webhook.texts() if t.startswith("streamverse controller: automatic failover of us-east")]
    assert len(refused) == 3 and all(": refused (" in t and "[min-regions]" in t for t in refused), webhook.texts()


def test_a_restarted_controller_continues_the_count(one_node: CLI, webhook: Webhook) -> None:
    set_policy(one_node, **AUTOMATIC)
    one_node.env["STREAMVERSE_WEBHOOK_URL"] = webhook.url
    run_reconcile(one_node, 1)
    one_node.ok("sim", "fail-region", "us-east")
    first = run_reconcile(one_node, 2)  # 2 of 3 observations, then the process ends
    assert [i["observations"] for t in first for i in t["remediation"]] == [1, 2]
    second = run_reconcile(one_node, 1)  # a new process: its first observation is the third
    done = [i for t in second for i in t["remediation"] if i["action"] == "failover"]
    assert [(i["observations"], i["result"]) for i in done] == [(3, "ok")], second
    assert region_state(one_node, "us-east") == "drained"
    texts = webhook.texts()
    assert any(t.startswith("streamverse controller: automatic failover of us-east: ok") for t in texts), texts
    assert any(t.startswith("us-east drained; www weights now") for t in texts), texts  # the runbook's own notify


def test_manual_mode_reports_what_it_would_do_and_changes_nothing(one_node: CLI) -> None:
    set_policy(one_node, unhealthyObservations=2)  # the demo's policy is mode: manual
    run_reconcile(one_node, 1)
    one_node.ok("sim", "fail-region", "us-east")
    ticks = run_reconcile(one_node, 3)
    items = [i for t in ticks for i in t["remediation"] if i["action"] == "failover"]
    assert items and all(i["result"] == "would" for i in items)
    assert "mode manual, would run regional-failover for us-east (streamverse ctl failover us-east)" in items[0][
        "detail"]
    assert region_state(one_node, "us-east") == "serving" and failover_runs(one_node) == []
    table = one_node.ok("reconcile", "--platform", "sim", "-n", "1")  # the table shows it too
    assert "remediation: us-east unhealthy for 2/2 observations: mode manual" in table.stdout


def test_a_flapping_region_is_not_failed_over(one_node: CLI) -> None:
    set_policy(one_node, **AUTOMATIC)
    run_reconcile(one_node, 1)
    for _ in range(3):  # down for two observations, up for one: the count starts again
        one_node.ok("sim", "fail-region", "us-east")
        run_reconcile(one_node, 2)
        one_node.ok("sim", "heal-region", "us-east")
        run_reconcile(one_node, 1)
    assert region_state(one_node, "us-east") == "serving" and failover_runs(one_node) == []


def test_failback_stays_human_unless_auto_failback(one_node: CLI) -> None:
    set_policy(one_node, mode="automatic", unhealthyObservations=2, cooldown="0s", stepInterval="0s")
    run_reconcile(one_node, 1)
    one_node.ok("sim", "fail-region", "us-east")
    run_reconcile(one_node, 2)
    assert region_state(one_node, "us-east") == "drained"
    one_node.ok("sim", "heal-region", "us-east")
    ticks = run_reconcile(one_node, 3)
    items = [i for t in ticks for i in t["remediation"] if i["action"] == "failback"]
    assert items and all(i["result"] == "human" for i in items), items
    assert "streamverse ctl failback us-east" in items[0]["detail"]
    assert region_state(one_node, "us-east") == "drained"

    set_policy(one_node, autoFailback="true")
    ticks = run_reconcile(one_node, 3)
    done = [i for t in ticks for i in t["remediation"] if i["action"] == "failback"]
    assert [i["result"] for i in done] == ["ok"], done  # once: the region serves again, nothing more to do
    assert region_state(one_node, "us-east") == "serving"
    runs = one_node.json("runbook", "history", "-n", "50")
    assert isinstance(runs, list)
    assert sorted((r["ref"], r["status"]) for r in runs) == [("regional-failback", "done"),
                                                             ("regional-failover", "done")]
