"""Health-driven guardrails (issue 8 item 5): a failover pair with a healthy SECONDARY is serving
(zero-serving), and ``unhealthy-region`` refuses ANY increase of a down region's traffic, not only
0 -> >0, while decreases always pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streamverse_ctl.compiler import Compiled, compile_inventory
from streamverse_ctl.core.resources import Change, Resource
from streamverse_ctl.engine.apply import apply_plan
from streamverse_ctl.engine.guardrails import check, serving_regions
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.providers.sim.store import SimStore

from .helpers import doc, minimal, weighted, write

FAILOVER = doc("TrafficPolicy", "api", {
    "zone": "example.test.", "record": "api", "type": "A", "ttl": 60, "routing": "failover",
    "failover": {"primary": "r1", "secondary": "r2"},
    "healthCheck": {"protocol": "HTTP", "path": "/h", "port": 80, "interval": 10}})


def _compiled(tmp_path: Path) -> Compiled:
    return compile_inventory(load_inventory(minimal(tmp_path / "inv", pops=0, extra={"api.yaml": FAILOVER})))


def _failover_records(compiled: Compiled) -> list[Resource]:
    return [r for r in compiled.resources if r.type == "dns.record" and r.spec.get("policy") == "api"]


def test_failover_pair_with_healthy_secondary_is_serving(tmp_path: Path) -> None:
    compiled = _compiled(tmp_path)
    recs = _failover_records(compiled)
    secondary = next(r for r in recs if r.spec["failover"] == "SECONDARY")
    primary = next(r for r in recs if r.spec["failover"] == "PRIMARY")
    # the switch: the published answer (read as the SECONDARY's set) still carries the primary's values
    switch = Change("update", "dns.record", secondary.name, "sim",
                    {**secondary.spec, "values": list(primary.spec["values"])}, dict(secondary.spec))
    actual = [primary, Resource("dns.record", secondary.name, switch.before or {}, "sim")]
    assert check([switch], compiled, actual, {"r1": False, "r2": True}) == []
    assert serving_regions(recs, {"r1": False, "r2": True}) == {"r1", "r2"}  # r2 takes over
    assert serving_regions(recs, {"r1": True, "r2": True}) == {"r1"}
    # switching back when the primary recovers is fine too
    back = Change("update", "dns.record", primary.name, "sim",
                  {**primary.spec, "values": list(secondary.spec["values"])}, dict(primary.spec))
    assert check([back], compiled, actual, {"r1": True, "r2": True}) == []
    # both down: nothing serves, and that stays unforceable
    refusals = check([switch], compiled, actual, {"r1": False, "r2": False}, force=("zero-serving",))
    assert [r.name for r in refusals] == ["zero-serving"]
    assert "traffic policy 'api' would have no healthy region serving" in refusals[0].message


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    inv = minimal(tmp_path / "inv", pops=0, min_regions=1)
    (tmp_path / "state").mkdir()
    yield inv, tmp_path / "state"


def _plan_after(inv: Path, state: Path, down: str, weights: dict[str, int], new: dict[str, int]) -> list[str]:
    write(inv, {"dns.yaml": weighted(weights=weights)})
    ws = Workspace(inv, state_dir=state, platform="sim")
    try:
        apply_plan(ws, ws.plan())
    finally:
        ws.close()
    sim = SimStore(state / "sim.db")
    sim.set_region_health(down, False, "outage")
    sim.close()
    write(inv, {"dns.yaml": weighted(weights=new)})
    ws = Workspace(inv, state_dir=state, platform="sim")
    try:
        return [f"[{r.name}] {r.message}" for r in ws.plan().refusals]
    finally:
        ws.close()


def test_raising_a_down_regions_weight_is_refused_not_only_from_zero(env: tuple[Path, Path]) -> None:
    inv, state = env
    refusals = _plan_after(inv, state, "r1", {"r1": 30, "r2": 40, "r3": 30}, {"r1": 40, "r2": 30, "r3": 30})
    assert refusals == ["[unhealthy-region] traffic policy 'www' (www.example.test./A) would send more traffic "
                        "to region r1 (its weight goes from 30 to 40), which health checks mark down"]


def test_a_larger_share_at_the_same_weight_is_refused(env: tuple[Path, Path]) -> None:
    inv, state = env
    refusals = _plan_after(inv, state, "r1", {"r1": 30, "r2": 40, "r3": 30}, {"r1": 30, "r2": 10, "r3": 30})
    assert len(refusals) == 1 and "region r1 (its share goes from 30% to 43% at weight 30)" in refusals[0]


def test_lowering_a_down_regions_weight_is_always_allowed(env: tuple[Path, Path]) -> None:
    inv, state = env
    # r1's share goes up (30 % -> 33 %) but its weight goes down: a decrease, allowed
    assert _plan_after(inv, state, "r1", {"r1": 30, "r2": 40, "r3": 30}, {"r1": 20, "r2": 20, "r3": 20}) == []


def test_adding_a_down_region_to_a_failover_set_or_making_it_primary_is_refused(tmp_path: Path) -> None:
    compiled = _compiled(tmp_path)
    recs = _failover_records(compiled)
    primary = next(r for r in recs if r.spec["failover"] == "PRIMARY")
    secondary = next(r for r in recs if r.spec["failover"] == "SECONDARY")
    actual = [primary]
    create = Change("create", "dns.record", secondary.name, "sim", None, dict(secondary.spec))
    refusals = check([create], compiled, actual, {"r2": False})
    assert [r.name for r in refusals] == ["unhealthy-region"]
    assert "region r2 (it is added to the failover SECONDARY set)" in refusals[0].message
    assert check([create], compiled, actual, {"r2": False}, force=("unhealthy-region",)) == []
    # a down standby promoted to PRIMARY
    promoted = Change("update", "dns.record", secondary.name, "sim", dict(secondary.spec),
                      {**secondary.spec, "failover": "PRIMARY"})
    refusals = check([promoted], compiled, [primary, secondary], {"r2": False})
    assert any("region r2 (it is added to the failover PRIMARY set)" in r.message for r in refusals)
    # removing the down region is a decrease: allowed
    delete = Change("delete", "dns.record", secondary.name, "sim", dict(secondary.spec), None)
    assert [r.name for r in check([delete], compiled, [primary, secondary], {"r2": False})] == []


def test_deleting_health_checks_no_record_uses_is_not_blocked_by_change_size(tmp_path: Path) -> None:
    compiled = _compiled(tmp_path)

    def check_res(name: str) -> Resource:
        return Resource("dns.healthcheck", name, {"protocol": "HTTP", "target": "192.0.2.1", "port": 80}, "r53")

    used = [check_res(f"www/r{i}") for i in range(12)]
    records = [Resource("dns.record", f"www.example.test./A/r{i}", {
        "zone": "example.test.", "fqdn": "www.example.test.", "rtype": "A", "routing": "weighted",
        "set_id": f"r{i}", "weight": 1, "health_check": f"www/r{i}", "values": ["192.0.2.1"]}, "r53")
        for i in range(12)]
    orphans = [check_res(f"route53:lost-{i}") for i in range(11)]
    actual = used + records + orphans
    cleanup = [Change("delete", "dns.healthcheck", o.name, "r53", dict(o.spec), None) for o in orphans]
    assert check(cleanup, compiled, actual, {}) == []  # 11 of 23 (48 %), but all the tool's own garbage
    real = [Change("delete", "dns.healthcheck", u.name, "r53", dict(u.spec), None) for u in used[:4]]
    refusals = check(cleanup + real, compiled, actual, {})
    assert [r.name for r in refusals] == ["change-size"]
    assert "4 deletes of 12 existing dns.healthcheck" in refusals[0].message  # orphans counted apart
