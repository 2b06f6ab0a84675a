"""ALIAS records on every back-end that declares dns.alias: create, update, delete."""

from __future__ import annotations

import pytest

from streamverse_ctl.core.specs import FEATURE_ALIAS

from ..helpers import apply, plan, rec, summary
from .backends import Backend, Z
from .capabilities import alias, kinds_with

pytestmark = [pytest.mark.servers, pytest.mark.parametrize("backend", kinds_with(FEATURE_ALIAS), indirect=True)]


def test_alias_create_update_delete(backend: Backend) -> None:
    p = backend.provider
    targets = [rec(Z, "a", values=["192.0.2.1"]), rec(Z, "b", values=["192.0.2.2"])]
    desired = [*targets, alias(target="a.sv.example.")]
    assert p.check(desired) == []
    changes = apply(p, desired)
    assert sorted(c.action for c in changes) == ["create"] * 3
    assert plan(p, desired) == []
    owned = {r.id: r.spec for r in p.read(["dns.record"]) if r.managed}
    assert owned["dns.record/sv.example./ALIAS"]["values"] == ["a.sv.example."]

    desired[2] = alias(target="b.sv.example.")
    changes = apply(p, desired)
    assert summary(changes) == [("update", "dns.record/sv.example./ALIAS", ["values"])]
    assert plan(p, desired) == []

    changes = apply(p, targets)
    assert [(c.action, c.id) for c in changes] == [("delete", "dns.record/sv.example./ALIAS")]
    assert plan(p, targets) == []
    assert "dns.record/sv.example./ALIAS" not in {r.id for r in p.read(["dns.record"])}
