"""``dns dump`` and ``dns compare`` as a team moving a zone under management uses them, on real
servers: BIND (RFC 2136), PowerDNS (no LUA) and Route 53 (moto) seeded with records the tool did
not create. The dumped inventory plans nothing but the takeover, which only ``--force adopt``
applies; after it the plan is empty. Compare finds a difference seeded between BIND and PowerDNS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dns.query
import dns.rcode
import dns.tsig
import dns.update
import pytest
import yaml

from tests.unit.helpers import REGIONS, write

pytestmark = [pytest.mark.servers]

SV = str(Path(sys.executable).parent / "streamverse")
Z = "sv.example."
LONG = "v=DKIM1; k=rsa; p=" + "B" * 300
SEED: list[tuple[str, str, int, list[str]]] = [  # name, type, ttl, values in presentation form
    ("a", "A", 300, ["192.0.2.10", "192.0.2.11"]),
    ("v6", "AAAA", 300, ["2001:db8::10"]),
    ("www2", "CNAME", 600, ["target.example.net."]),
    ("txt", "TXT", 300, [f'"{LONG[:200]}" "{LONG[200:]}"', '"v=spf1 -all"']),  # split elsewhere than 255
    ("@", "MX", 3600, ["10 mx1.example.net.", "20 mx2.example.net."]),
    ("_sip._tcp", "SRV", 300, ["10 5 5060 sip.example.net."]),
    ("@", "CAA", 300, ['0 issue "letsencrypt.org"']),
    ("sub", "NS", 300, ["ns1.example.net."]),
    ("ptr", "PTR", 300, ["host.example.net."]),
]


def fqdn(name: str) -> str:
    return Z if name == "@" else f"{name}.{Z}"


def seed_bind(bind: Any, records: list[tuple[str, str, int, list[str]]] = SEED) -> None:
    upd = dns.update.UpdateMessage(Z, keyring=dns.tsig.Key(bind.key_name, bind.secret), keyname=bind.key_name)
    for name, rtype, ttl, values in records:
        for v in values:
            upd.add(fqdn(name), ttl, rtype, v)
    host, port = bind.address.split(":")
    assert dns.query.tcp(upd, host, port=int(port), timeout=2).rcode() == dns.rcode.NOERROR


def seed_pdns(pdns: Any, records: list[tuple[str, str, int, list[str]]] = SEED) -> None:
    pdns.api("PATCH", f"/zones/{Z}", {"rrsets": [
        {"name": fqdn(n), "type": t, "ttl": ttl, "changetype": "REPLACE",
         "records": [{"content": v, "disabled": False} for v in values]} for n, t, ttl, values in records]})


def seed_route53(moto: Any) -> None:
    import boto3

    client = boto3.client("route53", endpoint_url=moto.url, region_name="us-east-1")
    zone_id = client.create_hosted_zone(Name=Z, CallerReference="dump")["HostedZone"]["Id"].split("/")[-1]
    changes: list[dict[str, Any]] = [
        {"Action": "CREATE", "ResourceRecordSet": {"Name": fqdn(n), "Type": t, "TTL": ttl,
                                                   "ResourceRecords": [{"Value": v} for v in values]}}
        for n, t, ttl, values in SEED]
    changes += [  # a weighted set on the inventory's regions, an alias at the apex, a latency set
        {"Action": "CREATE", "ResourceRecordSet": {"Name": fqdn("www"), "Type": "A", "TTL": 60, "SetIdentifier": r,
                                                   "Weight": w, "ResourceRecords": [{"Value": ip}]}}
        for r, w, ip in (("r1", 70, "192.0.2.1"), ("r2", 30, "192.0.2.2"))]
    changes.append({"Action": "CREATE", "ResourceRecordSet": {
        "Name": Z, "Type": "A", "AliasTarget": {"HostedZoneId": zone_id, "DNSName": fqdn("a"),
                                                "EvaluateTargetHealth": False}}})
    changes.append({"Action": "CREATE", "ResourceRecordSet": {
        "Name": fqdn("lat"), "Type": "A", "TTL": 60, "SetIdentifier": "east", "Region": "us-east-1",
        "ResourceRecords": [{"Value": "192.0.2.9"}]}})
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})


def provider_doc(name: str, ptype: str, settings: dict[str, Any]) -> str:
    return yaml.safe_dump({"apiVersion": "streamverse.io/v1", "kind": "Provider", "metadata": {"name": name},
                           "spec": {"type": ptype, "serves": {"types": ["dns.*"], "zones": [Z]},
                                    "settings": settings}}, sort_keys=False)


SIM = provider_doc("sim", "sim", {}).replace("types:\n    - dns.*\n    zones:\n    - sv.example.",
                                             "types:\n    - platform.*")


def bind_settings(bind: Any) -> dict[str, Any]:
    return {"server": bind.address, "zone": Z, "tsigKeyName": bind.key_name, "tsigSecret": {"fromEnv": "TSIG"},
            "nameservers": [bind.address]}


def pdns_settings(pdns: Any) -> dict[str, Any]:
    return {"apiUrl": pdns.api_url, "apiKey": {"fromEnv": "PDNS_API_KEY"}, "zone": Z, "luaRecords": False,
            "nameservers": [pdns.address]}


Run = Callable[..., subprocess.CompletedProcess[str]]


def runner(inv: Path, tmp_path: Path, **env: str) -> Run:
    (tmp_path / "state").mkdir(exist_ok=True)
    base = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "STREAMVERSE_INVENTORY": str(inv),
            "COLUMNS": "200", **env}

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env=base, stdin=subprocess.DEVNULL,
                           timeout=120)
        assert p.returncode == code, f"{args}: exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        assert "Traceback" not in p.stderr
        return p
    return run


@pytest.fixture(params=["bind", "pdns", "route53"])
def zone_with_foreign_records(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Run]:
    kind = request.param
    if kind == "bind":
        server = request.getfixturevalue("bind")
        seed_bind(server)
        doc, env = provider_doc("dns", "rfc2136", bind_settings(server)), {"TSIG": server.secret}
    elif kind == "pdns":
        server = request.getfixturevalue("pdns")
        seed_pdns(server)
        doc, env = provider_doc("dns", "powerdns", pdns_settings(server)), {"PDNS_API_KEY": server.api_key}
    else:
        server = request.getfixturevalue("moto")
        seed_route53(server)
        doc, env = provider_doc("dns", "route53", {"zone": Z}), {"AWS_ENDPOINT_URL_ROUTE_53": server.url}
    inv = write(tmp_path / "inv", {"providers.yaml": doc + "---\n" + SIM, "regions.yaml": REGIONS})
    run = runner(inv, tmp_path, **env)
    run("apply", "--yes")  # the regions on the sim; the zone's records are not the tool's: untouched
    return kind, run


def test_dump_then_adopt_then_plan_shows_no_changes(zone_with_foreign_records: tuple[str, Run],
                                                     tmp_path: Path) -> None:
    kind, run = zone_with_foreign_records
    printed = run("dns", "dump", Z, "--provider", "dns")
    docs = [d for d in yaml.safe_load_all(printed.stdout) if d]
    by_name = {d["metadata"]["name"]: d for d in docs}
    assert by_name["txt-txt"]["spec"]["values"] == sorted([LONG, "v=spf1 -all"])  # one text, not two strings
    assert by_name["apex-mx"]["spec"] == {"zone": Z, "name": "@", "type": "MX", "ttl": 3600,
                                          "values": ["10 mx1.example.net.", "20 mx2.example.net."]}
    assert all(d["spec"]["type"] != "SOA" for d in docs)
    if kind == "route53":
        assert by_name["www"]["kind"] == "TrafficPolicy" and by_name["www"]["spec"]["weights"] == {"r1": 70, "r2": 30}
        assert by_name["apex-a"]["spec"] == {"zone": Z, "name": "@", "type": "ALIAS", "values": [fqdn("a")]}
        assert "lat.sv.example. A: latency routing is not recognised" in printed.stderr

    run("dns", "dump", Z, "--provider", "dns", "--out", str(tmp_path / "inv"))
    plan = json.loads(run("plan", "-o", "json").stdout)
    assert plan["changes"] and all(c["action"] == "update" and c["reason"].startswith("takes over")
                                   for c in plan["changes"]), plan["changes"]
    assert {f["path"] for c in plan["changes"] for f in c["fields"]} <= {"policy", "region"}
    assert [r["name"] for r in plan["refusals"]] == ["adopt"] * len(plan["changes"])

    refused = run("apply", "--yes", code=3)
    assert "adopt" in refused.stdout + refused.stderr
    run("apply", "--yes", "--force", "adopt")
    after = json.loads(run("plan", "-o", "json").stdout)
    assert after["changes"] == [] and after["refusals"] == []
    if kind == "route53":
        assert "dns.record/lat.sv.example./A/east" in after["unmanaged"]  # left out, left alone


def test_compare_bind_and_powerdns_finds_the_seeded_difference(bind: Any, pdns: Any, tmp_path: Path) -> None:
    seed_bind(bind)
    seed_pdns(pdns, [r for r in SEED if r[0] != "ptr"] + [("ns1", "A", 300, ["127.0.0.1"])])
    seed_pdns(pdns, [("txt", "TXT", 300, [f'"{LONG}"', '"v=spf1 ~all"'])])  # same long text, one other value
    inv = write(tmp_path / "inv", {"providers.yaml": provider_doc("bind", "rfc2136", bind_settings(bind)) + "---\n"
                                   + provider_doc("pdns", "powerdns", pdns_settings(pdns))})
    run = runner(inv, tmp_path, TSIG=bind.secret, PDNS_API_KEY=pdns.api_key)
    got = json.loads(run("dns", "compare", Z, "--provider", "bind", "--provider", "pdns", "-o", "json",
                         code=2).stdout)
    assert got["same"] is False
    diffs = {(d["name"], d["type"]): d for d in got["differences"]}
    assert set(diffs) == {("ptr", "PTR"), ("txt", "TXT")}, diffs
    assert diffs[("ptr", "PTR")]["status"] == "only in bind"
    assert diffs[("txt", "TXT")]["status"] == "differs" and list(diffs[("txt", "TXT")]["fields"]) == ["values"]
    table = run("dns", "compare", Z, "-p", "bind", "-p", "pdns", code=2).stdout
    assert "only in bind" in table and "differs" in table

    seed_pdns(pdns, [r for r in SEED if r[0] in ("ptr", "txt")])
    same = yaml.safe_load(run("dns", "compare", Z, "-p", "bind", "-p", "pdns", "-o", "yaml").stdout)
    assert same == {"zone": Z, "providers": ["bind", "pdns"], "same": True, "differences": []}
