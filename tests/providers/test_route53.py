"""Route 53 provider against a real moto server (and a fault proxy in front of it)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import boto3
import pytest

from streamverse_ctl.core.errors import ProviderError, StalePlan
from streamverse_ctl.core.resources import Change
from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.route53 import Route53Provider

from .helpers import apply, apply_changes, hc, plan, rec, summary

pytestmark = pytest.mark.servers
Z = "sv.example."


def _client(url: str) -> Any:
    return boto3.client("route53", endpoint_url=url, region_name="us-east-1")


def _zone(url: str) -> str:
    resp = _client(url).create_hosted_zone(Name=Z, CallerReference="test-zone")
    return str(resp["HostedZone"]["Id"].split("/")[-1])


def _provider(url: str, tmp_path: Path, **settings: Any) -> Route53Provider:
    return Route53Provider("r53", {"zone": Z, "endpointUrl": url, **settings}, ProviderContext(tmp_path))


def _all_rrsets(url: str, zone_id: str) -> list[dict[str, Any]]:
    pages = _client(url).get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
    return [rr for p in pages for rr in p["ResourceRecordSets"]]


def _desired() -> list[Any]:
    return [
        hc("www/us-east", "192.0.2.10", region="us-east"),
        hc("www/eu-west", "192.0.2.20", region="eu-west"),
        rec(Z, "www", values=["192.0.2.10"], routing="weighted", set_id="us-east", weight=70,
            health_check="www/us-east", policy="www", region="us-east"),
        rec(Z, "www", values=["192.0.2.20"], routing="weighted", set_id="eu-west", weight=30,
            health_check="www/eu-west", policy="www", region="eu-west"),
        rec(Z, "lat", values=["192.0.2.50"], routing="latency", set_id="us-east", latency_region="us-east-1"),
        rec(Z, "lat", values=["192.0.2.51"], routing="latency", set_id="eu-west", latency_region="eu-west-1"),
        rec(Z, "geo", values=["192.0.2.40"], routing="geo", set_id="eu", geo={"continent": "EU"}),
        rec(Z, "geo", values=["192.0.2.41"], routing="geo", set_id="us-ca", geo={"country": "US",
                                                                                "subdivision": "CA"}),
        rec(Z, "geo", values=["192.0.2.42"], routing="geo", set_id="default", geo={"default": True}),
        rec(Z, "fo", values=["192.0.2.60"], routing="failover", set_id="primary", failover="PRIMARY",
            health_check="www/us-east"),
        rec(Z, "fo", values=["192.0.2.61"], routing="failover", set_id="secondary", failover="SECONDARY"),
        rec(Z, "api", values=["192.0.2.30", "192.0.2.31"], ttl=120),
        rec(Z, "*.img", "CNAME", values=["cdn.example.net."]),
        rec(Z, "txt", "TXT", values=['"v=spf1 -all"', '"hello world"']),
    ]


def test_create_update_delete_converge(moto: Any, tmp_path: Path) -> None:
    zone_id = _zone(moto.url)
    p = _provider(moto.url, tmp_path)
    desired = _desired()
    changes = apply(p, desired)
    assert {c.action for c in changes} == {"create"} and len(changes) == len(desired)
    assert plan(p, desired) == []  # converged: a second read diffs clean, field by field

    # update a weight, a TTL and a health check target (in place: same id)
    hc_ids = {hc_["Id"] for hc_ in _client(moto.url).list_health_checks()["HealthChecks"]}
    desired[2] = rec(Z, "www", values=["192.0.2.10"], routing="weighted", set_id="us-east", weight=10,
                     health_check="www/us-east", policy="www", region="us-east")
    desired[11] = rec(Z, "api", values=["192.0.2.30", "192.0.2.31"], ttl=300)
    desired[0] = hc("www/us-east", "192.0.2.11", port=8080, failure_threshold=5, region="us-east")
    changes = apply(p, desired)
    assert summary(changes) == [
        ("update", "dns.healthcheck/www/us-east", ["failure_threshold", "port", "target"]),
        ("update", "dns.record/api.sv.example./A", ["ttl"]),
        ("update", "dns.record/www.sv.example./A/us-east", ["weight"]),
    ]
    assert plan(p, desired) == []
    assert {h["Id"] for h in _client(moto.url).list_health_checks()["HealthChecks"]} == hc_ids

    # delete everything: records, then health checks; the zone keeps only its NS/SOA
    apply(p, [])
    assert plan(p, []) == []
    assert sorted(rr["Type"] for rr in _all_rrsets(moto.url, zone_id)) == ["NS", "SOA"]
    assert _client(moto.url).list_health_checks()["HealthChecks"] == []


def test_reads_foreign_routing_records_faithfully_and_never_touches_them(moto: Any, tmp_path: Path) -> None:
    zone_id = _zone(moto.url)
    c = _client(moto.url)
    foreign_hc = c.create_health_check(CallerReference="someone-else", HealthCheckConfig={
        "Type": "TCP", "IPAddress": "198.51.100.9", "Port": 443, "RequestInterval": 30, "FailureThreshold": 2,
    })["HealthCheck"]["Id"]
    changes = [{"Action": "CREATE", "ResourceRecordSet": {
        "Name": "cdn.sv.example.", "Type": "A", "SetIdentifier": f"r{i}", "Weight": w, "TTL": 30,
        "ResourceRecords": [{"Value": f"198.51.100.{i}"}], **({"HealthCheckId": foreign_hc} if i == 1 else {}),
    }} for i, w in ((1, 10), (2, 20), (3, 0))]
    changes.append({"Action": "CREATE", "ResourceRecordSet": {
        "Name": "legacy.sv.example.", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "198.51.100.50"}]}})
    c.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    before = sorted(str(rr) for rr in _all_rrsets(moto.url, zone_id))

    p = _provider(moto.url, tmp_path)
    actual = {r.id: r for r in p.read(["dns.record", "dns.healthcheck"])}
    sets = {rid: r for rid, r in actual.items() if rid.startswith("dns.record/cdn.")}
    assert sorted(sets) == [f"dns.record/cdn.sv.example./A/r{i}" for i in (1, 2, 3)]  # never collapsed
    assert all(not r.managed for r in sets.values())
    r1 = sets["dns.record/cdn.sv.example./A/r1"].spec
    assert (r1["routing"], r1["weight"], r1["ttl"], r1["values"]) == ("weighted", 10, 30, ["198.51.100.1"])
    assert r1["health_check"] == f"route53:{foreign_hc}"
    assert sets["dns.record/cdn.sv.example./A/r3"].spec["weight"] == 0
    assert not actual[f"dns.healthcheck/route53:{foreign_hc}"].managed
    assert not actual["dns.record/legacy.sv.example./A"].managed

    # our own sync neither plans deletes of them nor changes them
    desired = _desired()
    changes = plan(p, desired)
    assert all(c.action == "create" for c in changes)
    apply_changes(p, changes)
    apply(p, [])  # and removing all of ours leaves theirs
    assert sorted(str(rr) for rr in _all_rrsets(moto.url, zone_id)) == before
    assert [h["Id"] for h in c.list_health_checks()["HealthChecks"]] == [foreign_hc]


def test_change_behind_the_tools_back_shows_in_read(moto: Any, tmp_path: Path) -> None:
    zone_id = _zone(moto.url)
    p = _provider(moto.url, tmp_path)
    desired = _desired()
    apply(p, desired)
    hc_id = next(h["Id"] for h in _client(moto.url).list_health_checks()["HealthChecks"]
                 if h["HealthCheckConfig"].get("IPAddress") == "192.0.2.10")
    _client(moto.url).change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "www.sv.example.", "Type": "A", "SetIdentifier": "us-east", "Weight": 255, "TTL": 60,
            "ResourceRecords": [{"Value": "192.0.2.10"}], "HealthCheckId": hc_id}},
        {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "api.sv.example.", "Type": "A", "TTL": 120, "ResourceRecords": [{"Value": "203.0.113.66"}]}},
    ]})
    _client(moto.url).update_health_check(HealthCheckId=hc_id, FailureThreshold=9)
    changes = plan(p, desired)
    assert summary(changes) == [
        ("update", "dns.healthcheck/www/us-east", ["failure_threshold"]),
        ("update", "dns.record/api.sv.example./A", ["values"]),
        ("update", "dns.record/www.sv.example./A/us-east", ["weight"]),
    ]
    weight = next(c for c in changes if c.name.endswith("us-east") and c.type == "dns.record").fields[0]
    assert (weight.before, weight.after) == (255, 70)
    apply_changes(p, changes)
    assert plan(p, desired) == []


def test_health_checks_are_tagged_linked_and_replaced_when_immutable_fields_change(moto: Any,
                                                                                   tmp_path: Path) -> None:
    zone_id = _zone(moto.url)
    p = _provider(moto.url, tmp_path, ownerId="team-a")
    desired = _desired()
    apply(p, desired)
    c = _client(moto.url)
    checks = c.list_health_checks()["HealthChecks"]
    tags = {t["ResourceId"]: {x["Key"]: x["Value"] for x in t["Tags"]} for t in c.list_tags_for_resources(
        ResourceType="healthcheck", ResourceIds=[h["Id"] for h in checks])["ResourceTagSets"]}
    by_name = {t["streamverse:name"]: hid for hid, t in tags.items()}
    assert set(by_name) == {"www/us-east", "www/eu-west"}
    assert all(t["streamverse:owner"] == "team-a" and t["streamverse:policy"] == "www" for t in tags.values())
    rrs = {(rr["Name"], rr.get("SetIdentifier")): rr for rr in _all_rrsets(moto.url, zone_id)}
    assert rrs[("www.sv.example.", "us-east")]["HealthCheckId"] == by_name["www/us-east"]
    assert rrs[("fo.sv.example.", "primary")]["HealthCheckId"] == by_name["www/us-east"]

    # HTTP -> HTTPS and 10 s -> 30 s cannot be updated in Route 53: replaced, records moved along
    desired[0] = hc("www/us-east", "192.0.2.10", protocol="HTTPS", port=443, interval=30, region="us-east")
    apply(p, desired)
    assert plan(p, desired) == []
    ids = {h["Id"] for h in c.list_health_checks()["HealthChecks"]}
    assert by_name["www/us-east"] not in ids and len(ids) == 2
    rrs = {(rr["Name"], rr.get("SetIdentifier")): rr for rr in _all_rrsets(moto.url, zone_id)}
    new_id = rrs[("www.sv.example.", "us-east")]["HealthCheckId"]
    assert new_id in ids and rrs[("fo.sv.example.", "primary")]["HealthCheckId"] == new_id

    # another owner sharing the account and zone sees ours as unmanaged
    other = _provider(moto.url, tmp_path, ownerId="team-b")
    assert not any(r.managed for r in other.read(["dns.record", "dns.healthcheck"]))
    [takeover] = plan(other, [desired[11]])
    assert takeover.action == "update" and "takes over" in takeover.reason
    apply_changes(other, [takeover])
    assert [r.id for r in other.read(["dns.record"]) if r.managed] == [desired[11].id]
    assert desired[11].id not in [r.id for r in p.read(["dns.record"]) if r.managed]


def test_thousands_of_records_respect_batch_limits_and_pagination(moto: Any, tmp_path: Path) -> None:
    _zone(moto.url)
    p = _provider(moto.url, tmp_path)
    batches: list[dict[str, Any]] = []
    p.client.meta.events.register("provide-client-params.route53.ChangeResourceRecordSets",
                                  lambda params, **_: batches.append(params["ChangeBatch"]))
    n = 1200
    desired = [rec(Z, f"h{i:05d}", values=[f"10.{i // 250}.{i % 250}.1"]) for i in range(n)]
    desired += [rec(Z, f"t{i:02d}", "TXT", values=[f'"{i:02d}{"x" * 250}"' for _ in range(1)] +
                    [f'"{j}{"y" * 250}"' for j in range(9)]) for i in range(30)]  # 30 x 10 long values
    p.api_calls.clear()
    apply(p, desired)

    def cost(batch: dict[str, Any]) -> tuple[int, int]:
        recs = chars = 0
        for ch in batch["Changes"]:
            mult = 2 if ch["Action"] == "UPSERT" else 1
            values = [v["Value"] for v in ch["ResourceRecordSet"].get("ResourceRecords", [])]
            recs += mult * len(values)
            chars += mult * sum(len(v) for v in values)
        return recs, chars

    costs = [cost(b) for b in batches]
    assert all(r <= 1000 and ch <= 32000 for r, ch in costs), costs
    total_r = sum(r for r, _ in costs)
    total_c = sum(ch for _, ch in costs)
    registry_writes = [ch for b in batches for ch in b["Changes"]
                       if ch["ResourceRecordSet"]["Name"].endswith("._svctl.sv.example.")]
    assert total_r - sum(cost({"Changes": [ch]})[0] for ch in registry_writes) == n + 30 * 10  # the records
    # ownership costs at most one registry shard per 256th of the names, each written about once
    shards = {ch["ResourceRecordSet"]["Name"] for ch in registry_writes}
    assert len(shards) <= 256 and len(registry_writes) <= len(shards) + len(batches)
    # packed close to the minimum the limits allow (groups of one name are never split)
    assert len(batches) <= max(math.ceil(total_r / 1000), math.ceil(total_c / 32000)) + 1
    assert p.api_calls["ChangeResourceRecordSets"] == len(batches)

    # a full read pages through everything (300 per page) and converges
    p.api_calls.clear()
    actual = p.read(["dns.record"])
    assert len([r for r in actual if r.managed]) == n + 30
    assert p.api_calls["ListResourceRecordSets"] == math.ceil((n + 30 + len(shards) + 2) / 300)
    assert plan(p, desired) == []

    # a 10 % change goes out as UPSERTs only (no registry rewrites), still within limits
    batches.clear()
    changed = [rec(Z, f"h{i:05d}", values=["192.0.2.99"]) if i % 10 == 0 else r for i, r in enumerate(desired[:n])]
    apply(p, changed + desired[n:])
    assert {ch["Action"] for b in batches for ch in b["Changes"]} == {"UPSERT"}
    assert sum(len(b["Changes"]) for b in batches) == n // 10
    assert all(r <= 1000 and ch <= 32000 for r, ch in (cost(b) for b in batches))


def test_throttling_and_5xx_are_absorbed_by_retries(moto: Any, tmp_path: Path, fault_proxy: Any) -> None:
    _zone(moto.url)
    proxy = fault_proxy(moto.port)
    p = _provider(proxy.url, tmp_path, maxAttempts=2)
    proxy.throttle(3)  # botocore retries 2x, then our TemporaryError retry takes over
    desired = _desired()
    apply(p, desired)
    assert proxy.injected == 3
    proxy.drop_connections()
    proxy.http_errors(2, status=503)
    assert plan(p, desired) == []
    assert proxy.injected == 5


def test_unreachable_api_is_a_clear_error_and_writes_nothing(moto: Any, tmp_path: Path, fault_proxy: Any) -> None:
    zone_id = _zone(moto.url)
    proxy = fault_proxy(moto.port)
    p = _provider(proxy.url, tmp_path, hostedZoneId=zone_id, maxAttempts=1, retries=2, connectTimeout=1)
    desired = _desired()[2:]
    changes = [Change("create", r.type, r.name, "r53", None, dict(r.spec)) for r in desired
               if not r.spec.get("health_check")]
    proxy.set_mode("reset")
    with pytest.raises(ProviderError) as err:
        p.apply(changes)
    msg = str(err.value)
    assert "r53" in msg and proxy.url in msg and "cannot reach" in msg
    assert sorted(rr["Type"] for rr in _all_rrsets(moto.url, zone_id)) == ["NS", "SOA"]


def test_endpoint_from_environment_and_verify_through_the_api(moto: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _zone(moto.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", moto.url)
    p = Route53Provider("r53", {"zone": Z, "waitInsync": True}, ProviderContext(tmp_path))
    desired = _desired()
    apply(p, desired)
    results = p.verify(desired, timeout=5)
    assert len(results) == len(desired) and all(v.ok for v in results), [v for v in results if not v.ok]
    assert p.api_calls["GetChange"] >= 1
    bad = rec(Z, "api", values=["192.0.2.1"], ttl=120)
    [res] = p.verify([bad], timeout=0.1)
    assert not res.ok and "differs" in res.detail


def test_a_retried_batch_that_had_landed_is_recognised(moto: Any, tmp_path: Path) -> None:
    _zone(moto.url)
    p = _provider(moto.url, tmp_path)
    desired = [rec(Z, "a", values=["192.0.2.1"]), rec(Z, "b", values=["192.0.2.2"])]
    changes = plan(p, desired)
    p.apply(changes)
    p.apply(changes)  # as if botocore retried after a timeout although the first attempt landed
    assert plan(p, desired) == []
    clash = [Change("create", "dns.record", desired[0].name, "r53", None,
                    {**desired[0].spec, "values": ["203.0.113.9"]})]
    with pytest.raises(StalePlan, match=r"(?s)a.sv.example. A: created by someone else.*already exists"):
        p.apply([*clash, *changes])  # what exists differs: a real conflict, refused as a stale plan


def test_plan_reads_ownership_from_the_zone_without_per_check_tag_lookups(moto: Any, tmp_path: Path) -> None:
    zone_id = _zone(moto.url)
    p = _provider(moto.url, tmp_path)
    desired = _desired()
    apply(p, desired)
    rrsets = _all_rrsets(moto.url, zone_id)
    registry = [rr for rr in rrsets if rr["Name"].endswith("._svctl.sv.example.")]
    records = [rr for rr in rrsets if rr not in registry and rr["Type"] not in ("NS", "SOA")]
    assert len(records) == len(desired) - 2 and 1 <= len(registry) <= 12  # a shard per name/type at most

    fresh = _provider(moto.url, tmp_path)  # a new process: nothing cached
    assert plan(fresh, desired) == []
    assert dict(fresh.api_calls) == {"ListResourceRecordSets": 1, "ListHealthChecks": 1, "ListHostedZonesByName": 1}


def test_crash_leftovers_are_recognised(moto: Any, tmp_path: Path) -> None:
    """A check created but never tagged is deleted; one tagged but not yet used is kept, not re-created."""
    _zone(moto.url)
    p = _provider(moto.url, tmp_path)
    desired = _desired()
    c = _client(moto.url)
    untagged = c.create_health_check(CallerReference=p._caller_prefix() + "crash-before-tag", HealthCheckConfig={
        "Type": "TCP", "IPAddress": "192.0.2.99", "Port": 443, "RequestInterval": 30, "FailureThreshold": 3,
    })["HealthCheck"]["Id"]
    apply_changes(p, [ch for ch in plan(p, desired) if ch.type == "dns.healthcheck" and ch.action == "create"])

    fresh = _provider(moto.url, tmp_path)
    changes = plan(fresh, desired)
    assert ("delete", f"dns.healthcheck/route53:{untagged}") in [(ch.action, ch.id) for ch in changes]
    assert not [ch for ch in changes if ch.type == "dns.healthcheck" and ch.action == "create"]
    assert fresh.api_calls["ListTagsForResources"] == 1  # only the checks no record names yet
    apply_changes(fresh, changes)
    assert plan(_provider(moto.url, tmp_path), desired) == []
    assert untagged not in {h["Id"] for h in c.list_health_checks()["HealthChecks"]}


def test_a_record_deleted_behind_the_tools_back_is_recreated_and_its_entry_kept_tidy(moto: Any,
                                                                                     tmp_path: Path) -> None:
    zone_id = _zone(moto.url)
    p = _provider(moto.url, tmp_path)
    desired = [rec(Z, "a", values=["192.0.2.1"]), rec(Z, "b", values=["192.0.2.2"])]
    apply(p, desired)
    _client(moto.url).change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "DELETE", "ResourceRecordSet": {"Name": "a.sv.example.", "Type": "A", "TTL": 60,
                                                   "ResourceRecords": [{"Value": "192.0.2.1"}]}}]})
    assert [(ch.action, ch.id) for ch in plan(p, desired)] == [("create", "dns.record/a.sv.example./A")]
    apply(p, desired[1:])  # dropped from the inventory instead: its stale entry is no longer claimed
    apply(p, [])
    assert sorted(rr["Type"] for rr in _all_rrsets(moto.url, zone_id)) == ["NS", "SOA"]  # no registry left
