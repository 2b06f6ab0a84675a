"""One back-end per DNS provider for the conformance suite: the provider, plus what a test needs to
do to the real server behind the tool's back (write foreign records, tamper with ours) and to ask
what the server serves (DNS answers, Route 53 record sets, the sim's own store and shares).

Back-ends: ``sim``; ``route53`` (moto server); ``bind`` and ``knot`` (RFC 2136, two real servers);
``pdns`` (PowerDNS without LUA: plain records only) and ``pdns-lua`` (PowerDNS with LUA records).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import dns.zone

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.core.secrets import Secret
from streamverse_ctl.providers.base import Provider, ProviderContext
from streamverse_ctl.providers.dnsverify import parse_server, query

Z = "sv.example."
KINDS = ("sim", "route53", "bind", "knot", "pdns", "pdns-lua")
# the names the suite writes behind the tool's back (and expects to find unchanged afterwards)
FOREIGN = (("legacy", "A", 300, ("198.51.100.7",)), ("api", "TXT", 300, ('"someone else"',)))


def fqdn(label: str) -> str:
    return Z if label in ("", "@") else f"{label}.{Z}"


class Backend:
    """A provider and out-of-band access to the system it manages."""

    kind: str
    provider: Provider
    serves_dns = False  # a real DNS server answers queries (verify asks it)

    @property
    def capabilities(self) -> frozenset[str]:
        """What the provider declares it serves, as configured (PowerDNS: its enabled features)."""
        return frozenset(getattr(self.provider, "enabled_features", self.provider.features))

    def write(self, label: str, rtype: str, ttl: int, values: Sequence[str]) -> None:
        """Create or replace a plain record set directly on the server (not through the tool)."""
        raise NotImplementedError

    def write_foreign(self) -> None:
        for label, rtype, ttl, values in FOREIGN:
            self.write(label, rtype, ttl, values)

    def raw_foreign(self) -> Any:
        """The server's own representation of the foreign records (compared before/after)."""
        return {(lb, t): self.answers(lb, t) for lb, t, _, _ in FOREIGN}

    def answers(self, label: str, rtype: str = "A") -> set[str]:
        """The values the system serves for one plain name and type."""
        raise NotImplementedError

    def set_weights(self, routed: Sequence[Resource], weights: Mapping[str, int]) -> None:
        """Rewrite the weighted sets' weights (set_id -> weight) directly on the server."""
        raise NotImplementedError

    def region_shares(self, label: str, routed: Sequence[Resource]) -> dict[str, float]:
        """Region -> share of the answers the system gives for a weighted name."""
        raise NotImplementedError

    def failover_region(self, label: str, routed: Sequence[Resource]) -> str:
        """The region whose answer a failover name is served with right now."""
        raise NotImplementedError

    def set_primary_values(self, routed: Sequence[Resource], values: Sequence[str]) -> None:
        """Rewrite the answer of a failover pair's PRIMARY directly on the server."""
        raise NotImplementedError

    def write_foreign_weighted(self) -> None:
        """Someone else's weighted name ``cdn`` (10/20), written directly on the server."""
        raise NotImplementedError

    def raw_label(self, label: str) -> Any:
        """Everything the server holds at one name, in its own representation."""
        raise NotImplementedError

    def write_alias(self, label: str, target: str) -> None:
        """Point an A alias at ``target`` directly on the server (ours: tampered; else: foreign)."""
        raise NotImplementedError

    def edit_health_check_path(self, old: str, new: str) -> None:
        """Change a health check's path on the system, wherever the system keeps it (``old`` is a
        token unique to that path): as an operator editing the check by hand would."""
        raise NotImplementedError

    def close(self) -> None:
        self.provider.close()


class SimBackend(Backend):
    kind = "sim"

    def __init__(self, tmp_path: Path) -> None:
        from streamverse_ctl.providers.sim.provider import SimProvider

        self.provider = self.sim = SimProvider("sim", {}, ProviderContext(tmp_path))

    def _put(self, spec: Mapping[str, Any], managed: bool) -> None:
        from streamverse_ctl.providers.dnsrecords import record_name

        with self.sim.store.tx() as db:
            self.sim.store.put(db, "dns.record", record_name(spec), spec, managed=managed)

    def write(self, label: str, rtype: str, ttl: int, values: Sequence[str]) -> None:
        from streamverse_ctl.providers.dnsrecords import normalize_record, record_name

        spec = normalize_record({"zone": Z, "fqdn": fqdn(label), "rtype": rtype, "ttl": ttl, "values": values})
        existing = self.sim.store.get("dns.record", record_name(spec))
        if existing is not None:  # tampering with one of ours: keep everything but the values
            self._put({**existing, "ttl": ttl, "values": sorted(values)}, managed=True)
        else:
            self._put(spec, managed=False)

    def raw_foreign(self) -> Any:
        names = {f"{fqdn(lb)}/{t}" for lb, t, _, _ in FOREIGN}
        return [row for row in self.sim.store.read(["dns.record"]) if row[1] in names]

    def answers(self, label: str, rtype: str = "A") -> set[str]:
        spec = self.sim.store.get("dns.record", f"{fqdn(label)}/{rtype}")
        return set(spec["values"]) if spec else set()

    def set_weights(self, routed: Sequence[Resource], weights: Mapping[str, int]) -> None:
        for r in routed:
            spec = self.sim.store.get(r.type, r.name)
            assert spec is not None
            self._put({**spec, "weight": weights[r.spec["set_id"]]}, managed=True)

    def region_shares(self, label: str, routed: Sequence[Resource]) -> dict[str, float]:
        policy = str(routed[0].spec["policy"])
        return {k: v for k, v in self.sim.shares().get(policy, {}).items() if v}

    def failover_region(self, label: str, routed: Sequence[Resource]) -> str:
        [(region, share)] = self.region_shares(label, routed).items()
        assert share == 1.0
        return region

    def set_primary_values(self, routed: Sequence[Resource], values: Sequence[str]) -> None:
        [primary] = [r for r in routed if r.spec["failover"] == "PRIMARY"]
        spec = self.sim.store.get(primary.type, primary.name)
        assert spec is not None
        self._put({**spec, "values": sorted(values)}, managed=True)

    def write_foreign_weighted(self) -> None:
        from streamverse_ctl.providers.dnsrecords import record_spec

        for i, w in ((1, 10), (2, 20)):
            self._put(record_spec(Z, fqdn("cdn"), "A", 30, [f"198.51.100.{i}"], routing="weighted",
                                  set_id=f"r{i}", weight=w, policy="theirs", region=f"r{i}"), managed=False)

    def raw_label(self, label: str) -> Any:
        return [row for row in self.sim.store.read(["dns.record"]) if row[1].startswith(fqdn(label) + "/")]

    def edit_health_check_path(self, old: str, new: str) -> None:
        [(t, n, spec, managed)] = [row for row in self.sim.store.read(["dns.healthcheck"]) if old in str(row[2])]
        with self.sim.store.tx() as db:
            self.sim.store.put(db, t, n, {**spec, "path": spec["path"].replace(old, new)}, managed=managed)

    def write_alias(self, label: str, target: str) -> None:
        from streamverse_ctl.providers.dnsrecords import record_spec

        existing = self.sim.store.get("dns.record", f"{fqdn(label)}/A")
        if existing is not None:
            self._put({**existing, "values": [f"alias:self:{target}"]}, managed=True)
        else:
            self._put(record_spec(Z, fqdn(label), "A", 0, [f"alias:self:{target}"]), managed=False)


class Route53Backend(Backend):
    kind = "route53"

    def __init__(self, moto: Any, tmp_path: Path) -> None:
        import boto3

        from streamverse_ctl.providers.route53 import Route53Provider

        self.client = boto3.client("route53", endpoint_url=moto.url, region_name="us-east-1")
        self.zone_id = self.client.create_hosted_zone(Name=Z, CallerReference="conformance")[
            "HostedZone"]["Id"].split("/")[-1]
        self.provider = Route53Provider("r53", {"zone": Z, "endpointUrl": moto.url}, ProviderContext(tmp_path))

    def rrsets(self) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=self.zone_id)
        return [rr for p in pages for rr in p["ResourceRecordSets"]]

    def _upsert(self, rrsets: Sequence[Mapping[str, Any]]) -> None:
        self.client.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": dict(rr)} for rr in rrsets]})

    def write(self, label: str, rtype: str, ttl: int, values: Sequence[str]) -> None:
        self._upsert([{"Name": fqdn(label), "Type": rtype, "TTL": ttl,
                       "ResourceRecords": [{"Value": v} for v in values]}])

    def raw_foreign(self) -> Any:
        names = {(fqdn(lb), t) for lb, t, _, _ in FOREIGN}
        return sorted(str(rr) for rr in self.rrsets() if (rr["Name"], rr["Type"]) in names)

    def answers(self, label: str, rtype: str = "A") -> set[str]:
        return {v["Value"] for rr in self.rrsets() if rr["Name"] == fqdn(label) and rr["Type"] == rtype
                and "SetIdentifier" not in rr for v in rr.get("ResourceRecords", [])}

    def _weighted(self, label: str) -> list[dict[str, Any]]:
        return [rr for rr in self.rrsets() if rr["Name"] == fqdn(label) and "Weight" in rr]

    def set_weights(self, routed: Sequence[Resource], weights: Mapping[str, int]) -> None:
        label = routed[0].spec["fqdn"].removesuffix("." + Z)
        self._upsert([{**rr, "Weight": weights[rr["SetIdentifier"]]} for rr in self._weighted(label)])

    def region_shares(self, label: str, routed: Sequence[Resource]) -> dict[str, float]:
        """Route 53 answers by record set weight (moto runs no DNS server): weight / total per set."""
        region = {r.spec["set_id"]: r.spec["region"] for r in routed}
        sets = self._weighted(label)
        total = sum(int(rr["Weight"]) for rr in sets)
        out: Counter[str] = Counter()
        for rr in sets:
            out[region.get(rr["SetIdentifier"], rr["SetIdentifier"])] += int(rr["Weight"]) / total
        return dict(out)


    def failover_region(self, label: str, routed: Sequence[Resource]) -> str:
        """Route 53 answers with the PRIMARY set while its health check passes (moto's always do)."""
        region = {r.spec["set_id"]: str(r.spec["region"]) for r in routed}
        [primary] = [rr for rr in self.rrsets() if rr["Name"] == fqdn(label) and rr.get("Failover") == "PRIMARY"]
        assert primary.get("HealthCheckId"), primary
        return region[primary["SetIdentifier"]]


    def set_primary_values(self, routed: Sequence[Resource], values: Sequence[str]) -> None:
        label = routed[0].spec["fqdn"].removesuffix("." + Z)
        [primary] = [rr for rr in self.rrsets() if rr["Name"] == fqdn(label) and rr.get("Failover") == "PRIMARY"]
        self._upsert([{**primary, "ResourceRecords": [{"Value": v} for v in values]}])

    def write_foreign_weighted(self) -> None:
        self._upsert([{"Name": fqdn("cdn"), "Type": "A", "SetIdentifier": f"r{i}", "Weight": w, "TTL": 30,
                       "ResourceRecords": [{"Value": f"198.51.100.{i}"}]} for i, w in ((1, 10), (2, 20))])

    def raw_label(self, label: str) -> Any:
        return sorted(str(rr) for rr in self.rrsets() if rr["Name"] == fqdn(label))

    def write_alias(self, label: str, target: str) -> None:
        self._upsert([{"Name": fqdn(label), "Type": "A", "AliasTarget": {
            "HostedZoneId": self.zone_id, "DNSName": target, "EvaluateTargetHealth": False}}])

    def edit_health_check_path(self, old: str, new: str) -> None:
        [check] = [h for h in self.client.list_health_checks()["HealthChecks"]
                   if old in h["HealthCheckConfig"].get("ResourcePath", "")]
        self.client.update_health_check(HealthCheckId=check["Id"], ResourcePath=check["HealthCheckConfig"][
            "ResourcePath"].replace(old, new))

    def alias_target(self, label: str) -> str | None:
        """The DNS name Route 53 would answer an alias with (moto runs no DNS server)."""
        found = [rr["AliasTarget"]["DNSName"] for rr in self.rrsets()
                 if rr["Name"] == fqdn(label) and rr["Type"] == "A" and "AliasTarget" in rr]
        return found[0] if found else None


class DnsServerBackend(Backend):
    """A back-end with a real DNS server on loopback: answers are DNS answers."""

    serves_dns = True
    address: str

    def answers(self, label: str, rtype: str = "A") -> set[str]:
        return set(query(self.address, fqdn(label), rtype))

    def region_shares(self, label: str, routed: Sequence[Resource], n: int = 400) -> dict[str, float]:
        region = {v: str(r.spec["region"]) for r in routed for v in r.spec["values"]}
        counts: Counter[str] = Counter()
        for _ in range(n):
            for v in query(self.address, fqdn(label), str(routed[0].spec["rtype"])):
                counts[region.get(v, v)] += 1
        return {k: c / n for k, c in counts.items()}

    def failover_region(self, label: str, routed: Sequence[Resource]) -> str:
        got = self.answers(label, str(routed[0].spec["rtype"]))
        [region] = [str(r.spec["region"]) for r in routed if set(r.spec["values"]) == got] or [f"none: {got}"]
        return region


class RFC2136Backend(DnsServerBackend):
    def __init__(self, kind: str, server: Any, tmp_path: Path) -> None:
        from streamverse_ctl.providers.rfc2136 import RFC2136Provider

        self.kind, self.server, self.address = kind, server, server.address
        self.provider = RFC2136Provider(kind, {
            "server": server.address, "zone": Z, "tsigKeyName": server.key_name,
            "tsigSecret": Secret(server.secret, "env TEST_TSIG"), "nameservers": [server.address],
            "timeout": 2}, ProviderContext(tmp_path))

    def _key(self) -> dns.tsig.Key:
        return dns.tsig.Key(self.server.key_name, self.server.secret)

    def write(self, label: str, rtype: str, ttl: int, values: Sequence[str]) -> None:
        upd = dns.update.UpdateMessage(Z, keyring=self._key(), keyname=self.server.key_name)
        upd.replace(label if label not in ("", "@") else "@", ttl, rtype, *values)
        host, port = parse_server(self.address)
        resp = dns.query.tcp(upd, host, port=port, timeout=2)
        assert resp.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(resp.rcode())

    def set_primary_values(self, routed: Sequence[Resource], values: Sequence[str]) -> None:
        """The published answer of a failover name is the one RRset at the name."""
        spec = routed[0].spec
        self.write(spec["fqdn"].removesuffix("." + Z), spec["rtype"], spec["ttl"], values)

    def _zone(self) -> dns.zone.Zone:
        host, port = parse_server(self.address)
        key = self._key()
        return dns.zone.from_xfr(dns.query.xfr(host, Z, port=port, keyring={key.name: key}, keyname=key.name,
                                               relativize=False, lifetime=5), relativize=False)

    def edit_health_check_path(self, old: str, new: str) -> None:
        """The check lives in TXT records of the zone: rewrite each one holding the path."""
        hits = [(n, rds) for n, rds in self._zone().iterate_rdatasets() if old in rds.to_text()]
        assert hits, f"no record holds {old}"
        for name, rds in hits:
            self.write(name.to_text().removesuffix("." + Z), dns.rdatatype.to_text(rds.rdtype), rds.ttl,
                       [rd.to_text().replace(old, new) for rd in rds])

    def raw_foreign(self) -> Any:
        host, port = parse_server(self.address)
        key = self._key()
        zone = dns.zone.from_xfr(dns.query.xfr(host, Z, port=port, keyring={key.name: key}, keyname=key.name,
                                               relativize=False, lifetime=5), relativize=False)
        names = {(fqdn(lb), t) for lb, t, _, _ in FOREIGN}
        return sorted(f"{n} {rds.ttl} {rds.to_text()}" for n, rds in zone.iterate_rdatasets()
                      if (n.to_text(), dns.rdatatype.to_text(rds.rdtype)) in names)


class PowerDNSBackend(DnsServerBackend):
    def __init__(self, kind: str, pdns: Any, tmp_path: Path) -> None:
        from streamverse_ctl.providers.powerdns import PowerDNSProvider

        self.kind, self.pdns, self.address = kind, pdns, pdns.address
        self.lua = kind == "pdns-lua"
        self.provider = PowerDNSProvider("pdns", {
            "apiUrl": pdns.api_url, "apiKey": Secret(pdns.api_key, "env PDNS_API_KEY"), "zone": Z,
            "luaRecords": self.lua, "nameservers": [pdns.address], "timeout": 2}, ProviderContext(tmp_path))

    def rrsets(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(rr["name"], rr["type"]): rr for rr in self.pdns.api("GET", f"/zones/{Z}")["rrsets"]}

    def _replace(self, name: str, rtype: str, ttl: int, contents: Sequence[str],
                 comments: Sequence[Mapping[str, Any]] | None) -> None:
        rr: dict[str, Any] = {"name": name, "type": rtype, "ttl": ttl, "changetype": "REPLACE",
                              "records": [{"content": c, "disabled": False} for c in contents]}
        if comments is not None:
            rr["comments"] = list(comments)
        self.pdns.api("PATCH", f"/zones/{Z}", {"rrsets": [rr]})

    def write(self, label: str, rtype: str, ttl: int, values: Sequence[str]) -> None:
        existing = self.rrsets().get((fqdn(label), rtype))
        comments = existing["comments"] if existing else [{"content": "managed by hand", "account": "ops"}]
        self._replace(fqdn(label), rtype, ttl, values, comments)

    def write_foreign(self) -> None:
        super().write_foreign()
        if self.lua:  # someone else's LUA record too
            self._replace(fqdn("game"), "LUA", 30, ["A \"pickrandom({'198.51.100.1','198.51.100.2'})\""], None)

    def raw_foreign(self) -> Any:
        names = {(fqdn(lb), t) for lb, t, _, _ in FOREIGN} | {(fqdn("game"), "LUA")}
        return {k: v for k, v in self.rrsets().items() if k in names}

    def set_primary_values(self, routed: Sequence[Resource], values: Sequence[str]) -> None:
        """Edit the LUA code as someone with API access would: the PRIMARY's address replaced."""
        [primary] = [r for r in routed if r.spec["failover"] == "PRIMARY"]
        lua = self.rrsets()[(primary.spec["fqdn"], "LUA")]
        [old] = primary.spec["values"]
        [new] = values
        contents = [r["content"].replace(f"'{old}'", f"'{new}'") for r in lua["records"]]
        assert contents != [r["content"] for r in lua["records"]]
        self._replace(lua["name"], "LUA", lua["ttl"], contents, lua["comments"])

    def write_foreign_weighted(self) -> None:
        self._replace(fqdn("cdn"), "LUA", 30, ["A \"pickwrandom({{10,'198.51.100.1'},{20,'198.51.100.2'}})\""],
                      [{"content": "managed by hand", "account": "ops"}])

    def raw_label(self, label: str) -> Any:
        return {k: v for k, v in self.rrsets().items() if k[0] == fqdn(label)}

    def edit_health_check_path(self, old: str, new: str) -> None:
        """The check lives in a TXT RRset and in the LUA code that embeds its URL: rewrite both."""
        hits = [rr for rr in self.rrsets().values() if old in str(rr["records"])]
        assert hits, f"no RRset holds {old}"
        for rr in hits:
            self._replace(rr["name"], rr["type"], rr["ttl"], [r["content"].replace(old, new) for r in rr["records"]],
                          [{**c, "content": c["content"].replace(old, new)} for c in rr["comments"]])

    def set_weights(self, routed: Sequence[Resource], weights: Mapping[str, int]) -> None:
        """Edit the LUA code as someone with API access would: the same code with other weights."""
        from streamverse_ctl.providers.powerdnslua import lua_content

        lua = self.rrsets()[(routed[0].spec["fqdn"], "LUA")]
        sets = [{**r.spec, "weight": weights[r.spec["set_id"]]} for r in routed]
        content = lua_content(str(routed[0].spec["rtype"]), "weighted", sets, "pickwrandom", lambda _n: None)
        self._replace(lua["name"], "LUA", lua["ttl"], [content], lua["comments"])


def make_backend(kind: str, request: Any, tmp_path: Path) -> Backend:
    if kind == "sim":
        return SimBackend(tmp_path)
    if kind == "route53":
        return Route53Backend(request.getfixturevalue("moto"), tmp_path)
    if kind in ("bind", "knot"):
        return RFC2136Backend(kind, request.getfixturevalue(kind), tmp_path)
    if kind in ("pdns", "pdns-lua"):
        return PowerDNSBackend(kind, request.getfixturevalue("pdns"), tmp_path)
    raise ValueError(kind)
