"""Compiler: inventory -> resources, with failover state, overrides and provider bindings."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamverse_ctl.compiler import CompileInput, Override, compile_inventory
from streamverse_ctl.core.errors import InputError
from streamverse_ctl.inventory import load_inventory

from .helpers import doc, minimal

ZONE = "example.test."


def records(compiled, policy: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {str(r.spec["set_id"]): dict(r.spec) for r in compiled.resources
            if r.type == "dns.record" and r.spec.get("policy") == policy}


def policy_doc(name: str, routing: str, **spec: object) -> str:
    return doc("TrafficPolicy", name, {"zone": ZONE, "record": name, "routing": routing, **spec})


@pytest.fixture
def inv(tmp_path: Path):  # type: ignore[no-untyped-def]
    extra = {"more-dns.yaml": "---\n".join([
        policy_doc("api", "latency", healthCheck={"interval": 10}),
        policy_doc("geo", "geo", geo=[{"match": {"continent": "EU"}, "region": "r2"},
                                      {"match": {"default": True}, "region": "r1"}]),
        policy_doc("origin", "failover", failover={"primary": "r1", "secondary": "r3"}),
    ])}
    return load_inventory(minimal(tmp_path / "inv", extra=extra))


def test_plain_compile_produces_every_resource_type_in_dependency_shape(inv) -> None:  # type: ignore[no-untyped-def]
    c = compile_inventory(inv)
    types = {r.type for r in c.resources}
    assert {"platform.region", "cdn.pop", "dns.record", "dns.healthcheck"} <= types
    www = records(c, "www")
    assert {k: v["weight"] for k, v in www.items()} == {"r1": 50, "r2": 30, "r3": 20}
    assert www["r1"]["fqdn"] == f"www.{ZONE}" and www["r1"]["values"] == ["192.0.2.1"]
    assert www["r1"]["health_check"] == "www/r1"
    assert set(records(c, "api")) == {"r1", "r2", "r3"}
    pop = next(r for r in c.resources if r.type == "cdn.pop")
    assert pop.depends_on == (f"platform.region/{pop.spec['region']}",)
    # no Provider documents: everything is served by the sim platform
    assert {r.provider for r in c.resources} == {"sim"}


def test_drained_region_weight_zero_left_out_of_latency_and_substituted(inv) -> None:  # type: ignore[no-untyped-def]
    c = compile_inventory(inv, CompileInput(drained=frozenset({"r1"})))
    www = records(c, "www")
    assert www["r1"]["weight"] == 0 and www["r2"]["weight"] == 30
    assert "drained" in c.reasons[f"dns.record/www.{ZONE}/A/r1"]
    assert set(records(c, "api")) == {"r2", "r3"}
    geo = records(c, "geo")
    assert geo["default"]["region"] == "r2"  # r1's failoverSecondary
    assert geo["eu"]["region"] == "r2"
    origin = records(c, "origin")
    assert origin["primary"]["region"] == "r2" and origin["secondary"]["region"] == "r3"
    region = next(r for r in c.resources if r.id == "platform.region/r1")
    assert region.spec["serving"] is False


def test_substitute_follows_the_chain_past_drained_regions(inv) -> None:  # type: ignore[no-untyped-def]
    c = compile_inventory(inv, CompileInput(drained=frozenset({"r1", "r2"})))
    assert records(c, "geo")["default"]["region"] == "r3"  # r1 -> r2 (drained) -> r3


def test_overrides_are_applied_and_named(inv) -> None:  # type: ignore[no-untyped-def]
    o = Override("TrafficPolicy", "www", {"weights": {"r1": 10}}, who="alice", at="t", reason="shift")
    c = compile_inventory(inv, CompileInput(overrides=[o]))
    assert records(c, "www")["r1"]["weight"] == 10
    assert c.reasons[f"dns.record/www.{ZONE}/A/r1"] == "override (alice, t): shift"


def test_an_override_that_no_longer_validates_is_an_input_error(inv) -> None:  # type: ignore[no-untyped-def]
    o = Override("TrafficPolicy", "www", {"weights": {"r1": 0, "r2": 0, "r3": 0}})
    with pytest.raises(InputError, match="no longer valid"):
        compile_inventory(inv, CompileInput(overrides=[o]))


def provider(name: str, types: list[str], **extra: object) -> str:
    return doc("Provider", name, {"type": "sim", "serves": {"types": types}, **extra})


def test_provider_binding_by_type_first_match_wins(tmp_path: Path) -> None:
    inv = load_inventory(minimal(tmp_path / "inv", extra={
        "providers.yaml": provider("dns", ["dns.*"]) + "---\n" + provider("platform", ["*"])}))
    c = compile_inventory(inv)
    assert set(c.bindings) == {"dns", "platform"}
    for r in c.resources:
        assert r.provider == ("dns" if r.type.startswith("dns.") else "platform"), r.id


def test_no_provider_serves_is_an_input_error(tmp_path: Path) -> None:
    inv = load_inventory(minimal(tmp_path / "inv", extra={"providers.yaml": provider("dns", ["dns.*"])}))
    with pytest.raises(InputError) as info:
        compile_inventory(inv)
    msgs = [p.message for p in info.value.problems]
    assert any(m.startswith("no Provider serves cdn.pop") for m in msgs)
    assert any(m.startswith("no Provider serves platform.region") for m in msgs)


def test_platform_sim_binds_everything_to_sim_whatever_providers_say(tmp_path: Path) -> None:
    inv = load_inventory(minimal(tmp_path / "inv", extra={"providers.yaml": provider("dns", ["dns.*"])}))
    c = compile_inventory(inv, CompileInput(platform="sim"))
    assert set(c.bindings) == {"sim"} and {r.provider for r in c.resources} == {"sim"}


def test_pinned_titles_are_warmed_only_on_their_pops() -> None:
    from pathlib import Path

    from streamverse_ctl.inventory import load_inventory as load

    repo = Path(__file__).resolve().parents[2]
    inv = load(repo / "inventories" / "demo")
    o = Override("CacheWarmPolicy", "new-releases", {"pinned": {"clip7": ["nyc1", "lhr1"]}})
    c = compile_inventory(inv, CompileInput(overrides=[o]))
    warm = {r.spec["pop"]: r.spec["titles"] for r in c.resources if r.type == "cdn.warm_set"}
    assert {p for p, titles in warm.items() if "clip7" in titles} == {"nyc1", "lhr1"}
    assert len(warm) == 12
