"""RFC 2136 on a real BIND: verification comes from one zone transfer, not a query per record;
a wrong answer is still caught; through the engine, the UPDATE's SOA prerequisite is the re-check
under the lock (no second AXFR), and a zone changed since the plan is refused as a stale plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dns.query
import dns.rcode
import dns.tsig
import dns.update
import pytest

from streamverse_ctl.core.errors import StalePlan
from streamverse_ctl.core.secrets import Secret
from streamverse_ctl.engine.apply import apply_plan
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.providers import dnsverify
from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.rfc2136 import RFC2136Provider
from tests.unit.helpers import doc, write

from .helpers import apply, rec

pytestmark = pytest.mark.servers
Z = "sv.example."


def _provider(bind: Any, tmp_path: Path) -> RFC2136Provider:
    return RFC2136Provider("bind", {
        "server": bind.address, "zone": Z, "tsigKeyName": bind.key_name,
        "tsigSecret": Secret(bind.secret, "env TEST_TSIG"), "nameservers": [bind.address], "timeout": 2},
        ProviderContext(tmp_path))


def _send(bind: Any, upd: dns.update.UpdateMessage) -> None:
    host, port = bind.address.split(":")
    assert dns.query.tcp(upd, host, port=int(port), timeout=2).rcode() == dns.rcode.NOERROR


def _update(bind: Any) -> dns.update.UpdateMessage:
    return dns.update.UpdateMessage(Z, keyring=dns.tsig.Key(bind.key_name, bind.secret), keyname=bind.key_name)


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Counts the DNS queries verification sends (each still goes to the server)."""
    sent: list[tuple[str, str]] = []
    real = dnsverify.query

    def counting(server: str, fqdn: str, rtype: str, *a: Any, **kw: Any) -> frozenset[str]:
        sent.append((fqdn, rtype))
        return real(server, fqdn, rtype, *a, **kw)

    monkeypatch.setattr(dnsverify, "query", counting)
    return sent


def test_verification_is_one_zone_transfer_and_still_catches_a_wrong_answer(
        bind: Any, tmp_path: Path, queries: list[tuple[str, str]]) -> None:
    p = _provider(bind, tmp_path)
    desired = [rec(Z, f"h{i}", values=[f"192.0.2.{i + 1}"]) for i in range(40)]
    apply(p, desired)
    results = p.verify(desired, timeout=3)
    assert len(results) == 40 and all(v.ok for v in results), [v.detail for v in results if not v.ok]
    assert queries == []  # every answer seen in the one AXFR
    assert "zone transfer" in results[0].detail

    upd = _update(bind)  # someone changes one answer behind the tool's back
    upd.replace("h7", 60, "A", "203.0.113.9")
    _send(bind, upd)
    results = {v.resource_id: v for v in p.verify(desired, timeout=0.5)}
    bad = [rid for rid, v in results.items() if not v.ok]
    assert bad == ["dns.record/h7.sv.example./A"] and "203.0.113.9" in results[bad[0]].detail
    assert queries and {q[0] for q in queries} == {"h7.sv.example."}  # only the one it did not show


def _inventory(tmp_path: Path, bind: Any, n: int) -> Path:
    provider = doc("Provider", "bind", {
        "type": "rfc2136", "serves": {"types": ["dns.*"], "zones": [Z]},
        "settings": {"server": bind.address, "zone": Z, "tsigKeyName": bind.key_name,
                     "tsigSecret": {"fromEnv": "SV_TEST_TSIG"}, "nameservers": [bind.address]}})
    records = "---\n".join(doc("DnsRecord", f"r{i}", {"zone": Z, "name": f"r{i}", "type": "A",
                                                      "values": [f"198.51.100.{i + 1}"]}) for i in range(n))
    return write(tmp_path / "inv", {"providers.yaml": provider, "dns.yaml": records})


def _workspace(inv: Path, tmp_path: Path) -> Workspace:
    (tmp_path / "state").mkdir(exist_ok=True)
    return Workspace(inv, state_dir=tmp_path / "state")


def test_apply_transfers_the_zone_once_to_plan_and_once_to_verify(
        bind: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SV_TEST_TSIG", bind.secret)
    transfers: list[str] = []
    real = RFC2136Provider._axfr

    def counting(self: RFC2136Provider) -> Any:
        transfers.append(self.name)
        return real(self)

    monkeypatch.setattr(RFC2136Provider, "_axfr", counting)
    ws = _workspace(_inventory(tmp_path, bind, 5), tmp_path)
    try:
        plan = ws.plan()  # outside the lock, as the `dns` one-off verbs plan
        assert len(plan.changes) == 5 and transfers == ["bind"]
        result = apply_plan(ws, plan)
        assert result.applied == 5 and result.verified
        assert transfers == ["bind", "bind"]  # no second AXFR for the re-check; one to verify
    finally:
        ws.close()


def test_a_zone_changed_since_the_plan_is_refused_and_nothing_written(
        bind: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SV_TEST_TSIG", bind.secret)
    ws = _workspace(_inventory(tmp_path, bind, 3), tmp_path)
    try:
        plan = ws.plan()
        upd = _update(bind)
        upd.add("other", 300, "A", "203.0.113.1")  # someone else writes after the plan read the zone
        _send(bind, upd)
        with pytest.raises(StalePlan, match="changed since it was read"):
            apply_plan(ws, plan)
        assert dnsverify.query(bind.address, f"r0.{Z}", "A") == frozenset()  # nothing written
        [refused] = [e for e in ws.state.audit_log(action="apply") if e.result == "refused"]
        assert refused.detail["reason"] == "stale plan"
        result = apply_plan(ws, ws.plan())  # a fresh plan applies
        assert result.applied == 3 and result.verified
    finally:
        ws.close()


def _names(bind: Any) -> dict[str, list[str]]:
    """Every name in the zone -> its types, from a fresh AXFR."""
    import dns.zone

    host, port = bind.address.split(":")
    key = dns.tsig.Key(bind.key_name, bind.secret)
    zone = dns.zone.from_xfr(dns.query.xfr(host, Z, port=int(port), keyring={key.name: key}, keyname=key.name,
                                           relativize=False), relativize=False)
    return {n.to_text().lower(): [dns.rdatatype.to_text(r.rdtype) for r in node.rdatasets]
            for n, node in zone.nodes.items()}


def test_ownership_is_a_registry_of_a_few_record_sets_not_a_marker_per_name(bind: Any, tmp_path: Path) -> None:
    p = _provider(bind, tmp_path)
    desired = [rec(Z, f"h{i}", values=[f"192.0.2.{i % 250 + 1}"]) for i in range(600)]
    apply(p, desired)
    names = _names(bind)
    assert not [n for n in names if n.startswith("_svctl-")]  # no per-name markers
    registry = [n for n in names if n.endswith(f"._svctl.{Z}")]
    assert 0 < len(registry) <= 256 and all(n.endswith(f".streamverse._svctl.{Z}") for n in registry)
    read = {r.id: r for r in _provider(bind, tmp_path).read(["dns.record"])}  # a fresh provider
    assert all(read[r.id].managed for r in desired)
    assert not read[f"dns.record/ns1.{Z}/A"].managed


def test_old_per_name_markers_are_adopted_into_the_registry_by_the_next_apply(bind: Any, tmp_path: Path) -> None:
    upd = _update(bind)  # what an older version wrote: a record and its own marker, lineage L-old
    upd.add("legacy", 300, "A", "198.51.100.9")
    upd.add("_svctl-a.legacy", 300, "TXT", '"sv=1;owner=streamverse;policy=legacy;region=us-east;lineage=L-old"')
    upd.add("theirs", 300, "A", "198.51.100.10")  # another owner's old marker stays theirs
    upd.add("_svctl-a.theirs", 300, "TXT", '"sv=1;owner=team-b;lineage=L-b"')
    _send(bind, upd)
    p = _provider(bind, tmp_path)
    before = {r.id: r for r in p.read(["dns.record"])}
    legacy = before[f"dns.record/legacy.{Z}/A"]
    assert legacy.managed and legacy.owner == "L-old" and legacy.spec["region"] == "us-east"
    assert not before[f"dns.record/theirs.{Z}/A"].managed
    desired = [rec(Z, "legacy", values=["198.51.100.9"], ttl=300, policy="legacy", region="us-east"),
               rec(Z, "new", values=["192.0.2.1"])]
    apply(p, desired)  # creates "new"; moves the old marker into the registry
    names = _names(bind)
    assert f"_svctl-a.legacy.{Z}" not in names and f"_svctl-a.theirs.{Z}" in names
    after = {r.id: r for r in _provider(bind, tmp_path).read(["dns.record"])}
    assert after[f"dns.record/legacy.{Z}/A"].managed and after[f"dns.record/legacy.{Z}/A"].owner == "L-old"
    assert after[f"dns.record/new.{Z}/A"].managed and not after[f"dns.record/theirs.{Z}/A"].managed
