"""`streamverse ctl` on Route 53 (a real moto server) as an SRE uses it: apply, verify, a one-off
weight change shown as a deliberate override, drift made behind the tool's back, and records the
tool does not own left alone. moto stands in for AWS: it has no DNS server, so verification reads
back through the API, as the provider does against AWS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.servers.inventory import demo_on_route53

pytestmark = [pytest.mark.servers]

SV = str(Path(sys.executable).parent / "streamverse")
ZONE = "sv.example."


@pytest.fixture
def r53(moto: Any) -> tuple[Any, str]:
    client = boto3.client("route53", endpoint_url=moto.url, region_name="us-east-1")
    zone_id = client.create_hosted_zone(Name=ZONE, CallerReference="e2e")["HostedZone"]["Id"].split("/")[-1]
    return client, zone_id


@pytest.fixture
def sv(moto, r53, demo_copy: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    demo_on_route53(demo_copy, ZONE)
    (tmp_path / "state").mkdir()  # an explicit state location must exist
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "STREAMVERSE_INVENTORY": str(demo_copy),
           "AWS_ENDPOINT_URL_ROUTE_53": moto.url, "COLUMNS": "200"}

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                           timeout=180)
        assert p.returncode == code, f"{args}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
        assert "Traceback" not in p.stderr and "testing" not in p.stdout + p.stderr  # the AWS key
        return p

    return run


def _weighted(client: Any, zone_id: str) -> dict[str, dict[str, Any]]:
    pages = client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
    return {rr["SetIdentifier"]: rr for p in pages for rr in p["ResourceRecordSets"]
            if rr["Name"] == f"www.{ZONE}" and "Weight" in rr}


def test_apply_override_drift_and_foreign_records(sv, r53) -> None:  # type: ignore[no-untyped-def]
    client, zone_id = r53
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "CREATE",
        "ResourceRecordSet": {"Name": f"legacy.{ZONE}", "Type": "A", "TTL": 300,
                              "ResourceRecords": [{"Value": "203.0.113.7"}]}}]})
    out = sv("apply", "--yes").stdout
    assert re.search(r"Verified (\d+)/\1 ", out), out
    sv("plan", "--detailed-exitcode")  # converged
    weighted = _weighted(client, zone_id)
    assert {k: v["Weight"] for k, v in weighted.items()} == {
        "us-east": 30, "us-west": 20, "eu-west": 20, "ap-pacific": 15, "sa-east": 8, "me-central": 7}
    assert all(v.get("HealthCheckId") for v in weighted.values())
    assert len(client.list_health_checks()["HealthChecks"]) == 12

    out = sv("dns", "set-weights", "www", "us-east=0", "us-west=50", "--yes", "-m", "drill").stdout
    assert "Applied 2 change(s)" in out
    assert {k: v["Weight"] for k, v in _weighted(client, zone_id).items() if k in ("us-east", "us-west")} == {
        "us-east": 0, "us-west": 50}
    plan = sv("plan", "--detailed-exitcode").stdout
    assert "No changes" in plan and "drill" in plan

    rr = _weighted(client, zone_id)["eu-west"]  # someone edits a weight in the console
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {**rr, "Weight": 99}}]})
    diff = sv("diff", "--detailed-exitcode", "-o", "json", code=2).stdout
    drifted = json.loads(diff)
    assert "eu-west" in json.dumps(drifted) and "weight" in json.dumps(drifted)
    sv("apply", "--yes")
    assert _weighted(client, zone_id)["eu-west"]["Weight"] == 20
    sv("diff", "--detailed-exitcode")

    legacy = [rr for rr in client.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
              if rr["Name"] == f"legacy.{ZONE}"]
    assert legacy and legacy[0]["ResourceRecords"] == [{"Value": "203.0.113.7"}]  # never touched
