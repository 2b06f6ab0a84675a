"""Bad CdnDistribution / OriginFleet / queue documents: every problem at once, with file, line and field."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli import CLI

BAD = """\
apiVersion: streamverse.io/v1
kind: CdnDistribution
metadata: {name: backup-cdn}
spec:
  origins: [{id: origin, domainName: origin.streamverse.example}]
  cacheBehaviors: [{pathPattern: "/videos/*", ttl: 60, origin: elsewhere}]
---
apiVersion: streamverse.io/v1
kind: CdnDistribution
metadata: {name: other-cdn}
spec:
  origins: [{id: origin, domainName: origin.streamverse.example}]
  ttlFrom: no-such-policy
---
apiVersion: streamverse.io/v1
kind: OriginFleet
metadata: {name: origin-us-east}
spec: {region: us-east, instanceType: c7gn.4xlarge, minNodes: 10, maxNodes: 20, nodes: 30}
---
apiVersion: streamverse.io/v1
kind: OriginFleet
metadata: {name: origin-nowhere}
spec: {region: us-esat, instanceType: c7gn.4xlarge, minNodes: 1, maxNodes: 20, nodes: 3}
---
apiVersion: streamverse.io/v1
kind: TranscodePool
metadata: {name: transcode-extra}
spec: {region: us-east, gpuType: nvidia-l4, minNodes: 1, maxNodes: 4, targetQueueDepthPerNode: 8, ladder: main,
       queue: {sqsQueueName: q, prometheus: "sum(queue_depth)"}}
"""


def test_bad_edge_documents_are_reported_together(inventories_copy: Path, tmp_path: Path) -> None:
    demo = inventories_copy / "demo"
    (demo / "edge.yaml").write_text(BAD)
    cli = CLI(demo, tmp_path / "state", tmp_path)
    out = cli("validate")
    text = " ".join((out.stdout + out.stderr).split())
    assert out.returncode == 1 and "Traceback" not in text
    assert "edge.yaml:4: CdnDistribution/backup-cdn" in text and "origin 'elsewhere' is not one of the origins" in text
    assert "edge.yaml:13: CdnDistribution/other-cdn: spec.ttlFrom: unknown CacheWarmPolicy 'no-such-policy'" in text
    assert "OriginFleet/origin-us-east" in text and "nodes (30) must lie within minNodes..maxNodes (10..20)" in text
    assert "OriginFleet/origin-nowhere: spec.region: unknown region 'us-esat'" in text
    assert "TranscodePool/transcode-extra" in text and "not both" in text
