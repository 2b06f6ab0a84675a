"""The sim platform reads back exactly what it stored, whatever JSON parser does the work."""

from __future__ import annotations

import json
import math
from pathlib import Path

from streamverse_ctl.core.resources import canonical_json, spec_digest
from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.sim.provider import SimProvider
from streamverse_ctl.providers.sim.store import SimStore


def test_specs_orjson_refuses_still_read_back_as_json_gives_them(tmp_path: Path) -> None:
    store = SimStore(tmp_path / "sim.db")
    big = {"big": 2**70, "bigger": -(10**30), "long": 0.12345678901234567891}
    odd = {"nan": float("nan"), "inf": float("inf"), "text": "Zürich ✓", "n": -0.0}
    plain = {"ttl": 60, "values": ["198.51.100.10"], "weight": 1.5e-7, "nested": {"b": [1, {"c": None}]}}
    with store.tx() as db:
        store.put(db, "dns.record", "odd", odd)
        store.put(db, "dns.record", "plain", plain)
        store.put(db, "dns.record", "big", big)
    rows = {n: (spec, text) for _, n, spec, _, text, _ in store.read_with_text(["dns.record"])}
    assert rows["plain"][0] == plain == json.loads(rows["plain"][1])
    got = rows["big"][0]
    assert type(got["big"]) is int and got["big"] == 2**70 and got["bigger"] == -(10**30)
    assert got["long"] == 0.12345678901234567891
    got = rows["odd"][0]
    assert math.isnan(got["nan"]) and got["inf"] == math.inf
    assert got["text"] == "Zürich ✓" and math.copysign(1, got["n"]) == -1
    store.close()


def test_read_resources_carry_the_digest_of_what_is_stored(tmp_path: Path) -> None:
    spec = {"zone": "example.", "values": ["2001:db8::1"], "ttl": 300}
    sim = SimProvider("sim", {}, ProviderContext(tmp_path, False))
    with sim.store.tx() as db:
        sim.store.put(db, "dns.record", "www", spec)
    (res,) = sim.read(["dns.record"])
    assert res.spec == spec and res.etag == spec_digest(spec) == res.digest()
    assert canonical_json(res.spec) == canonical_json(spec)
    sim.close()


def test_a_no_change_read_shares_the_desired_specs_and_reads_changed_ones_as_stored(tmp_path: Path) -> None:
    from streamverse_ctl.engine.workspace import Workspace

    repo = Path(__file__).resolve().parents[2]
    ws = Workspace(repo / "inventories" / "demo", state_dir=tmp_path, platform="sim")
    try:
        desired = {r.id: r for r in ws.compiled.resources}
        sim = ws.provider("sim")
        assert isinstance(sim, SimProvider)
        changed = next(r for r in desired.values() if r.type == "cdn.pop")
        with sim.store.tx() as db:
            for r in desired.values():
                sim.store.put(db, r.type, r.name, {**r.spec, "city": "Elsewhere"} if r is changed else r.spec)
        actual = {r.id: r for r in ws.read_actual()}
        assert actual.keys() == desired.keys()
        for rid, r in actual.items():
            if rid == changed.id:
                assert r.spec["city"] == "Elsewhere" and r.spec is not desired[rid].spec
            else:
                assert r.spec is desired[rid].spec  # one copy of each unchanged spec, not two
            assert r.digest() == spec_digest(sim.store.get(r.type, r.name))
        assert sim.expected == {}  # the hint does not outlive the read
        plan = ws.plan()
        assert [c.id for c in plan.changes] == [changed.id]
    finally:
        ws.close()
