"""kill -9 in the middle of a run, then resume: finished steps are never repeated."""

from __future__ import annotations

import collections
import os
import signal
import time

from .conftest import CLI


def test_kill_9_mid_run_then_resume_completes_without_repeating_a_step(sv: CLI, store) -> None:
    proc = sv.popen("failover", "us-east", "--gradual", "--step", "10", "--interval", "3s", "--yes")
    run_id = None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # wait until the first shift step is done, then kill mid-interval
            runs = store().journal_runs("runbook", limit=1)
            if runs:
                run_id = runs[0]["id"]
                items = {i.item: i.status for i in store().journal_items(run_id)}
                if items.get("shift[0]") == "done":
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("the run never reached shift[0]")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    s = store()
    assert s.journal_run(run_id)["status"] == "running"  # nobody could mark it: the process died
    done_before = {i.item for i in s.journal_items(run_id) if i.status == "done"}
    assert {"capacity", "warm", "shift[0]"} <= done_before
    weights_mid = sv.www()
    assert 0 < weights_mid["us-east"] < 30

    p = sv("runbook", "resume", run_id, "--yes")
    assert "already done" in p.stdout
    s = store()
    assert s.journal_run(run_id)["status"] == "done"
    items = s.journal_items(run_id)
    assert all(i.status == "done" for i in items), [(i.item, i.status) for i in items]
    started = collections.Counter(a.target.split("/", 1)[1] for a in s.audit_log(1000, "runbook.step")
                                  if a.result == "started")
    for item in done_before:  # finished before the kill: started exactly once, in the first process
        if "[" in item or item in ("capacity", "warm", "verify", "drain", "notify"):
            assert started[item] == 1, (item, started)
    assert all(i.data.get("attempts") == 1 for i in items if i.item in done_before and "[" in i.item)
    st = sv.status()
    assert st["us-east"]["drained"] is True and st["us-east"]["share"]["www"] == 0
    # the resume took the stale run lock over (audited) instead of refusing
    assert any(a.target == "runbook:regional-failover" for a in s.audit_log(1000, "lock.takeover"))
    assert sv("runbook", "resume", run_id, "--yes", check=1).stderr.count("is done") == 1
