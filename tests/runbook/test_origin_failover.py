"""origin-failover / origin-failback: a region's origin lost, its PoPs switched to the backup origin and back.

On the sim platform (the demo inventory: us-west's backupOrigin is us-east): the whole runbook, a dry
run that writes nothing, the failback that returns everything, and the ``unhealthy-region`` guardrail
refusing a switch to a backup origin whose region is down. On real nginx PoPs: see
test_origin_failover_nginx.py.
"""

from __future__ import annotations

import json

from .conftest import CLI


def events_of(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def pop_overrides(sv: CLI) -> dict[str, dict]:
    return {o["name"]: o["merge"] for o in sv.json("dns", "overrides") if o["kind"] == "PoP"}


def test_origin_failover_then_failback_on_sim(sv: CLI) -> None:
    p = sv("runbook", "run", "origin-failover", "-s", "region=us-west", "-s", "origin_nodes=40", "--yes",
           "-o", "json", timeout=240)
    events = events_of(p.stdout)
    assert events[-1]["status"] == "done"
    done = [e["step"] for e in events if e["event"] == "step.done"]
    assert {"switch", "backup-healthy", "scale", "notify"} <= set(done)
    # us-west's PoPs (lax1, sea1) now fetch from us-east, the Region's backupOrigin; no other PoP moved
    assert pop_overrides(sv) == {"lax1": {"originRegion": "us-east"}, "sea1": {"originRegion": "us-east"}}
    assert sv.json("sim", "status")["origin_nodes"] == {"us-east": 40}
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []  # applied and verified
    # running it again changes nothing (resuming after a crash past the switch is safe)
    again = events_of(sv("runbook", "run", "origin-failover", "-s", "region=us-west", "-s", "origin_nodes=0",
                         "--yes", "-o", "json", timeout=240).stdout)
    switch = next(e for e in again if e["event"] == "step.done" and e["step"] == "switch")
    assert "nothing to change" in json.dumps(switch)

    back = events_of(sv("runbook", "run", "origin-failback", "-s", "region=us-west", "--yes", "-o", "json",
                        timeout=240).stdout)
    assert back[-1]["status"] == "done"
    assert sv.json("dns", "overrides") == []
    assert sv.json("sim", "status")["origin_nodes"] == {}
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []


def test_dry_run_plans_the_switch_and_writes_nothing(sv: CLI) -> None:
    p = sv("runbook", "run", "origin-failover", "-s", "region=us-west", "--dry-run", "-o", "json", timeout=240)
    events = events_of(p.stdout)
    assert events[-1]["status"] == "dry-run"
    plan = next(e for e in events if e["event"] == "step.plan" and e["step"] == "switch")
    assert sorted(c["id"] for c in plan["changes"]) == ["cdn.pop/lax1", "cdn.pop/sea1"]
    assert sv.json("dns", "overrides") == []
    assert sv.json("sim", "status")["origin_nodes"] == {}


def test_refused_when_the_backup_origin_region_is_down(sv: CLI) -> None:
    sv("sim", "fail-region", "us-east")
    p = sv("runbook", "run", "origin-failover", "-s", "region=us-west", "--yes", "-o", "json", check=3,
           timeout=240)
    assert "unhealthy-region" in p.stdout + p.stderr
    assert "fetch from the origin of us-east" in p.stdout + p.stderr
    assert sv.json("dns", "overrides") == []  # nothing switched
    assert sv.json("sim", "status")["origin_nodes"] == {}


def test_failback_refused_while_the_origin_region_is_down(sv: CLI) -> None:
    sv("runbook", "run", "origin-failover", "-s", "region=us-west", "-s", "origin_nodes=0", "--yes", timeout=240)
    sv("sim", "fail-region", "us-west")
    p = sv("runbook", "run", "origin-failback", "-s", "region=us-west", "--yes", check=False, timeout=240)
    assert p.returncode != 0
    assert set(pop_overrides(sv)) == {"lax1", "sea1"}  # still on the backup origin


def test_backup_origin_must_name_another_known_region(sv: CLI) -> None:
    regions = sv.inventory.parent / "base" / "regions.yaml"
    regions.write_text(regions.read_text().replace("backupOrigin: us-east", "backupOrigin: us-nowhere"))
    p = sv("validate", check=1)
    out = p.stdout + p.stderr
    assert "unknown region 'us-nowhere'" in out and "backupOrigin" in out and "Traceback" not in out


def test_runbook_show_gives_a_markdown_checklist(sv: CLI) -> None:
    for name, text in (("origin-failover", "backup origin"), ("origin-failback", "back at its own origin")):
        out = sv("runbook", "show", name, "-o", "markdown").stdout
        assert text in out and "- [ ]" in out


def test_kill_9_after_the_switch_then_resume_does_not_switch_again(sv: CLI, store) -> None:
    """Killed while the last check retries (its URL not answering yet); resumed once it answers: the switch
    is not run again and the run completes."""
    import http.server
    import os
    import signal
    import threading
    import time

    from tests.servers.process import free_port

    port = free_port()
    proc = sv.popen("runbook", "run", "origin-failover", "-s", "region=us-west", "-s", "origin_nodes=0",
                    "-s", f"check_url=http://127.0.0.1:{port}/", "--yes")
    run_id = None
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            runs = store().journal_runs("runbook", limit=1)
            if runs:
                run_id = runs[0]["id"]
                if {i.item: i.status for i in store().journal_items(run_id)}.get("switch") == "done":
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("the run never finished its switch step")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert store().journal_run(run_id)["status"] == "running"
    assert set(pop_overrides(sv)) == {"lax1", "sea1"}

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        p = sv("runbook", "resume", run_id, "--yes", timeout=240)
    finally:
        server.shutdown()
        server.server_close()
    assert "already done" in p.stdout
    s = store()
    assert s.journal_run(run_id)["status"] == "done"
    started = [a for a in s.audit_log(1000, "runbook.step") if a.target.endswith("/switch") and a.result == "started"]
    assert len(started) == 1
    assert len([a for a in s.audit_log(1000, "override.set") if a.target == "PoP/lax1"]) == 1
