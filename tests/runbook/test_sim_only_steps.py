"""Steps that only the sim platform can carry out (PoP warming, cache TTLs and warm sets on the sim's
stand-in CDN, per-IP rate limits, origin scaling) are never reported done on an inventory whose providers
are real (inventories/production, not run with --platform sim): the run is refused before it starts,
naming each step and the type, or an optional step is skipped, saying nothing changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import CLI, REPO

LIMIT_RUNBOOK = """\
name: edge-limit
parameters:
  video: {type: string, required: true}
steps:
  - id: ratelimit
    name: Limit each client IP on {{ params.video }}
    action: ratelimit.set
    with: {scope: "video:{{ params.video }}", rps: 20}
    optional: OPTIONAL
  - id: notify
    action: notify
    with: {message: "limited {{ params.video }}"}
"""


@pytest.fixture
def prod(tmp_path: Path, inventories_copy: Path) -> CLI:
    shutil.copytree(REPO / "inventories" / "production", inventories_copy / "production")
    # production's PoPs are nginx hosts (Provider pops); without that provider their cdn.* types fall
    # back to the sim stand-in, the case these tests are about
    providers = inventories_copy / "production" / "providers.yaml"
    docs = providers.read_text().split("\n---\n")
    providers.write_text("\n---\n".join(d for d in docs if "metadata: {name: pops}" not in d))
    return CLI(tmp_path / "state", inventories_copy / "production")


def _runbooks(tmp_path: Path, optional: bool) -> Path:
    d = tmp_path / "runbooks"
    d.mkdir(exist_ok=True)
    text = LIMIT_RUNBOOK.replace("OPTIONAL", "true") if optional else LIMIT_RUNBOOK.replace(
        "    optional: OPTIONAL\n", "")  # not optional: the default
    (d / "edge-limit.yaml").write_text(text)
    return d


def _events(p: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in p.stdout.splitlines()]


@pytest.mark.parametrize("dry_run", [True, False])
def test_viral_content_on_production_is_refused_before_it_starts(prod: CLI, dry_run: bool) -> None:
    args = ["runbook", "run", "viral-content", "--set", "video=clip42", "--yes", *(["--dry-run"] if dry_run else [])]
    p = prod(*args, check=1)
    err = " ".join(p.stderr.split())
    assert "would report steps done that change nothing real" in err and "nothing was run" in err
    stand_in = "only the sim platform stand-in 'sim-platform' does, which changes nothing real"
    assert f"step warm (cdn.warm): no real provider serves cdn.warm_set: {stand_in}" in err
    assert f"step ttl (cdn.set_ttl): no real provider serves cdn.cache_policy: {stand_in}" in err
    assert "step scale" not in err  # origin node counts are production's OriginFleets on Auto Scaling: real
    assert "step ratelimit (ratelimit.set): no real provider serves cdn.rate_limit (per-IP rate limits)" in err
    assert "--platform sim" in err and "Traceback" not in p.stderr
    assert "restore-" not in err  # steps whose `when` is false are not in question
    from streamverse_ctl.state.store import StateStore

    assert StateStore(prod.state).journal_runs("runbook") == []  # nothing journaled: it never started


def test_an_optional_sim_only_step_is_skipped_saying_nothing_changed(prod: CLI, tmp_path: Path) -> None:
    rb = _runbooks(tmp_path, optional=True)
    p = prod("runbook", "run", "edge-limit", "--set", "video=clip42", "--runbooks", str(rb), "--yes", "-o", "json")
    events = _events(p)
    skip = next(e for e in events if e["event"] == "step.skip")
    assert skip["step"] == "ratelimit"
    assert skip["reason"] == ("skipped: no real provider serves cdn.rate_limit (per-IP rate limits): only the sim "
                              "platform stand-in 'sim-platform' does, which changes nothing real; nothing changed")
    assert not any(e["event"] == "step.done" and e["step"] == "ratelimit" for e in events)
    assert events[-1]["event"] == "run.finish" and events[-1]["status"] == "done"
    from streamverse_ctl.state.store import StateStore

    s = StateStore(prod.state)
    run = s.journal_runs("runbook", limit=1)[0]
    items = {i.item: i.status for i in s.journal_items(run["id"])}
    assert items == {"ratelimit": "skipped", "notify": "done"}
    # the plain view shows it apart from done
    p = prod("runbook", "run", "edge-limit", "--set", "video=clip7", "--runbooks", str(rb), "--yes")
    shown = " ".join(p.stdout.split())
    assert "↷ Limit each client IP on clip7 skipped: no real provider serves cdn.rate_limit" in shown
    assert "✓ Limit each client IP" not in p.stdout


def test_a_required_sim_only_step_refuses_the_run_and_changes_nothing(prod: CLI, tmp_path: Path) -> None:
    rb = _runbooks(tmp_path, optional=False)
    p = prod("runbook", "run", "edge-limit", "--set", "video=clip42", "--runbooks", str(rb), "--yes", check=1)
    assert "step ratelimit (ratelimit.set): no real provider serves cdn.rate_limit" in " ".join(p.stderr.split())
    # rehearsed on the sim platform, the same step is done and says what it changed, on which system
    p = prod("runbook", "run", "edge-limit", "--set", "video=clip42", "--runbooks", str(rb), "--yes",
             "--platform", "sim")
    assert "✓ Limit each client IP on clip42 — sim: per-IP limit of video:clip42 set to 20 req/s" in p.stdout
