"""End to end: failover and failback through the installed CLI, refusals, dry run, approvals."""

from __future__ import annotations

import json

from .conftest import CLI


def test_gradual_failover_then_failback_shifts_traffic_and_returns(sv: CLI, store) -> None:
    before = sv.www()
    assert before["us-east"] == 30.0
    p = sv("failover", "us-east", "--gradual", "--step", "10", "--interval", "0s", "--yes")
    assert "done" in p.stdout
    st = sv.status()
    assert st["us-east"]["drained"] is True
    assert st["us-east"]["share"]["www"] == 0 and st["us-east"]["share"].get("api", 0) == 0
    assert all(v["utilization"] <= 1.0 for k, v in st.items() if k != "_")
    s = store()
    run = s.journal_runs("runbook", limit=1)[0]
    items = {i.item: i for i in s.journal_items(run["id"])}
    assert [k for k in items if k.startswith("shift[")] == ["shift[0]", "shift[1]", "shift[2]"]
    assert all(i.status == "done" for i in items.values())
    # each step's changes went through apply: journaled apply runs and audited, with the step named
    steps_done = [a.target for a in s.audit_log(500, "runbook.step") if a.result == "done"]
    assert "regional-failover/drain" in steps_done
    # every change went through apply (lock, guardrails, journal, audit): the initial apply, at least one
    # pool scale, the three shift steps and the drain
    assert len(s.audit_log(500, "apply.start")) >= 1 + 1 + 3 + 1
    assert s.lock_info("apply") is None and s.lock_info("runbook:regional-failover") is None
    scaled = [o for o in sv.json("dns", "overrides") if o["kind"] == "TranscodePool"]
    assert scaled and all(o["merge"]["minNodes"] == 12 for o in scaled)  # receiving regions scaled first
    assert sv.status()["_"]["origin_nodes"]

    p = sv("failback", "us-east", "--interval", "0s", "--yes")
    st = sv.status()
    assert st["us-east"]["drained"] is False
    assert sv.www() == before
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []
    assert sv.json("dns", "overrides") == []  # weights and the failover's extra capacity are released
    assert not sv.status()["_"]["origin_nodes"]


def test_capacity_refusal_exit_3_and_nothing_changed(sv: CLI, store) -> None:
    before = sv.www()
    p = sv("failover", "us-east", "--to", "sa-east", "--yes", check=3)
    assert "[capacity]" in p.stderr and "sa-east would receive" in p.stderr
    assert "--force capacity" in p.stderr
    assert sv.www() == before
    assert store().drained_regions() == frozenset()
    runs = store().journal_runs("runbook", limit=1)
    assert runs[0]["status"] == "refused"


def test_min_regions_refusal_exit_3(sv: CLI) -> None:
    for region in ("sa-east", "me-central", "ap-pacific"):
        sv("sim", "fail-region", region)
    p = sv("failover", "us-east", "--yes", check=3)
    assert "[min-regions]" in p.stderr
    assert sv.status()["us-east"]["drained"] is False


def test_dry_run_writes_nothing(sv: CLI, store) -> None:
    s = store()
    audit = [a.id for a in s.audit_log(10_000)]
    runs = s.journal_runs(limit=1000)
    sim_before = sv.json("sim", "status")
    p = sv("failover", "us-east", "--gradual", "--interval", "10m", "--dry-run", "-o", "json")
    events = [json.loads(line) for line in p.stdout.splitlines()]
    plans = [e for e in events if e["event"] == "step.plan"]
    assert plans and any(c["id"].endswith("/us-east") for e in plans for c in e["changes"])
    assert events[-1]["event"] == "run.finish" and events[-1]["status"] == "dry-run"
    s2 = store()
    assert [a.id for a in s2.audit_log(10_000)] == audit
    assert s2.journal_runs(limit=1000) == runs
    assert s2.overrides() == [] and s2.drained_regions() == frozenset()
    after = sv.json("sim", "status")
    for key in ("regions", "resources", "hit_ratios", "rate_limits", "origin_nodes"):
        assert after[key] == sim_before[key], key


def test_refused_approval_stops_cleanly_and_resume_asks_again(sv: CLI, store) -> None:
    before = sv.www()
    p = sv("failover", "us-east", check=1)  # no terminal, no --yes: the shift's approval is refused
    assert "approval for step 'shift' refused" in p.stderr
    assert sv.www() == before
    s = store()
    run = s.journal_runs("runbook", limit=1)[0]
    assert run["status"] == "refused"
    items = {i.item: i for i in s.journal_items(run["id"])}
    assert items["capacity"].status == "done" and items["shift"].status == "refused"
    assert items["verify"].status == "pending"
    assert [a.result for a in s.audit_log(50, "runbook.approval")] == ["refused"]
    sv("runbook", "resume", run["id"], "--approve", "shift")
    assert sv.status()["us-east"]["drained"] is True
    items = {i.item: i for i in store().journal_items(run["id"])}
    assert items["capacity"].data["attempts"] == 1  # not repeated by the resume
    assert items["shift"].data["approved_how"] == "--approve"


def test_show_renders_a_markdown_checklist(sv: CLI) -> None:
    md = sv("runbook", "show", "regional-failover").stdout
    assert md.startswith("# Runbook: regional-failover")
    assert md.count("- [ ] **") >= 7
    assert "**approval needed**" in md and "| `from` | region | **required** |" in md
    listed = sv.json("runbook", "list")
    assert {r["name"] for r in listed["runbooks"]} >= {"regional-failover", "regional-failback", "viral-content"}
    assert listed["problems"] == []
