"""regional-failback: health is checked before every weight raise and watched after it; a regression steps
the weights back (through dns.set_weights) and pauses the run with the reason."""

from __future__ import annotations

import json
import threading
from typing import Any

from .conftest import CLI


def _served(sv: CLI) -> dict[str, int]:
    from streamverse_ctl.engine.workspace import Workspace
    from streamverse_ctl.runbook.probes import dns_weights

    ws = Workspace(sv.inventory, state_dir=sv.state)
    try:
        return dns_weights(ws, "www")
    finally:
        ws.close()


def _failback_step(sv: CLI, step: str) -> tuple[Any, Any, list[dict[str, Any]]]:
    """A workspace and the action context of a regional-failback step, as the runbook engine makes them,
    and the list its events land in (close the workspace when done)."""
    from pathlib import Path

    from streamverse_ctl.engine.workspace import Workspace
    from streamverse_ctl.runbook.context import ActionContext
    from streamverse_ctl.runbook.events import Events

    ws = Workspace(sv.inventory, state_dir=sv.state)
    seen: list[dict[str, Any]] = []
    events = Events()
    events.sinks.append(seen.append)
    ctx = ActionContext(ws, "regional-failback", "run-x", step, False, frozenset({"change-size"}), events,
                        Path("."), sv.state / "artifacts")
    return ws, ctx, seen


def test_region_down_mid_failback_steps_back_and_pauses(sv: CLI, store) -> None:
    sv("failover", "us-east", "--yes")
    assert _served(sv)["us-east"] == 0
    # 10 % steps of 100 points: us-east 0 -> 10 -> 20 -> 30, each held 1 h while health is watched
    proc = sv.popen("failback", "us-east", "--step", "10", "--interval", "1h", "--yes", "-o", "json")
    watchdog = threading.Timer(300, proc.kill)  # a hang guard only (a wait of 1 h would be the bug)
    watchdog.start()
    events: list[dict[str, Any]] = []
    failed = False
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        events.append(event)
        if not failed and event["event"] == "step.wait" and str(event.get("step")).startswith("restore["):
            assert _served(sv)["us-east"] == 10  # the first step is in place, being watched
            sv("sim", "fail-region", "us-east")  # the region goes down mid-way
            failed = True
    watchdog.cancel()
    assert proc.wait(timeout=120) == 1, proc.stderr.read() if proc.stderr else ""
    assert any(e["event"] == "step.wait" and e.get("step") == "restore[0]" for e in events), events[-5:]
    # stepped back to where the failback started (us-east at 0), never raised further
    assert _served(sv)["us-east"] == 0
    assert not any(e["event"] == "step.start" and e.get("step") == "restore[1]" for e in events)
    fail = next(e for e in events if e["event"] == "step.fail")
    assert fail["step"] == "restore[0]" and fail["status"] == "paused"
    assert "us-east marked down by health checks while holding us-east at 10" in fail["error"]
    assert "www stepped back to" in fail["error"] and "(us-east at 0)" in fail["error"]
    finish = events[-1]
    assert finish["event"] == "run.finish" and finish["status"] == "paused"
    s = store()
    run = s.journal_runs("runbook", limit=1)[0]
    assert run["status"] == "paused" and "runbook resume" in run["data"]["error"]
    assert [a.result for a in s.audit_log(50, "failback.step_back")] == ["ok"]


def test_region_down_before_a_raise_is_never_given_weight(sv: CLI) -> None:
    """The gate runs before the raise: the action, called as the runbook calls it, with us-east down."""
    import pytest

    from streamverse_ctl.runbook.actions.failover import step_failback
    from streamverse_ctl.runbook.errors import RunPaused

    sv("failover", "us-east", "--yes")
    sv("sim", "fail-region", "us-east")
    start = _served(sv)
    raised = {**start, "us-east": 10, "us-west": start["us-west"] - 10}
    ws, ctx, seen = _failback_step(sv, "restore[0]")
    try:
        with pytest.raises(RunPaused) as err:
            step_failback(ctx, "us-east", "www", raised, start, start, gate_timeout=5, hold=3600)
    finally:
        ws.close()
    assert "us-east marked down by health checks before raising us-east to 10" in str(err.value)
    assert _served(sv) == start  # never raised
    assert not any(e["event"] == "step.wait" for e in seen)  # and never waited


def test_resume_after_a_step_back_climbs_the_earlier_steps_again(sv: CLI) -> None:
    """After a step back to the start, the resumed step does not jump: the steps before it are redone first."""

    from streamverse_ctl.runbook.actions.failover import step_failback
    from streamverse_ctl.runbook.actions.region import serve

    sv("failover", "us-east", "--yes")
    start = _served(sv)
    step1 = {**start, "us-east": 10, "us-west": start["us-west"] - 10}
    step2 = {**start, "us-east": 20, "us-west": start["us-west"] - 20}
    ws, ctx, seen = _failback_step(sv, "restore[1]")
    try:
        serve(ctx, "us-east", "www", hold_weights=start)  # as the runbook's serve step: back, held at 0
        seen.clear()
        step_failback(ctx, "us-east", "www", step2, step1, start, gate_timeout=30, earlier=[step1])
    finally:
        ws.close()
    raised = [f["after"] for e in seen if e["event"] == "step.plan" for c in e["changes"]
              if c["id"].endswith("/www.streamverse.example./A/us-east") for f in c["fields"] if f["path"] == "weight"]
    assert raised == [10, 20]  # 0 -> 10 -> 20, not 0 -> 20
    assert any("climbing 1 of them again first" in str(e.get("text")) for e in seen)
    assert _served(sv) == step2
