"""Plan diff (field level, ordering, unmanaged, targets) and guardrails (each refusal and --force)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streamverse_ctl.core.errors import GuardrailRefused, StalePlan
from streamverse_ctl.core.resources import Resource, resource_type_names, type_rank
from streamverse_ctl.engine.apply import apply_plan
from streamverse_ctl.engine.plan import Plan, diff, select
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.providers.sim.store import SimStore

from .helpers import doc, minimal, pop, weighted, write


def res(rtype: str, name: str, origin: str = "", managed: bool = True, **spec: object) -> Resource:
    document = origin.split(" ", 1)[0]  # what the compiler records beside the text
    return Resource(rtype, name, spec, "sim", origin=origin, managed=managed, document=document)


# ----- diff -------------------------------------------------------------------------------------
def test_diff_is_field_level() -> None:
    before = res("dns.record", "a", weight=10, ttl=60, health={"path": "/a", "port": 443})
    after = res("dns.record", "a", weight=20, ttl=60, health={"path": "/b", "port": 443})
    [c] = diff([after], [before])[0]
    assert c.action == "update"
    assert [(f.path, f.before, f.after) for f in c.fields] == [("health.path", "/a", "/b"), ("weight", 10, 20)]


def test_no_changes_when_equal() -> None:
    r = res("cdn.pop", "p", region="r1")
    assert diff([r], [res("cdn.pop", "p", region="r1")]) == ([], [])


def test_capacity_before_traffic_and_deletes_last_in_reverse_order() -> None:
    desired = [res("dns.record", "d1"), res("platform.region", "r1"), res("cdn.pop", "p1"),
               res("transcode.pool", "t1"), res("dns.healthcheck", "h1")]
    actual = [res("dns.record", "old"), res("cdn.pop", "oldpop"), res("platform.region", "oldregion")]
    changes, _ = diff(desired, actual)
    creates = [c for c in changes if c.action == "create"]
    deletes = [c for c in changes if c.action == "delete"]
    assert changes == creates + deletes
    assert [c.type for c in creates] == sorted((c.type for c in creates), key=type_rank().__getitem__)
    assert creates[0].type == "platform.region" and creates[-1].type == "dns.record"
    assert [c.type for c in deletes] == ["dns.record", "cdn.pop", "platform.region"]
    assert resource_type_names().index("platform.region") < resource_type_names().index("dns.record")


def test_unmanaged_resources_are_left_alone_and_takeover_is_marked() -> None:
    desired = [res("dns.record", "mine", x=1), res("dns.record", "theirs-too", x=1)]
    actual = [res("dns.record", "theirs", managed=False, x=9),
              res("dns.record", "theirs-too", managed=False, x=1)]
    changes, unmanaged = diff(desired, actual)
    assert unmanaged == ["dns.record/theirs"]
    assert not any(c.action == "delete" for c in changes)
    takeover = next(c for c in changes if c.name == "theirs-too")
    assert takeover.action == "update" and takeover.takeover and takeover.reason.startswith("takes over")


def test_select_targets_by_document_or_resource_id_glob() -> None:
    desired = [res("dns.record", "www/A/r1", origin="TrafficPolicy/www (dns.yaml:3)"),
               res("dns.record", "api/A/r1", origin="TrafficPolicy/api (dns.yaml:20)"),
               res("cdn.pop", "p1", origin="PoP/p1 (pops.yaml:1)")]
    changes, _ = diff(desired, [])
    assert [c.name for c in select(changes, ["TrafficPolicy/www"])] == ["www/A/r1"]
    assert [c.name for c in select(changes, ["cdn.pop/*"])] == ["p1"]
    assert {c.name for c in select(changes, ["TrafficPolicy/*"])} == {"www/A/r1", "api/A/r1"}
    assert select(changes, []) == changes


# ----- workspace-level: guardrails against the sim platform -------------------------------------
@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    inv = minimal(tmp_path / "inv", pops=12)
    (tmp_path / "state").mkdir()  # an explicit state location must exist
    yield inv, tmp_path / "state"


def converge(inv: Path, state: Path) -> None:
    ws = Workspace(inv, state_dir=state, platform="sim")
    try:
        apply_plan(ws, ws.plan())
    finally:
        ws.close()


def plan_of(inv: Path, state: Path, force: tuple[str, ...] = (), targets: tuple[str, ...] = ()) -> Plan:
    ws = Workspace(inv, state_dir=state, platform="sim")
    try:
        return ws.plan(list(targets), force=force)
    finally:
        ws.close()


def names(plan: Plan) -> list[str]:
    return sorted({r.name for r in plan.refusals})


def test_first_plan_creates_then_converged_plan_is_empty(env: tuple[Path, Path]) -> None:
    inv, state = env
    first = plan_of(inv, state)
    assert first.summary()["create"] == len(first.changes) > 12 and first.safe
    converge(inv, state)
    assert plan_of(inv, state).empty


def test_change_size_refuses_deleting_too_many_pops(env: tuple[Path, Path]) -> None:
    inv, state = env
    converge(inv, state)
    write(inv, {"pops.yaml": "---\n".join(pop(f"p{i}", f"r{i % 3 + 1}") for i in range(7))})  # 5 of 12 gone
    plan = plan_of(inv, state)
    assert plan.summary()["delete"] == 5
    assert names(plan) == ["change-size"]
    assert "5 deletes of 12 existing cdn.pop" in plan.refusals[0].message
    assert plan_of(inv, state, force=("change-size",)).safe


def test_change_size_does_not_apply_below_min_existing(tmp_path: Path) -> None:
    inv, state = minimal(tmp_path / "inv", pops=5), tmp_path / "state"
    state.mkdir()
    converge(inv, state)
    write(inv, {"pops.yaml": pop("p0", "r1")})  # 4 of 5 deleted, but only 5 exist (< minExisting 10)
    plan = plan_of(inv, state)
    assert plan.summary()["delete"] == 4 and plan.safe


def test_per_type_limits_from_the_provider_document(tmp_path: Path) -> None:
    provider = doc("Provider", "platform", {"type": "sim", "serves": {"types": ["*"]}, "guardrails": {
        "types": {"cdn.pop": {"maxDeletePercent": 50, "minExisting": 2}}}})
    inv, state = minimal(tmp_path / "inv", pops=4, extra={"provider.yaml": provider}), tmp_path / "state"
    state.mkdir()
    ws = Workspace(inv, state_dir=state)
    apply_plan(ws, ws.plan())
    ws.close()
    write(inv, {"pops.yaml": "---\n".join(pop(f"p{i}", "r1") for i in range(2))})  # 2 of 4: 50 %, allowed
    ws = Workspace(inv, state_dir=state)
    assert ws.plan().safe
    ws.close()
    write(inv, {"pops.yaml": pop("p0", "r1")})  # 3 of 4: 75 %
    ws = Workspace(inv, state_dir=state)
    plan = ws.plan()
    ws.close()
    assert names(plan) == ["change-size"] and "above the 50 % limit" in plan.refusals[0].message


def test_min_regions_refuses_weights_leaving_too_few_regions(env: tuple[Path, Path]) -> None:
    inv, state = env
    converge(inv, state)
    write(inv, {"dns.yaml": weighted(weights={"r1": 100, "r2": 0, "r3": 0})})
    plan = plan_of(inv, state)
    assert names(plan) == ["min-regions"]
    assert "minRegionsServing is 2" in plan.refusals[0].message
    assert plan_of(inv, state, force=("min-regions",)).safe


def test_zero_serving_cannot_be_forced(env: tuple[Path, Path]) -> None:
    inv, state = env
    converge(inv, state)
    sim = SimStore(state / "sim.db")
    for r in ("r1", "r2", "r3"):
        sim.set_region_health(r, False, "test")
    sim.close()
    write(inv, {"dns.yaml": weighted(weights={"r1": 40, "r2": 40, "r3": 20})})
    plan = plan_of(inv, state, force=("min-regions", "unhealthy-region", "change-size", "zero-serving"))
    assert "zero-serving" in names(plan)
    ws = Workspace(inv, state_dir=state, platform="sim")
    with pytest.raises(GuardrailRefused) as info:
        apply_plan(ws, plan, force=("zero-serving", "min-regions", "unhealthy-region", "change-size"))
    ws.close()
    assert [r.name for r in info.value.refusals] == ["zero-serving"]
    assert "--force zero-serving" in str(info.value)  # named, even if the CLI refuses to accept it


def test_unhealthy_region_refuses_sending_traffic_to_a_down_region(env: tuple[Path, Path]) -> None:
    inv, state = env
    write(inv, {"dns.yaml": weighted(weights={"r1": 50, "r2": 50, "r3": 0})})
    converge(inv, state)
    sim = SimStore(state / "sim.db")
    sim.set_region_health("r3", False, "outage")
    sim.close()
    write(inv, {"dns.yaml": weighted(weights={"r1": 40, "r2": 40, "r3": 20})})
    plan = plan_of(inv, state)
    assert names(plan) == ["unhealthy-region"]
    assert "region r3" in plan.refusals[0].message


def test_adopt_refuses_taking_over_unmanaged_and_force_names_only_that(env: tuple[Path, Path]) -> None:
    inv, state = env
    sim = SimStore(state / "sim.db")
    with sim.tx() as db:
        sim.put(db, "cdn.pop", "p0", {"region": "r1", "city": "Theirs"}, managed=False)
        sim.put(db, "cdn.pop", "elsewhere", {"region": "r9"}, managed=False)
    sim.close()
    plan = plan_of(inv, state)
    assert names(plan) == ["adopt"]
    assert plan.unmanaged == ["cdn.pop/elsewhere"]
    assert plan_of(inv, state, force=("change-size",)).refusals  # forcing another guardrail does not help
    assert plan_of(inv, state, force=("adopt",)).safe


def test_force_overrides_only_the_guardrail_it_names(env: tuple[Path, Path]) -> None:
    inv, state = env
    converge(inv, state)
    write(inv, {"dns.yaml": weighted(weights={"r1": 100, "r2": 0, "r3": 0}),
                "pops.yaml": "---\n".join(pop(f"p{i}", f"r{i % 3 + 1}") for i in range(6))})
    assert names(plan_of(inv, state)) == ["change-size", "min-regions"]
    assert names(plan_of(inv, state, force=("change-size",))) == ["min-regions"]
    assert names(plan_of(inv, state, force=("min-regions",))) == ["change-size"]


def test_target_limits_the_plan_and_guardrails_to_it(env: tuple[Path, Path]) -> None:
    inv, state = env
    converge(inv, state)
    write(inv, {"dns.yaml": weighted(weights={"r1": 60, "r2": 30, "r3": 10}),
                "pops.yaml": "---\n".join(pop(f"p{i}", f"r{i % 3 + 1}") for i in range(6))})
    plan = plan_of(inv, state, targets=("TrafficPolicy/www",))
    assert {c.type for c in plan.changes} == {"dns.record"} and plan.safe
    assert plan.targets == ["TrafficPolicy/www"]


def test_saved_plan_is_refused_when_actual_state_changed(env: tuple[Path, Path], tmp_path: Path) -> None:
    inv, state = env
    plan = plan_of(inv, state)
    plan.save(tmp_path / "plan.json")
    converge(inv, state)  # someone else applied meanwhile
    ws = Workspace(inv, state_dir=state, platform="sim")
    with pytest.raises(StalePlan):
        apply_plan(ws, Plan.load(tmp_path / "plan.json"), saved=True)
    ws.close()


def test_plan_json_round_trips(env: tuple[Path, Path], tmp_path: Path) -> None:
    inv, state = env
    plan = plan_of(inv, state)
    plan.save(tmp_path / "p.json")
    loaded = Plan.load(tmp_path / "p.json")
    assert loaded.to_dict() == plan.to_dict()
