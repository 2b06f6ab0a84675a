"""deploy-pop-config and pop-evacuation end to end on the sim platform (the demo inventory, 12 PoPs).

deploy-pop-config's change is a TTL edit in the CacheWarmPolicy (``*.ts`` 3600 -> 1800 s): one
cdn.cache_policy per PoP. The default waves [1, "10%", "100%"] on 12 PoPs are bah1, then dxb1, then the
other 10 (sorted by name). The real nginx PoPs are in tests/runbook/test_pop_runbooks_nginx.py.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from streamverse_ctl.providers.sim.edges import spread_to_edges
from streamverse_ctl.providers.sim.store import SimStore

from .conftest import CLI

FIRST, SECOND = "bah1", "dxb1"


def _edit_ttl(sv: CLI, ttl: int) -> None:
    cdn = sv.inventory / "cdn.yaml"
    text = cdn.read_text()
    assert '"*.ts": 3600' in text
    cdn.write_text(text.replace('"*.ts": 3600', f'"*.ts": {ttl}'))


def _sim(sv: CLI) -> SimStore:
    return SimStore(sv.state / "sim.db")


def _ts_ttls(sv: CLI) -> dict[str, int]:
    s = _sim(sv)
    try:
        return {str(spec["pop"]): int(spec["ttl_overrides"]["*.ts"]) for _, _, spec, _ in s.read(["cdn.cache_policy"])}
    finally:
        s.close()


def _pops(sv: CLI) -> dict[str, dict[str, Any]]:
    s = _sim(sv)
    try:
        return {n: spec for _, n, spec, _ in s.read(["cdn.pop"])}
    finally:
        s.close()


def _runs(store: Any) -> list[dict[str, Any]]:
    return list(store().journal_runs("runbook", limit=10))


# ----- deploy-pop-config --------------------------------------------------------------------------
def test_deploy_dry_run_shows_each_wave_and_writes_nothing(sv: CLI, store: Any) -> None:
    _edit_ttl(sv, 1800)
    p = sv("runbook", "run", "deploy-pop-config", "--dry-run")
    assert f"wave 1/3: 1 PoP(s): {FIRST}" in p.stdout and f"wave 2/3: 1 PoP(s): {SECOND}" in p.stdout
    assert "wave 3/3: 10 PoP(s)" in p.stdout
    assert set(_ts_ttls(sv).values()) == {3600}
    assert _runs(store) == []
    assert "12 to update" in sv("plan", "--detailed-exitcode", check=2).stdout


def test_deploy_rolls_out_wave_by_wave_and_the_last_wave_is_refused_by_change_size_until_forced(
        sv: CLI, store: Any) -> None:
    _edit_ttl(sv, 1800)
    p = sv("runbook", "run", "deploy-pop-config", "--yes", check=3)
    assert "change-size" in p.stdout + p.stderr
    ttls = _ts_ttls(sv)
    assert ttls[FIRST] == ttls[SECOND] == 1800  # the canary waves went out
    assert {v for k, v in ttls.items() if k not in (FIRST, SECOND)} == {3600}  # the refused wave changed nothing
    run_id = _runs(store)[0]["id"]
    sv("runbook", "resume", run_id, "--yes", "--force", "change-size")
    assert set(_ts_ttls(sv).values()) == {1800}
    assert sv("plan", "--detailed-exitcode").returncode == 0  # nothing left pending


def test_a_wave_that_fails_its_hit_ratio_gate_is_rolled_back_and_later_waves_never_start(sv: CLI, store: Any) -> None:
    sv("sim", "faults", "--hit-ratio", f"{SECOND}=0.5")  # the second wave's PoP regresses
    _edit_ttl(sv, 1800)
    p = sv("runbook", "run", "deploy-pop-config", "--yes", "--force", "change-size", "-s", "gate_timeout=2s", check=1)
    assert "not true after 2 s" in p.stdout + p.stderr
    assert f"rolled back deploy[1] on {SECOND}" in p.stdout
    ttls = _ts_ttls(sv)
    assert ttls[FIRST] == 1800  # the canary passed its gate and keeps the change
    assert ttls[SECOND] == 3600  # rolled back
    assert {v for k, v in ttls.items() if k not in (FIRST, SECOND)} == {3600}  # never reached
    audit = store().audit_log(200, "pop.rollback")
    assert [a.target for a in audit] == [SECOND] and audit[0].result == "ok"
    # the inventory change is still pending for them
    assert "11 to update" in sv("plan", "--detailed-exitcode", check=2).stdout


def test_kill_9_between_waves_then_resume_finishes_without_redeploying(sv: CLI, store: Any) -> None:
    _edit_ttl(sv, 1800)
    proc = sv.popen("runbook", "run", "deploy-pop-config", "--yes", "--force", "change-size", "-s", "pause=4s")
    run_id = None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # wait until the canary wave is done, then kill in the pause
            runs = _runs(store)
            if runs:
                run_id = runs[0]["id"]
                if {i.item: i.status for i in store().journal_items(run_id)}.get("deploy[0]") == "done":
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("the run never finished its first wave")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert _ts_ttls(sv)[FIRST] == 1800 and _ts_ttls(sv)[SECOND] == 3600
    p = sv("runbook", "resume", str(run_id), "--yes", "--force", "change-size")
    assert "already done" in p.stdout
    assert set(_ts_ttls(sv).values()) == {1800}
    started = [a.target for a in store().audit_log(1000, "runbook.step") if a.result == "started"]
    assert sum(t.endswith("deploy[0]") for t in started) == 1  # the canary wave ran once


# ----- pop-evacuation -------------------------------------------------------------------------------
EDGE_SITE = """\
apiVersion: streamverse.io/v1
kind: EdgeSite
metadata: {name: nrt1-yokohama}
spec: {pop: nrt1, city: Yokohama, country: JP, capacityGbps: 40, cacheTb: 16, healthCheck: {path: /healthz}}
"""


def _edge_rps(sv: CLI) -> dict[str, float]:
    return {e["site"]: e["rps"] for e in sv.json("sim", "edges")}


def test_evacuate_a_city_warms_the_neighbours_then_restore_brings_it_back(sv: CLI, store: Any) -> None:
    (sv.inventory / "edge-sites.yaml").write_text(EDGE_SITE)  # Tokyo's PoP has an edge site in Yokohama
    sv("apply", "--yes")
    assert _edge_rps(sv)["nrt1-yokohama"] > 0
    d = sv("runbook", "run", "pop-evacuation", "-s", "city=Tokyo", "--dry-run")
    assert "neighbours: sin1" in d.stdout
    assert "serving" not in _pops(sv)["nrt1"] and _runs(store) == []  # the dry run wrote nothing

    p = sv("runbook", "run", "pop-evacuation", "-s", "city=tokyo", "--yes")
    assert "update cdn.pop/nrt1" in p.stdout and "nrt1 (1 edge site(s))" in p.stdout
    assert _edge_rps(sv)["nrt1-yokohama"] == 0  # its edge site went out of service with it
    assert _pops(sv)["nrt1"]["serving"] is False
    s = _sim(sv)
    try:
        assert "sin1" in s.warmed_pops()  # the neighbour was pre-warmed
    finally:
        s.close()
    assert sv("plan", "--detailed-exitcode").returncode == 0  # the override is what the inventory now says

    sv("runbook", "run", "pop-evacuation", "-s", "city=Tokyo", "-s", "restore=true", "--yes")
    assert "serving" not in _pops(sv)["nrt1"] and _edge_rps(sv)["nrt1-yokohama"] > 0
    assert sv("plan", "--detailed-exitcode").returncode == 0


def test_evacuation_refusals_change_nothing(sv: CLI) -> None:
    # more PoPs at once than the change-size guardrail allows (4 of 12 cdn.pop = 33 % > 30 %)
    p = sv("runbook", "run", "pop-evacuation", "-s", 'pops=["nyc1","lax1","lhr1","sin1"]', "--yes", check=3)
    assert "change-size" in p.stdout + p.stderr
    # a region left with no serving PoP: nowhere to steer its users
    p = sv("runbook", "run", "pop-evacuation", "-s", 'pops=["nyc1","iad1"]', "--yes", check=1)
    assert "leaves no serving PoP in us-east" in p.stdout + p.stderr
    assert "Pre-warm" not in p.stdout  # refused before anything was warmed
    assert all("serving" not in spec for spec in _pops(sv).values())


def test_the_sim_load_model_spreads_an_evacuated_pops_users_and_edge_sites_over_its_region() -> None:
    pops = {"a": {"region": "r", "capacity_gbps": 10.0}, "b": {"region": "r", "capacity_gbps": 10.0},
            "c": {"region": "r", "capacity_gbps": 20.0}}
    sites = {"a-1": {"pop": "a", "region": "r", "capacity_gbps": 10.0}}
    on_pop, loads = spread_to_edges({"r": 400.0}, pops, sites, {}, 9.25)
    assert on_pop["a"] == 50.0 and loads[0].rps == 50.0
    pops["a"] = {**pops["a"], "serving": False}
    on_pop, loads = spread_to_edges({"r": 400.0}, pops, sites, {}, 9.25)
    assert on_pop["a"] == 0.0 and on_pop["b"] == pytest.approx(400.0 / 3) and on_pop["c"] == pytest.approx(800.0 / 3)
    assert loads[0].rps == 0.0  # its edge site went out with it
