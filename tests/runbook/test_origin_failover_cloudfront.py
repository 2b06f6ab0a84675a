"""origin-failover on CloudFront (a real moto server): the distribution's default origin, and a behaviour
pinned to the lost origin, move to the backup region's origin, through plan, guardrails and apply; the
failback puts the inventory's origins back. The PoPs are on the sim platform here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from .conftest import CLI

pytestmark = pytest.mark.servers

CDN = """\
apiVersion: streamverse.io/v1
kind: CdnDistribution
metadata: {{name: backup-cdn}}
spec:
  origins:
    - {{id: origin-us-west, domainName: origin-west.streamverse.example, region: us-west}}
    - {{id: origin-us-east, domainName: origin-east.streamverse.example, region: us-east}}
  defaultTtl: 3600
  cacheBehaviors: [{{pathPattern: "/live/*", ttl: 2, origin: origin-us-west}}, {{pathPattern: "*.ts", ttl: 3600}}]
  comment: backup CDN
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: cloudfront}}
spec:
  type: cloudfront
  serves: {{types: ["cdn.distribution"]}}
  settings: {{endpointUrl: "{url}", waitDeployed: true, pollInterval: 0.05}}
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: sim}}
spec:
  type: sim
  serves: {{types: ["*"]}}
"""


def _origins(url: str) -> tuple[str, dict[str, str]]:
    cf = boto3.client("cloudfront", endpoint_url=url, region_name="us-east-1")
    items = cf.list_distributions()["DistributionList"]["Items"]
    assert len(items) == 1
    d = cf.get_distribution_config(Id=items[0]["Id"])["DistributionConfig"]
    return (d["DefaultCacheBehavior"]["TargetOriginId"],
            {b["PathPattern"]: b["TargetOriginId"] for b in d["CacheBehaviors"].get("Items") or []})


def test_cloudfront_origin_switches_to_the_backup_and_back(moto: Any, demo_copy: Path, tmp_path: Path) -> None:
    (demo_copy / "backup-cdn.yaml").write_text(CDN.format(url=moto.url))
    sv = CLI(tmp_path / "state", demo_copy)
    sv("apply", "--yes", timeout=300)
    assert _origins(moto.url) == ("origin-us-west", {"/live/*": "origin-us-west", "*.ts": "origin-us-west"})

    p = sv("runbook", "run", "origin-failover", "-s", "region=us-west", "-s", "origin_nodes=0", "--yes",
           "-o", "json", timeout=300)
    assert json.loads(p.stdout.splitlines()[-1])["status"] == "done"
    assert _origins(moto.url) == ("origin-us-east", {"/live/*": "origin-us-east", "*.ts": "origin-us-east"})
    switch = next(json.loads(line) for line in p.stdout.splitlines()
                  if '"step.done"' in line and '"switch"' in line)
    assert "cloudfront: 1 cdn.distribution updated" in json.dumps(switch)
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []

    sv("runbook", "run", "origin-failback", "-s", "region=us-west", "--yes", timeout=300)
    assert _origins(moto.url) == ("origin-us-west", {"/live/*": "origin-us-west", "*.ts": "origin-us-west"})
    assert sv.json("dns", "overrides") == []
    assert json.loads(sv("plan", "-o", "json").stdout)["changes"] == []
