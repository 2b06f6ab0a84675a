"""`streamverse ctl` on Route 53 (moto): the demo's 12 health checks plus 11 orphans of the tool (a
create whose answer was lost leaves a check with our caller reference that no record uses). The
plan lists their deletes, change-size does not block them (they are the tool's own garbage), and
after apply 12 checks are left (issue 8 item 5.3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.route53 import Route53Provider
from tests.servers.inventory import demo_on_route53

pytestmark = [pytest.mark.servers]

SV = str(Path(sys.executable).parent / "streamverse")
ZONE = "sv.example."


def test_orphan_checks_are_deleted_and_not_blocked_by_change_size(moto: Any, demo_copy: Path,
                                                                  tmp_path: Path) -> None:
    client = boto3.client("route53", endpoint_url=moto.url, region_name="us-east-1")
    zone_id = client.create_hosted_zone(Name=ZONE, CallerReference="e2e")["HostedZone"]["Id"].split("/")[-1]
    demo_on_route53(demo_copy, ZONE)
    (tmp_path / "state").mkdir()  # an explicit state dir must exist (a typo never makes a new store)
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "STREAMVERSE_INVENTORY": str(demo_copy),
           "AWS_ENDPOINT_URL_ROUTE_53": moto.url, "COLUMNS": "200"}

    def sv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                              timeout=180)

    def checks() -> list[str]:
        return [h["Id"] for p in client.get_paginator("list_health_checks").paginate() for h in p["HealthChecks"]]

    assert sv("apply", "--yes").returncode == 0
    assert len(checks()) == 12
    prefix = Route53Provider("r53", {"hostedZoneId": zone_id, "endpointUrl": moto.url},
                             ProviderContext(tmp_path))._caller_prefix()
    orphans = [client.create_health_check(CallerReference=f"{prefix}lost-{i}", HealthCheckConfig={
        "Type": "HTTPS", "IPAddress": "198.51.100.10", "Port": 443, "ResourcePath": "/healthz",
        "RequestInterval": 10, "FailureThreshold": 3})["HealthCheck"]["Id"] for i in range(11)]

    plan = json.loads(sv("plan", "-o", "json").stdout)
    assert sorted(c["id"] for c in plan["changes"]) == sorted(f"dns.healthcheck/route53:{o}" for o in orphans)
    assert {c["action"] for c in plan["changes"]} == {"delete"}
    assert plan["safe"], plan["refusals"]  # 11 of 23 is 48 %, but no record uses them
    p = sv("apply", "--yes")
    assert p.returncode == 0, p.stderr
    left = checks()
    assert len(left) == 12 and not set(left) & set(orphans)
    assert sv("plan", "--detailed-exitcode").returncode == 0
