"""Plain record sets on every DNS back-end (sim, Route 53 on moto, BIND, Knot, PowerDNS with and
without LUA): the same create/update/delete, foreign-records, drift and verification tests."""

from __future__ import annotations

import pytest

from streamverse_ctl.core.resources import Resource

from ..helpers import apply, apply_changes, plan, rec, summary
from .backends import KINDS, Backend, Z

pytestmark = [pytest.mark.servers, pytest.mark.parametrize("backend", KINDS, indirect=True)]


def _desired() -> list[Resource]:
    return [
        rec(Z, "api", values=["192.0.2.30", "192.0.2.31"], ttl=120, policy="api"),
        rec(Z, "*.img", "CNAME", values=["cdn.example.net."]),
        rec(Z, "txt", "TXT", values=['"hello world"', '"v=spf1 -all"']),
        rec(Z, "mail", "MX", values=["10 mx1.example.net.", "20 mx2.example.net."]),
    ]


def test_create_update_delete(backend: Backend) -> None:
    p = backend.provider
    desired = _desired()
    assert p.check(desired) == []
    assert not [r for r in p.read(["dns.record"]) if r.managed], "a fresh zone holds nothing of ours"
    changes = apply(p, desired)
    assert sorted(c.action for c in changes) == ["create"] * len(desired)
    assert plan(p, desired) == [], "a converged zone plans no change"
    assert backend.answers("api") == {"192.0.2.30", "192.0.2.31"}
    assert backend.answers("mail", "MX") == {"10 mx1.example.net.", "20 mx2.example.net."}
    assert backend.answers("*.img", "CNAME") == {"cdn.example.net."}

    desired[0] = rec(Z, "api", values=["192.0.2.32"], ttl=60, policy="api", region="eu-west")
    changes = apply(p, desired)
    assert summary(changes) == [("update", "dns.record/api.sv.example./A", ["region", "ttl", "values"])]
    assert plan(p, desired) == []
    assert backend.answers("api") == {"192.0.2.32"}

    changes = apply(p, desired[1:])
    assert [(c.action, c.id) for c in changes] == [("delete", "dns.record/api.sv.example./A")]
    assert backend.answers("api") == set()
    assert plan(p, desired[1:]) == []
    apply(p, [])
    assert plan(p, []) == [] and backend.answers("txt", "TXT") == set()
    assert not [r for r in p.read(["dns.record"]) if r.managed]


def test_foreign_records_are_read_unmanaged_and_left_untouched(backend: Backend) -> None:
    backend.write_foreign()  # written on the server, not by the tool; one shares a name with ours
    before = backend.raw_foreign()
    assert len(before) >= 2, before  # both foreign records seen (and PowerDNS LUA's own)
    p = backend.provider
    actual = {r.id: r for r in p.read(["dns.record"])}
    legacy = actual["dns.record/legacy.sv.example./A"]
    assert not legacy.managed and legacy.spec["values"] == ["198.51.100.7"]
    assert not actual["dns.record/api.sv.example./TXT"].managed
    assert not [r.id for r in actual.values() if r.managed], "nothing but ours is managed (SOA, NS, theirs)"
    changes = plan(p, _desired())
    assert {c.action for c in changes} == {"create"}, "nothing of theirs is planned for update or delete"
    apply_changes(p, changes)
    assert backend.answers("api") == {"192.0.2.30", "192.0.2.31"}
    assert backend.raw_foreign() == before
    apply(p, [])  # deleting all of ours leaves theirs
    assert backend.raw_foreign() == before
    assert backend.answers("legacy") == {"198.51.100.7"}
    assert backend.answers("api", "TXT") == {'"someone else"'}


def test_drift_is_seen_by_plan_and_repaired(backend: Backend) -> None:
    p = backend.provider
    desired = _desired()
    apply(p, desired)
    backend.write("api", "A", 120, ["203.0.113.66"])  # an out-of-band edit of one of ours
    changes = plan(p, desired)
    assert summary(changes) == [("update", "dns.record/api.sv.example./A", ["values"])]
    assert (changes[0].fields[0].before, changes[0].fields[0].after) == (["203.0.113.66"],
                                                                       ["192.0.2.30", "192.0.2.31"])
    apply_changes(p, changes)
    assert backend.answers("api") == {"192.0.2.30", "192.0.2.31"}
    assert plan(p, desired) == []


def test_verify_catches_a_wrong_answer(backend: Backend) -> None:
    p = backend.provider
    desired = _desired()
    apply(p, desired)
    results = p.verify(desired, timeout=5)
    assert len(results) == len(desired) and all(v.ok for v in results), [v for v in results if not v.ok]
    backend.write("api", "A", 120, ["203.0.113.66"])  # tampered with on the server
    after = {v.resource_id: v for v in p.verify(desired, timeout=0.5)}
    assert not after["dns.record/api.sv.example./A"].ok, after
    assert all(v.ok for rid, v in after.items() if rid != "dns.record/api.sv.example./A")
