"""Failover routing with a health check on every back-end that declares dns.routing.failover and
dns.healthcheck: create, update (the primary's answer and the check's path), delete, and the
primary's answer served while its check passes. (What each does when a check fails differs by
design and stays in the per-provider tests: RFC 2136 republishes on apply, PowerDNS LUA follows
its own checks, Route 53 on moto never fails a check, the sim follows region health.)"""

from __future__ import annotations

from typing import Any

import pytest

from streamverse_ctl.core.specs import FEATURE_FAILOVER

from ..helpers import apply, apply_changes, plan, summary
from .backends import Backend
from .capabilities import failover, kinds_with

pytestmark = [pytest.mark.servers, pytest.mark.parametrize("backend", kinds_with(FEATURE_FAILOVER), indirect=True)]


def test_failover_create_update_delete(backend: Backend, health_endpoint: Any) -> None:
    p = backend.provider
    desired = failover(health_endpoint.port)
    assert p.check(desired) == []
    changes = apply(p, desired)
    assert sorted((c.action, c.type) for c in changes) == [("create", "dns.healthcheck"),
                                                          ("create", "dns.record"), ("create", "dns.record")]
    assert plan(p, desired) == []
    results = p.verify(desired, timeout=10)  # PowerDNS: answers follow its first check of a new URL
    assert results and all(v.ok for v in results), [v for v in results if not v.ok]
    assert backend.failover_region("fo", desired[1:]) == "us-east"

    desired = failover(health_endpoint.port, primary="192.0.2.11", path="/us-east-v2")
    changes = apply(p, desired)
    assert summary(changes) == [("update", "dns.healthcheck/www/us-east", ["path"]),
                                ("update", "dns.record/fo.sv.example./A/us-east", ["values"])]
    assert plan(p, desired) == []
    results = p.verify(desired, timeout=10)
    assert results and all(v.ok for v in results), [v for v in results if not v.ok]
    assert backend.failover_region("fo", desired[1:]) == "us-east"
    if backend.serves_dns:
        assert backend.answers("fo") == {"192.0.2.11"}

    apply(p, [])
    assert plan(p, []) == []
    assert not [r for r in p.read(["dns.record", "dns.healthcheck"]) if r.managed]
    assert backend.answers("fo") == set()


def test_failover_answer_changed_out_of_band_is_seen_by_plan_and_verify(backend: Backend,
                                                                         health_endpoint: Any) -> None:
    p = backend.provider
    desired = failover(health_endpoint.port)
    apply(p, desired)
    assert all(v.ok for v in p.verify(desired, timeout=10))
    backend.set_primary_values(desired[1:], ["203.0.113.9"])  # the served answer tampered with
    results = [v for v in p.verify(desired, timeout=1) if v.resource_id.startswith("dns.record/")]
    assert results and not all(v.ok for v in results), results
    changes = plan(p, desired)
    assert changes and {c.action for c in changes} == {"update"}, changes
    apply_changes(p, changes)
    assert plan(p, desired) == []
    assert all(v.ok for v in p.verify(desired, timeout=10))
