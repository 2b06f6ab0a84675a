"""viral-content: warming, TTL, capacity, rate limit, a real Ansible playbook (nginx -t), hit-ratio wait."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .conftest import CLI


def test_viral_content_runs_a_real_playbook_and_waits_for_the_hit_ratio(sv: CLI, store) -> None:
    sv("sim", "faults", "--hit-ratio", "nyc1=0.97")  # a measured value; the viral model applies on top
    sv("sim", "viral", "clip42")
    assert sv.json("sim", "status")["hit_ratios"]["nyc1"] < 0.85
    p = sv("runbook", "run", "viral-content", "--set", "video=clip42", "--set", "edge_pops=nyc1,lhr1",
           "--set", "recover_timeout=30s", "--yes", "-o", "json", timeout=240)
    events = [json.loads(line) for line in p.stdout.splitlines()]
    assert events[-1]["status"] == "done"
    ansible = [e for e in events if e["event"] == "step.ansible"]
    assert {"Render nginx.conf per PoP", "Validate with nginx -t"} <= {e["task"] for e in ansible}
    done = {e["step"]: e for e in events if e["event"] == "step.done"}
    out = done["edge-config"]["outputs"]
    assert out["rc"] == 0 and out["check_mode"] is False
    artifacts = Path(out["artifacts"])
    assert artifacts.is_relative_to(sv.state)  # kept under the state dir
    conf = (artifacts / "out" / "nyc1" / "nginx.conf").read_text()
    assert "proxy_cache_valid 200 206 86400s;" in conf and "rate=20r/s" in conf
    assert "limit_req zone=perip" in conf
    assert list((artifacts / "runner" / "artifacts").glob("*/job_events/*.json"))
    if shutil.which("nginx"):
        validated = [e for e in ansible if e["task"] == "Validate with nginx -t" and e["status"] == "ok"]
        assert validated
    st = sv.json("sim", "status")
    assert st["rate_limits"] == {"video:clip42": 20}
    assert set(st["origin_nodes"].values()) == {32}
    assert sum(st["hit_ratios"].values()) / len(st["hit_ratios"]) >= 0.95
    overrides = {(o["kind"], o["name"]) for o in sv.json("dns", "overrides")}
    assert ("CacheWarmPolicy", "new-releases") in overrides

    sv("runbook", "run", "viral-content", "--set", "video=clip42", "--set", "restore=true", "--yes")
    st = sv.json("sim", "status")
    assert st["rate_limits"] == {} and st["origin_nodes"] == {}
    assert sv.json("dns", "overrides") == []
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []


def test_dry_run_runs_ansible_in_check_mode_and_keeps_nothing(sv: CLI) -> None:
    before = sorted(p.name for p in sv.state.iterdir())
    p = sv("runbook", "run", "viral-content", "--set", "video=clip7", "--set", "edge_pops=nyc1", "--dry-run",
           "-o", "json", timeout=240)
    events = [json.loads(line) for line in p.stdout.splitlines()]
    done = {e["step"]: e for e in events if e["event"] == "step.done"}
    assert done["edge-config"]["outputs"]["check_mode"] is True
    assert done["edge-config"]["outputs"]["artifacts"] is None
    assert sorted(p.name for p in sv.state.iterdir()) == before
    assert sv.json("sim", "status")["rate_limits"] == {}


def test_viral_content_on_the_hottest_pops_only(sv: CLI, store) -> None:
    sv("sim", "viral", "clip7")
    p = sv("runbook", "run", "viral-content", "--set", "video=clip7", "--set", "hottest=3",
           "--set", "validate_config=false", "--set", "recover_timeout=30s", "--yes", "-o", "json", timeout=240)
    events = [json.loads(line) for line in p.stdout.splitlines()]
    assert events[-1]["status"] == "done"
    warm = next(e for e in events if e["event"] == "step.done" and e["step"] == "warm")["outputs"]
    # the sim's demand: each region's load split over its PoPs by capacity; the big PoPs of the
    # three busiest regions win (us-east 30 %, us-west 20 %, eu-west 20 % of www)
    assert warm["pops"] == ["lax1", "lhr1", "nyc1"]
    ratios = sv.json("sim", "status")["hit_ratios"]
    assert all(ratios[p] >= 0.95 for p in warm["pops"])  # warmed: recovered
    assert all(ratios[p] < 0.9 for p in ratios if p not in warm["pops"])  # the rest stayed cold

    sv("runbook", "run", "viral-content", "--set", "video=clip7", "--set", "restore=true", "--yes")
    assert not [o for o in sv.json("dns", "overrides") if o["kind"] == "CacheWarmPolicy"]
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []
