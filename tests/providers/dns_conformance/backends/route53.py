"""The Route 53 back-end on a moto server: out-of-band access through boto3; what is served is the
record sets (moto runs no DNS server)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.providers.base import ProviderContext

from .base import FOREIGN, Backend, Z, fqdn


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
        out: dict[str, float] = {}
        for rr in sets:
            key = region.get(rr["SetIdentifier"], rr["SetIdentifier"])
            out[key] = out.get(key, 0.0) + int(rr["Weight"]) / total
        return out


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
