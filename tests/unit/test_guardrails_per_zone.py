"""DNS change thresholds apply per zone: many changes in one zone are refused even when the
provider's other zones make them a small share overall."""

from __future__ import annotations

from pathlib import Path

from streamverse_ctl.compiler import compile_inventory
from streamverse_ctl.core.resources import Change, Resource
from streamverse_ctl.engine.guardrails import check
from streamverse_ctl.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]


def _record(zone: str, i: int, ttl: int = 60) -> Resource:
    spec = {"zone": zone, "fqdn": f"h{i}.{zone}", "rtype": "A", "ttl": ttl, "values": ["192.0.2.1"],
            "routing": "simple", "set_id": None, "weight": None, "latency_region": None, "geo": None,
            "failover": None, "health_check": None, "policy": None, "region": None}
    return Resource("dns.record", f"h{i}.{zone}/A", spec, "sim")


def test_changes_concentrated_in_one_zone_are_refused() -> None:
    compiled = compile_inventory(load_inventory(REPO / "inventories" / "demo"))
    actual = [_record("a.example.", i) for i in range(20)] + [_record("b.example.", i) for i in range(20)]
    changes = [Change("update", r.type, r.name, "sim", dict(r.spec), {**r.spec, "ttl": 30})
               for r in actual[:8]]  # 8 of zone a's 20 (40 %), 8 of the provider's 40 (20 %)
    refusals = check(changes, compiled, actual, {})
    assert [r.name for r in refusals] == ["change-size"]
    assert "in zone a.example." in refusals[0].message and "40 %" in refusals[0].message

    spread = [Change("update", r.type, r.name, "sim", dict(r.spec), {**r.spec, "ttl": 30})
              for r in actual[:4] + actual[20:24]]  # 4 per zone: 20 % of each
    assert check(spread, compiled, actual, {}) == []
