"""unhealthy-region on PoP origins: a PoP switched to fetch from a down region's origin is refused."""

from __future__ import annotations

from streamverse_ctl.core.resources import Change
from streamverse_ctl.engine.guardrails import _origin_to_down_regions

POP = {"region": "us-west", "city": "LA", "country": "US", "cache_tb": 1, "capacity_gbps": 1}


def _switch(to: str | None, before: str | None = None) -> Change:
    after = {**POP, **({"origin_region": to} if to else {})}
    return Change("update", "cdn.pop", "lax1", "pops", {**POP, **({"origin_region": before} if before else {})},
                  after)


def test_switch_to_a_down_origin_is_refused_and_to_a_healthy_one_is_not() -> None:
    refused = _origin_to_down_regions([_switch("us-east")], {"us-east": False, "us-west": False})
    assert [r.name for r in refused] == ["unhealthy-region"] and "lax1" in refused[0].message
    assert _origin_to_down_regions([_switch("us-east")], {"us-east": True, "us-west": False}) == []


def test_back_to_a_down_home_origin_is_refused_and_unrelated_updates_pass() -> None:
    assert _origin_to_down_regions([_switch(None, before="us-east")], {"us-west": False})
    # a PoP of a down region whose origin does not move (e.g. a cache size change) is not refused
    assert _origin_to_down_regions([_switch(None)], {"us-west": False}) == []
