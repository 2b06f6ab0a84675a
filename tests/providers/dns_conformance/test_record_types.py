"""DnsRecord kinds through the compiler onto every DNS back-end of the conformance suite (sim, Route 53
on moto, BIND and Knot over RFC 2136, PowerDNS with and without LUA). Each record type is created,
read back with no change planned, verified, updated and deleted; a TXT of more than 255 bytes
round-trips as one text and is served in 255-byte strings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest

from streamverse_ctl.compiler import compile_inventory
from streamverse_ctl.core.resources import Resource
from streamverse_ctl.core.specs import FEATURE_ALIAS
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.providers.base import Provider
from streamverse_ctl.providers.dnsverify import parse_server
from tests.unit.helpers import doc, write

from ..helpers import apply, plan, summary
from .backends import KINDS, Backend, DnsServerBackend, Z

pytestmark = [pytest.mark.servers, pytest.mark.parametrize("backend", KINDS, indirect=True)]
LONG = "v=DKIM1; k=rsa; p=" + "A" * 300  # 319 bytes: two character-strings on the wire
ODD = 'say "hi" \\ bye'


def records(ttl: int = 300, mx2: int = 20, txt: str = LONG, alias: bool = False) -> list[str]:
    out = [
        doc("DnsRecord", "a", {"zone": Z, "name": "a", "type": "A", "ttl": ttl,
                               "values": ["192.0.2.10", "192.0.2.11"]}),
        doc("DnsRecord", "v6", {"zone": Z, "name": "v6", "type": "AAAA", "values": ["2001:DB8:0:0::10"]}),
        doc("DnsRecord", "www2", {"zone": Z, "name": "www2", "type": "CNAME", "values": ["Target.Example.NET"]}),
        doc("DnsRecord", "txt", {"zone": Z, "name": "txt", "type": "TXT", "values": [txt, ODD, "v=spf1 -all"]}),
        doc("DnsRecord", "mx", {"zone": Z, "name": "@", "type": "MX", "values": [
            "10 mx1.example.net.", {"preference": mx2, "exchange": "mx2.example.net"}]}),
        doc("DnsRecord", "sip", {"zone": Z, "name": "_sip._tcp", "type": "SRV", "values": [
            "10 5 5060 sip.example.net.", {"priority": 20, "weight": 0, "port": 5061, "target": "sip2.example.net."}]}),
        doc("DnsRecord", "caa", {"zone": Z, "name": "@", "type": "CAA", "values": [
            '0 issue "letsencrypt.org"', {"flags": 0, "tag": "iodef", "value": "mailto:sec@example.net"}]}),
        doc("DnsRecord", "sub", {"zone": Z, "name": "sub", "type": "NS", "values": ["ns1.example.net.",
                                                                                   "ns2.example.net."]}),
        doc("DnsRecord", "ptr", {"zone": Z, "name": "10.rev", "type": "PTR", "values": ["host.example.net."]}),
    ]
    if alias:
        out.append(doc("DnsRecord", "apex", {"zone": Z, "name": "@", "type": "ALIAS", "values": ["a.sv.example."]}))
    return out


def desired(tmp_path: Path, docs: Sequence[str], name: str = "inv") -> list[Resource]:
    inv = load_inventory(write(tmp_path / name, {"dns.yaml": "---\n".join(docs)}))
    return [r for r in compile_inventory(inv).resources if r.type == "dns.record"]


def _owned(p: Provider) -> dict[str, Mapping[str, Any]]:
    return {r.id: r.spec for r in p.read(["dns.record"]) if r.managed}


def _wire_txt(address: str, fqdn: str) -> list[list[bytes]]:
    host, port = parse_server(address)
    resp = dns.query.tcp(dns.message.make_query(fqdn, "TXT"), host, port=port, timeout=2)
    return sorted([list(rd.strings) for rrset in resp.answer if rrset.rdtype == dns.rdatatype.TXT for rd in rrset])


def test_every_record_type_created_updated_deleted(backend: Backend, tmp_path: Path) -> None:
    p = backend.provider
    alias = FEATURE_ALIAS in backend.capabilities
    want = desired(tmp_path, records(alias=alias))
    assert not p.check([r for r in want]), p.check(want)
    made = apply(p, want)
    assert sorted(c.action for c in made) == ["create"] * len(want)
    assert plan(p, want) == [], "a converged zone plans no change (values read back canonical)"
    owned = _owned(p)
    assert owned["dns.record/txt.sv.example./TXT"]["values"] == sorted(
        ['"v=spf1 -all"', '"say \\"hi\\" \\\\ bye"', f'"{LONG[:255]}" "{LONG[255:]}"'])
    assert owned["dns.record/v6.sv.example./AAAA"]["values"] == ["2001:db8::10"]
    assert owned["dns.record/www2.sv.example./CNAME"]["values"] == ["target.example.net."]
    if backend.serves_dns:  # what the DNS server answers: the long text in 255-byte strings
        assert isinstance(backend, DnsServerBackend)
        wire = _wire_txt(backend.address, "txt.sv.example.")
        assert [LONG[:255].encode(), LONG[255:].encode()] in wire and [ODD.encode()] in wire
    assert not [v for v in p.verify(want, timeout=5) if not v.ok]

    # update: a TTL, an MX preference and the TXT text
    changed = desired(tmp_path, records(ttl=60, mx2=30, txt=LONG + "B", alias=alias), "inv2")
    changes = apply(p, changed)
    assert summary(changes) == [
        ("update", "dns.record/a.sv.example./A", ["ttl"]),
        ("update", "dns.record/sv.example./MX", ["values"]),
        ("update", "dns.record/txt.sv.example./TXT", ["values"]),
    ]
    assert plan(p, changed) == []
    assert _owned(p)["dns.record/sv.example./MX"]["values"] == ["10 mx1.example.net.", "30 mx2.example.net."]

    # delete everything but the A record
    keep = [r for r in changed if r.name == "a.sv.example./A"]
    changes = apply(p, keep)
    assert sorted(c.action for c in changes) == ["delete"] * (len(want) - 1)
    assert plan(p, keep) == []
    assert list(_owned(p)) == ["dns.record/a.sv.example./A"]
