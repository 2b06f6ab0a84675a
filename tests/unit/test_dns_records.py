"""DnsRecord: per-type validation (file, line, field, all at once), canonical values, and what a
one-region TrafficPolicy compiles to."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamverse_ctl.compiler import compile_inventory
from streamverse_ctl.compiler.dnsrecord import plain_spec
from streamverse_ctl.compiler.dnszone import dump_zone
from streamverse_ctl.core.errors import InputError
from streamverse_ctl.core.resources import Resource
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.inventory.dnsvalues import canonical, from_inventory, plain_text

from .helpers import REGIONS, doc, write

Z = "example.test."

BAD = f"""\
apiVersion: streamverse.io/v1
kind: DnsRecord
metadata: {{name: mail}}
spec:
  zone: {Z}
  name: "@"
  type: MX
  values:
    - mx1.example.net.
    - {{preference: 70000, exchange: mx2.example.net.}}
---
apiVersion: streamverse.io/v1
kind: DnsRecord
metadata: {{name: www-alias}}
spec:
  zone: {Z}
  name: www
  type: CNAME
  values: [edge.example.net.]
---
apiVersion: streamverse.io/v1
kind: DnsRecord
metadata: {{name: docs}}
spec:
  zone: {Z}
  name: docs
  type: CNAME
  values: [a.example.net.]
---
apiVersion: streamverse.io/v1
kind: DnsRecord
metadata: {{name: docs-txt}}
spec:
  zone: {Z}
  name: docs
  type: TXT
  values: [hello]
---
apiVersion: streamverse.io/v1
kind: DnsRecord
metadata: {{name: sip}}
spec:
  zone: {Z}
  name: _sip._tcp
  type: SRV
  values: ["10 5 sip.example.net."]
---
apiVersion: streamverse.io/v1
kind: DnsRecord
metadata: {{name: caa}}
spec:
  zone: {Z}
  name: "@"
  type: CAA
  values: [{{flags: 0, tag: "is sue", value: ca.example}}]
"""


def _weighted_www() -> str:
    return doc("TrafficPolicy", "www", {"zone": Z, "record": "www", "type": "A", "routing": "weighted",
                                        "weights": {"r1": 50, "r2": 50}})


def test_every_problem_at_once_with_file_line_and_field(tmp_path: Path) -> None:
    inv = write(tmp_path / "inv", {"regions.yaml": REGIONS, "dns.yaml": _weighted_www(), "records.yaml": BAD})
    with pytest.raises(InputError) as err:
        load_inventory(inv)
    got = {(Path(p.file).name, p.line, p.document, p.field): p.message for p in err.value.problems}
    keys = set(got)
    assert ("records.yaml", 9, "DnsRecord/mail", "spec.values.0") in keys  # no preference
    assert "needs a preference and a mail host" in got[("records.yaml", 9, "DnsRecord/mail", "spec.values.0")]
    assert ("records.yaml", 10, "DnsRecord/mail", "spec.values.1.preference") in keys  # 70000
    # a CNAME stands alone: against a TrafficPolicy's name, and against a TXT at the same name (both sides)
    assert any(k[2] == "DnsRecord/www-alias" and k[3] == "spec.name" and k[1] == 17 for k in keys)
    assert any(k[2] == "TrafficPolicy/www" and k[3] == "spec.record" for k in keys)
    assert "stands alone" in next(m for k, m in got.items() if k[2] == "DnsRecord/www-alias")
    assert any(k[2] == "DnsRecord/docs" and k[3] == "spec.name" for k in keys)
    assert any(k[2] == "DnsRecord/docs-txt" and k[3] == "spec.name" for k in keys)
    assert any(k[2] == "DnsRecord/sip" and k[3] == "spec.values.0" for k in keys)
    assert any(k[2] == "DnsRecord/caa" and k[3] == "spec.values.0.tag" for k in keys)
    assert len(err.value.problems) == 8, "\n".join(map(str, err.value.problems))


def test_a_dns_only_inventory_needs_no_region(tmp_path: Path) -> None:
    inv = write(tmp_path / "inv", {"dns.yaml": doc("DnsRecord", "a", {"zone": Z, "name": "a", "type": "A",
                                                                        "values": ["192.0.2.1"]})})
    compiled = compile_inventory(load_inventory(inv))
    (r,) = compiled.resources
    assert r.id == "dns.record/a.example.test./A" and r.spec["routing"] == "simple" and r.spec["ttl"] == 300


def test_a_one_region_policy_is_a_plain_record(tmp_path: Path) -> None:
    one = doc("TrafficPolicy", "api", {"zone": Z, "record": "api", "routing": "weighted", "weights": {"r1": 100}})
    two = _weighted_www()
    compiled = compile_inventory(load_inventory(write(tmp_path / "inv", {"regions.yaml": REGIONS,
                                                                          "dns.yaml": one + "---\n" + two})))
    recs = {r.id: r for r in compiled.resources if r.type == "dns.record"}
    api = recs["dns.record/api.example.test./A"]
    assert api.spec["routing"] == "simple" and api.spec["set_id"] is None and api.requires == ()
    assert api.spec["policy"] == "api" and api.spec["region"] == "r1" and api.spec["values"] == ["192.0.2.1"]
    assert {"dns.record/www.example.test./A/r1", "dns.record/www.example.test./A/r2"} <= set(recs)


@pytest.mark.parametrize("rtype, given, canon", [
    ("A", " 192.0.2.1 ", "192.0.2.1"),
    ("AAAA", "2001:DB8:0::1", "2001:db8::1"),
    ("CNAME", "Edge.Example.NET", "edge.example.net."),
    ("MX", "10   Mail.example.com", "10 mail.example.com."),
    ("MX", {"preference": 0, "exchange": "."}, "0 ."),
    ("SRV", "1 2 443 t.example.", "1 2 443 t.example."),
    ("CAA", '128 ISSUE "ca.example; a=b"', '128 issue "ca.example; a=b"'),
    ("TXT", "x" * 256, '"' + "x" * 255 + '" "x"'),
    ("TXT", 'a "q" \\ é', '"a \\"q\\" \\\\ \\195\\169"'),
])
def test_canonical_values(rtype: str, given: object, canon: str) -> None:
    assert from_inventory(rtype, given) == canon
    assert canonical(rtype, canon) == canon  # what a server returns reads back the same


def test_txt_keeps_its_blanks(tmp_path: Path) -> None:
    inv = write(tmp_path / "inv", {"dns.yaml": doc("DnsRecord", "t", {"zone": Z, "name": "t", "type": "TXT",
                                                                        "values": ["  padded  "]})})
    (r,) = compile_inventory(load_inventory(inv)).resources
    assert r.spec["values"] == ['"  padded  "']


def test_txt_split_elsewhere_reads_as_the_same_text() -> None:
    assert canonical("TXT", '"abc" "def"') == '"abcdef"'
    assert plain_text("TXT", from_inventory("TXT", 'a "q" é' * 80)) == 'a "q" é' * 80


def _actual(fqdn: str, rtype: str, values: list[str], **kw: object) -> Resource:
    spec = {**plain_spec(Z, fqdn, rtype, 60, values), **kw}
    name = f"{fqdn}/{rtype}" + (f"/{kw['set_id']}" if kw.get("set_id") else "")
    return Resource("dns.record", name, spec, "p", managed=False)


def test_dump_leaves_out_what_it_cannot_recognise_and_says_why() -> None:
    recs = [
        _actual(Z, "SOA", ["ns1. host. 1 2 3 4 5"]), _actual(Z, "NS", ["ns1.example.net."]),
        _actual(f"w.{Z}", "A", ["192.0.2.1"], routing="weighted", set_id="blue", weight=1),
        _actual(f"w.{Z}", "A", ["192.0.2.2"], routing="weighted", set_id="green", weight=1),
        _actual(f"e.{Z}", "A", [f"alias:self:w.{Z}:evaluate"]),
        _actual(f"l.{Z}", "LUA", ["A \"pickrandom({'192.0.2.1'})\""]),
        _actual(f"ok.{Z}", "A", ["192.0.2.3"]),
    ]
    dumped = dump_zone(recs, Z, regions=["r1"])
    assert [d["metadata"]["name"] for d in dumped.documents] == ["ok-a"]
    notes = "\n".join(dumped.notes)
    assert "blue, green are not Regions" in notes and "evaluates target health" in notes and "LUA" in notes
    assert "SOA" not in notes  # the zone's own SOA and apex NS are skipped silently


def test_a_dns_record_and_a_policy_may_not_declare_the_same_name_and_type(tmp_path: Path) -> None:
    clash = doc("DnsRecord", "www", {"zone": Z, "name": "www", "type": "A", "values": ["192.0.2.9"]})
    inv = write(tmp_path / "inv", {"regions.yaml": REGIONS, "dns.yaml": _weighted_www() + "---\n" + clash})
    with pytest.raises(InputError) as err:
        load_inventory(inv)
    assert sorted(p.document for p in err.value.problems) == ["DnsRecord/www", "TrafficPolicy/www"]
    assert all("one name and type belongs to one document" in p.message for p in err.value.problems)
