"""The engine in-process: retries, compensation on failure, when, outputs, plugin actions, abort."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamverse_ctl.core.errors import PermanentError
from streamverse_ctl.core.registry import actions
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.runbook import loader
from streamverse_ctl.runbook.engine import Runner, RunOptions, abort
from streamverse_ctl.runbook.errors import StepFailed
from streamverse_ctl.runbook.events import Events

CALLS: list[tuple[str, Any]] = []


@actions.register("test.flaky")
def flaky(ctx: Any, name: str, fail_times: int = 0) -> dict[str, Any]:
    CALLS.append((name, ctx.step))
    if sum(1 for n, _ in CALLS if n == name) <= fail_times:
        raise RuntimeError(f"{name} flaked")
    return {"name": name, "calls": len(CALLS)}


@actions.register("test.broken")
def broken(ctx: Any, why: str) -> dict[str, Any]:
    CALLS.append(("broken", ctx.step))
    raise PermanentError(why)


RB = """\
name: engine-test
description: retries, compensation, when and outputs
parameters:
  skip: {type: bool, default: false}
steps:
  - id: first
    action: test.flaky
    with: {name: a, fail_times: 2}
    retries: {attempts: 3, delay: 0s}
  - id: maybe
    when: "not params.skip"
    action: test.flaky
    with: {name: "b-{{ steps.first.outputs.name }}"}
  - id: each
    action: test.flaky
    for_each: [x, y]
    with: {name: "{{ item }}{{ index }}"}
  - id: boom
    action: test.broken
    with: {why: "it broke after {{ steps.each.outputs.last.name }}"}
    retries: {attempts: 3, delay: 0s}  # a PermanentError is not retried: "retrying will not help"
    on_failure:
      - id: undo
        action: test.flaky
        with: {name: "undo {{ error }}"}
outputs:
  first: "{{ steps.first.outputs.name }}"
"""


@pytest.fixture
def ws(tmp_path: Path, demo_copy: Path) -> Workspace:
    (tmp_path / "state").mkdir()  # an explicit state location must exist
    w = Workspace(demo_copy, state_dir=tmp_path / "state")
    yield w
    w.close()


def test_retries_when_for_each_and_compensation(ws: Workspace, tmp_path: Path) -> None:
    CALLS.clear()
    f = tmp_path / "engine-test.yaml"
    f.write_text(RB)
    rb = loader.load(f)
    seen: list[dict[str, Any]] = []
    with pytest.raises(PermanentError, match="it broke after y1"):
        Runner(ws, rb, RunOptions(), Events([seen.append])).start({})
    assert [n for n, _ in CALLS] == ["a", "a", "a", "b-a", "x0", "y1", "broken", "undo it broke after y1"]
    run = ws.state.journal_runs("runbook", limit=1)[0]
    assert run["status"] == "failed"
    items = {i.item: i for i in ws.state.journal_items(run["id"])}
    assert items["first"].data["attempts"] == 3 and items["first"].status == "done"
    assert items["boom"].status == "failed" and items["boom/on_failure/undo"].status == "done"
    assert [e["attempt"] for e in seen if e["event"] == "step.retry"] == [1, 2]
    # a resume repeats only the failed step (and its compensation is already done)
    CALLS.clear()
    with pytest.raises(PermanentError):
        Runner(ws, rb, RunOptions(), Events()).resume(run["id"])
    assert [n for n, _ in CALLS] == ["broken"]  # only the failed step, once
    # skipped by when, and a clean run's outputs
    f.write_text(RB.split("  - id: boom")[0] + 'outputs:\n  first: "{{ steps.first.outputs.name }}"\n')
    CALLS.clear()
    out = Runner(ws, loader.load(f), RunOptions(), Events()).start({"skip": "true"})
    assert out.status == "done" and out.outputs == {"first": "a"}
    assert "b-a" not in [n for n, _ in CALLS]


def test_abort_marks_a_run_not_resumable(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "engine-test.yaml"
    f.write_text(RB)
    CALLS.clear()
    with pytest.raises(PermanentError):
        Runner(ws, loader.load(f), RunOptions(), Events()).start({})
    run_id = ws.state.journal_runs("runbook", limit=1)[0]["id"]
    assert abort(ws, run_id, "not needed")["status"] == "aborted"
    with pytest.raises(PermanentError, match="is aborted"):
        Runner(ws, loader.load(f), RunOptions(), Events()).resume(run_id)
    assert StepFailed  # exported for callers
