"""The `foreign-state` guardrail on its own: whose resources a plan would write, and when that refuses."""

from __future__ import annotations

from pathlib import Path

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.engine.guardrails import check, foreign_owners
from streamverse_ctl.engine.plan import diff
from streamverse_ctl.engine.workspace import Workspace

from .helpers import minimal

A, B = "a" * 32, "b" * 32


def actual(owner: str, name: str = "p1", region: str = "r1") -> Resource:
    return Resource("cdn.pop", name, {"region": region}, "sim", owner=owner)


def test_foreign_owners_names_each_owning_lineage() -> None:
    have = [actual(A, "p1"), actual(A, "p2"), actual("", "p3"), actual(B, "p4")]
    want = [Resource("cdn.pop", n, {"region": "r2"}, "sim") for n in ("p1", "p2", "p3", "p4", "p5")]
    changes, _ = diff(want, have)
    assert foreign_owners(changes, have, B) == {A: ["cdn.pop/p1", "cdn.pop/p2"]}  # p3: no lineage yet; p5: new
    assert foreign_owners(changes, have, None) == {A: ["cdn.pop/p1", "cdn.pop/p2"], B: ["cdn.pop/p4"]}
    assert foreign_owners([], have, None) == {}  # nothing to write: nothing refused


def test_refused_with_another_or_no_lineage_and_forceable(tmp_path: Path) -> None:
    ws = Workspace(minimal(tmp_path / "inv"), state_dir=tmp_path / "state")
    (tmp_path / "state").mkdir()
    try:
        compiled = ws.compiled
        have = [actual(A)]
        changes, _ = diff([Resource("cdn.pop", "p1", {"region": "r2"}, "sim")], have)
        for lineage in (B, None):
            [r] = check(changes, compiled, have, {}, lineage=lineage, state_location="/ci/.streamverse")
            assert r.name == "foreign-state" and A in r.message and "/ci/.streamverse" in r.message
            assert "--state-url" in r.message and "STREAMVERSE_STATE_URL" in r.message
            assert ("no lineage" in r.message) == (lineage is None)
        assert check(changes, compiled, have, {}, lineage=A) == []  # the owner itself
        assert check(changes, compiled, have, {}, ["foreign-state"], lineage=B) == []
        assert check(changes, compiled, [actual("")], {}, lineage=B) == []  # written before lineages: adopted
    finally:
        ws.close()
