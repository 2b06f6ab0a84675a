"""ALIAS records (compiled from DnsRecord documents) on every back-end that declares dns.alias: create,
update, delete, foreign aliases untouched, an out-of-band change seen by plan and caught by verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.core.specs import FEATURE_ALIAS

from ..helpers import apply, apply_changes, plan, rec, summary
from .backends import Backend, Route53Backend, Z
from .capabilities import compiled_alias, kinds_with

pytestmark = [pytest.mark.servers, pytest.mark.parametrize("backend", kinds_with(FEATURE_ALIAS), indirect=True)]
APEX = "dns.record/sv.example./A"


def _desired(tmp_path: Path, target: str = "a.sv.example.") -> list[Resource]:
    return [rec(Z, "a", values=["192.0.2.1"]), rec(Z, "b", values=["192.0.2.2"]), compiled_alias(tmp_path, target)]


def _owned_values(backend: Backend) -> dict[str, list[str]]:
    return {r.id: list(r.spec["values"]) for r in backend.provider.read(["dns.record"]) if r.managed}


def test_alias_create_update_delete(backend: Backend, tmp_path: Path) -> None:
    p = backend.provider
    desired = _desired(tmp_path)
    assert p.check(desired) == []
    changes = apply(p, desired)
    assert sorted(c.action for c in changes) == ["create"] * 3
    assert plan(p, desired) == []
    assert _owned_values(backend)[APEX] == ["alias:self:a.sv.example."]
    if isinstance(backend, Route53Backend):  # a real Route 53 alias record set, not a plain value
        assert backend.alias_target("@") == "a.sv.example."

    desired = _desired(tmp_path, "b.sv.example.")
    changes = apply(p, desired)
    assert summary(changes) == [("update", APEX, ["values"])]
    assert plan(p, desired) == []
    if isinstance(backend, Route53Backend):
        assert backend.alias_target("@") == "b.sv.example."

    changes = apply(p, desired[:2])
    assert [(c.action, c.id) for c in changes] == [("delete", APEX)]
    assert plan(p, desired[:2]) == [] and APEX not in _owned_values(backend)


def test_foreign_alias_is_read_unmanaged_and_left_untouched(backend: Backend, tmp_path: Path) -> None:
    backend.write_alias("cdn", "a.sv.example.")
    before = backend.raw_label("cdn")
    assert before, "the foreign records were written"
    p = backend.provider
    [theirs] = [r for r in p.read(["dns.record"]) if r.spec["fqdn"] == "cdn.sv.example."]
    assert not theirs.managed and theirs.spec["values"] == ["alias:self:a.sv.example."]
    apply(p, _desired(tmp_path))
    apply(p, [])
    assert backend.raw_label("cdn") == before


def test_alias_changed_out_of_band_is_seen_by_plan_and_caught_by_verify(backend: Backend, tmp_path: Path) -> None:
    p = backend.provider
    desired = _desired(tmp_path)
    apply(p, desired)
    assert all(v.ok for v in p.verify(desired, timeout=5))
    backend.write_alias("@", "b.sv.example.")
    results = {v.resource_id: v for v in p.verify(desired, timeout=0.5)}
    assert not results[APEX].ok, results
    changes = plan(p, desired)
    assert summary(changes) == [("update", APEX, ["values"])]
    assert changes[0].fields[0].before == ["alias:self:b.sv.example."]
    apply_changes(p, changes)
    assert plan(p, desired) == [] and all(v.ok for v in p.verify(desired, timeout=5))
