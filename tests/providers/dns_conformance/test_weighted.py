"""Weighted routing (a TrafficPolicy's per-region record sets) on every back-end that declares
dns.routing.weighted: create, update, delete, drift, verification, and the weights the system
serves per REGION (us-east has two addresses, eu-west one: each region still gets its weight).
How "served" is measured: PowerDNS answers LUA pickwrandom queries (sampled), Route 53 record sets
carry the weights (moto runs no DNS server), the sim computes its traffic shares."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.core.specs import FEATURE_HEALTHCHECK, FEATURE_WEIGHTED

from ..helpers import apply, apply_changes, hc, plan, rec, summary
from .backends import Backend, Z
from .capabilities import kinds_with

pytestmark = [pytest.mark.servers, pytest.mark.parametrize("backend", kinds_with(FEATURE_WEIGHTED), indirect=True)]
EAST, WEST = ["192.0.2.10", "192.0.2.11"], ["192.0.2.20"]
TOLERANCE = 0.08  # 400 sampled answers: 4 standard deviations of a 0.3 share


def weighted(w_east: int, w_west: int) -> list[Resource]:
    return [rec(Z, "www", values=EAST, routing="weighted", set_id="us-east", weight=w_east, policy="www",
                region="us-east"),
            rec(Z, "www", values=WEST, routing="weighted", set_id="eu-west", weight=w_west, policy="www",
                region="eu-west")]


def assert_shares(backend: Backend, desired: list[Resource], want: dict[str, float]) -> None:
    shares = backend.region_shares("www", desired)
    assert set(shares) == set(want), shares
    assert all(abs(shares[k] - v) <= TOLERANCE for k, v in want.items()), (shares, want)


def test_weighted_create_update_delete_served_by_region(backend: Backend) -> None:
    p = backend.provider
    desired = weighted(70, 30)
    assert p.check(desired) == []
    changes = apply(p, desired)
    assert sorted(c.action for c in changes) == ["create", "create"]
    assert plan(p, desired) == []
    assert_shares(backend, desired, {"us-east": 0.7, "eu-west": 0.3})

    desired = weighted(20, 80)  # shift traffic to eu-west
    changes = apply(p, desired)
    assert summary(changes) == [("update", "dns.record/www.sv.example./A/eu-west", ["weight"]),
                                ("update", "dns.record/www.sv.example./A/us-east", ["weight"])]
    assert plan(p, desired) == []
    assert_shares(backend, desired, {"us-east": 0.2, "eu-west": 0.8})

    apply(p, desired[:1])  # eu-west leaves the policy: us-east takes everything
    assert plan(p, desired[:1]) == []
    assert_shares(backend, desired[:1], {"us-east": 1.0})
    apply(p, [])
    assert plan(p, []) == [] and not [r for r in p.read(["dns.record"]) if r.managed]
    assert backend.answers("www") == set()


def test_weight_changed_out_of_band_is_seen_by_plan(backend: Backend) -> None:
    p = backend.provider
    desired = weighted(70, 30)
    apply(p, desired)
    backend.set_weights(desired, {"us-east": 5, "eu-west": 30})
    changes = plan(p, desired)
    assert summary(changes) == [("update", "dns.record/www.sv.example./A/us-east", ["weight"])]
    assert (changes[0].fields[0].before, changes[0].fields[0].after) == (5, 70)
    apply_changes(p, changes)
    assert plan(p, desired) == []
    assert_shares(backend, desired, {"us-east": 0.7, "eu-west": 0.3})


def test_verify_catches_weights_served_wrong(backend: Backend) -> None:
    p = backend.provider
    desired = weighted(80, 20)
    apply(p, desired)
    results = p.verify(desired, timeout=10)
    assert results and all(v.ok for v in results), results
    backend.set_weights(desired, {"us-east": 20, "eu-west": 80})  # tampered with on the server
    results = p.verify(desired, timeout=1)
    assert results and not all(v.ok for v in results), results


def test_foreign_weighted_records_are_read_unmanaged_and_left_untouched(backend: Backend) -> None:
    backend.write_foreign_weighted()
    before = backend.raw_label("cdn")
    assert before, "the foreign records were written"
    p = backend.provider
    theirs = [r for r in p.read(["dns.record"]) if r.spec["fqdn"] == "cdn.sv.example."]
    assert theirs and not any(r.managed for r in theirs)
    changes = plan(p, weighted(70, 30))
    assert {c.action for c in changes} == {"create"}
    apply_changes(p, changes)
    apply(p, weighted(10, 90))
    apply(p, [])
    assert backend.raw_label("cdn") == before


def test_weighted_with_health_checks_round_trips_and_serves_the_weights(backend: Backend,
                                                                        health_endpoint: Any) -> None:
    p = backend.provider
    port = health_endpoint.port
    desired = [
        hc("www/us-east", "127.0.0.1", port=port, path="/us-east", region="us-east"),
        hc("www/eu-west", "127.0.0.1", port=port, path="/eu-west", region="eu-west"),
        *(replace(r, spec={**r.spec, "health_check": f"www/{r.spec['region']}"},
                  requires=(*r.requires, FEATURE_HEALTHCHECK)) for r in weighted(70, 30)),
    ]
    assert p.check(desired) == []
    apply(p, desired)
    assert plan(p, desired) == []
    results = p.verify(desired, timeout=10)  # PowerDNS: answers follow its first checks
    assert results and all(v.ok for v in results), [v for v in results if not v.ok]
    assert_shares(backend, desired[2:], {"us-east": 0.7, "eu-west": 0.3})
    apply(p, [])
    assert plan(p, []) == [] and not [r for r in p.read(["dns.record", "dns.healthcheck"]) if r.managed]
