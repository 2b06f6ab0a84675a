"""scale-for-event: a planned surge pre-scales, pre-warms and raises TTLs, then restores (sim platform)."""

from __future__ import annotations

import json

from .conftest import CLI


def events_of(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_scale_for_event_then_restore(sv: CLI) -> None:
    p = sv("runbook", "run", "scale-for-event", "-s", "title=final26", "-s", "event=the final",
           "-s", "regions=us-east,eu-west", "-s", "origin_nodes=40", "--yes", "-o", "json", timeout=240)
    events = events_of(p.stdout)
    assert events[-1]["status"] == "done"
    st = sv.json("sim", "status")
    assert st["origin_nodes"] == {"us-east": 40, "eu-west": 40}  # only the event's regions
    overrides = {(o["kind"], o["name"]): o for o in sv.json("dns", "overrides")}
    scaled = {n for k, n in overrides if k == "TranscodePool"}
    assert scaled == {"transcode-us-east", "transcode-eu-west"}
    assert overrides[("TranscodePool", "transcode-us-east")]["merge"] == {"minNodes": 16}
    warm = overrides[("CacheWarmPolicy", "new-releases")]["merge"]
    assert "final26" in warm["titles"] and warm["ttlOverrides"] == {"/videos/final26/*": 86400}
    done = [e["step"] for e in events if e["event"] == "step.done"]
    assert done[:2] == ["scale[0]", "scale[1]"] and {"warm", "ttl", "ready", "notify-ready"} <= set(done)

    sv("runbook", "run", "scale-for-event", "-s", "title=final26", "-s", "regions=us-east,eu-west",
       "-s", "restore=true", "--yes")
    assert sv.json("sim", "status")["origin_nodes"] == {}
    assert sv.json("dns", "overrides") == []
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []


def test_without_approval_nothing_is_scaled(sv: CLI) -> None:
    p = sv("runbook", "run", "scale-for-event", "-s", "title=final26", "-o", "json", check=False, timeout=240)
    assert p.returncode != 0
    assert sv.json("sim", "status")["origin_nodes"] == {}
    assert sv.json("dns", "overrides") == []


def test_dry_run_shows_every_step_and_writes_nothing(sv: CLI) -> None:
    p = sv("runbook", "run", "scale-for-event", "-s", "title=final26", "--dry-run", "-o", "json", timeout=240)
    events = events_of(p.stdout)
    assert events[-1]["status"] == "dry-run"
    assert {e["step"] for e in events if e["event"] == "step.plan"} >= {"warm", "ttl"}
    assert sv.json("sim", "status")["origin_nodes"] == {}
    assert sv.json("dns", "overrides") == []


def test_runbook_show_gives_a_markdown_checklist(sv: CLI) -> None:
    out = sv("runbook", "show", "scale-for-event", "-o", "markdown")
    assert "Pre-scale origin and transcode capacity" in out.stdout and "- [ ]" in out.stdout
