"""Auto Scaling provider against a real moto server: groups with launch templates, scaling, drift, and
queue-depth sizing from real SQS messages through the workspace and reconcile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from streamverse_ctl.compiler.scaling import desired_nodes
from streamverse_ctl.core.errors import PermanentError
from streamverse_ctl.core.resources import Change, Resource
from streamverse_ctl.engine.reconcile import reconcile
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.providers.autoscaling import AutoScalingProvider
from streamverse_ctl.providers.base import ProviderContext

from .helpers import plan, summary

pytestmark = pytest.mark.servers
TYPES = ("platform.origin_fleet", "transcode.pool")
REGIONS = {"us-east": {"cloud_region": "us-east-1"}, "eu-west": {"cloud_region": "eu-west-1"}}


def _aws(url: str, service: str, region: str = "us-east-1") -> Any:
    return boto3.client(service, endpoint_url=url, region_name=region)


def _provider(url: str, tmp_path: Path) -> AutoScalingProvider:
    return AutoScalingProvider("asg", {"endpointUrl": url, "instanceTypes": {"nvidia-l4": "g6.xlarge",
                                                                           "nvidia-l40s": "g6e.xlarge"}},
                               ProviderContext(tmp_path, regions=REGIONS))


def _pool(name: str = "transcode-us-east", region: str = "us-east", lo: int = 2, hi: int = 10, gpu: str = "nvidia-l4",
          **extra: Any) -> Resource:
    return Resource("transcode.pool", name, {"region": region, "gpu": gpu, "min_nodes": lo, "max_nodes": hi,
                                             "target_queue_per_node": 6, "ladder": "main", **extra})


def _fleet(nodes: int = 3, lo: int = 2, hi: int = 40) -> Resource:
    return Resource("platform.origin_fleet", "origin-us-east", {"region": "us-east", "instance_type": "c7gn.4xlarge",
                                                                "min_nodes": lo, "max_nodes": hi, "nodes": nodes})


def _apply(p: AutoScalingProvider, desired: list[Resource]) -> list[Change]:
    changes = plan(p, desired, TYPES)
    if changes:
        p.apply(changes)
    return changes


def _group(url: str, name: str, region: str = "us-east-1") -> dict[str, Any]:
    groups = _aws(url, "autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    assert len(groups["AutoScalingGroups"]) == 1
    return dict(groups["AutoScalingGroups"][0])


def _instance_type(url: str, name: str, region: str = "us-east-1") -> str:
    v = _aws(url, "ec2", region).describe_launch_template_versions(LaunchTemplateName=f"svctl-{name}",
                                                                   Versions=["$Latest"])
    return str(v["LaunchTemplateVersions"][0]["LaunchTemplateData"]["InstanceType"])


def test_groups_with_launch_templates_create_scale_and_delete(moto: Any, tmp_path: Path) -> None:
    p = _provider(moto.url, tmp_path)
    desired = [_pool(), _pool("transcode-eu-west", "eu-west", gpu="nvidia-l40s"), _fleet()]
    assert {c.action for c in _apply(p, desired)} == {"create"}
    assert plan(p, desired, TYPES) == []

    g = _group(moto.url, "transcode-us-east")
    assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (2, 10, 2)  # a new pool starts at its floor
    assert g["LaunchTemplate"]["LaunchTemplateName"] == "svctl-transcode-us-east"
    assert _instance_type(moto.url, "transcode-us-east") == "g6.xlarge"
    assert _instance_type(moto.url, "transcode-eu-west", "eu-west-1") == "g6e.xlarge"  # its region's AWS region
    assert _group(moto.url, "transcode-eu-west", "eu-west-1")["MinSize"] == 2
    fleet = _group(moto.url, "origin-us-east")
    assert (fleet["MinSize"], fleet["MaxSize"], fleet["DesiredCapacity"]) == (2, 40, 3)
    assert _instance_type(moto.url, "origin-us-east") == "c7gn.4xlarge"

    # raise the floor: the group scales up at once; the viral origin surge 3 -> 30 (moto makes every
    # instance, so the sizes are small)
    desired = [_pool(lo=6), desired[1], _fleet(nodes=30)]
    assert summary(_apply(p, desired)) == [("update", "platform.origin_fleet/origin-us-east", ["nodes"]),
                                           ("update", "transcode.pool/transcode-us-east", ["min_nodes"])]
    assert _group(moto.url, "transcode-us-east")["DesiredCapacity"] == 6
    assert _group(moto.url, "origin-us-east")["DesiredCapacity"] == 30
    # lowering the floor never scales a busy pool down (the group's own scaling does); max clamps it
    _apply(p, [_pool(lo=2), desired[1], _fleet()])
    assert _group(moto.url, "transcode-us-east")["DesiredCapacity"] == 6
    _apply(p, [_pool(lo=2, hi=4), desired[1], _fleet()])
    g = _group(moto.url, "transcode-us-east")
    assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (2, 4, 4)
    # a new GPU type is a new launch template version
    _apply(p, [_pool(lo=2, hi=4, gpu="nvidia-l40s"), desired[1], _fleet()])
    assert _instance_type(moto.url, "transcode-us-east") == "g6e.xlarge"

    _apply(p, [_fleet()])
    assert not _aws(moto.url, "autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["transcode-us-east"])["AutoScalingGroups"]
    assert not _aws(moto.url, "ec2").describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": ["svctl-transcode-us-east"]}])["LaunchTemplates"]


def test_changes_behind_the_tools_back_show_as_drift_and_foreign_groups_are_left_alone(moto: Any,
                                                                                     tmp_path: Path) -> None:
    p = _provider(moto.url, tmp_path)
    _apply(p, [_pool()])
    asg, ec2 = _aws(moto.url, "autoscaling"), _aws(moto.url, "ec2")
    asg.update_auto_scaling_group(AutoScalingGroupName="transcode-us-east", MinSize=1, MaxSize=3)
    ec2.create_launch_template_version(LaunchTemplateName="svctl-transcode-us-east", SourceVersion="$Latest",
                                       LaunchTemplateData={"InstanceType": "p5.48xlarge"})
    ec2.create_launch_template(LaunchTemplateName="theirs", LaunchTemplateData={"InstanceType": "m7g.large"})
    asg.create_auto_scaling_group(AutoScalingGroupName="batch-workers", MinSize=0, MaxSize=2, DesiredCapacity=1,
                                  LaunchTemplate={"LaunchTemplateName": "theirs"}, AvailabilityZones=["us-east-1a"])
    changes = plan(p, [_pool()], TYPES)
    assert summary(changes) == [("update", "transcode.pool/transcode-us-east", ["gpu", "max_nodes", "min_nodes"])]
    assert changes[0].before is not None and changes[0].before["gpu"] == "p5.48xlarge"
    foreign = {r.id: r for r in p.read(TYPES)}["platform.origin_fleet/batch-workers"]
    assert foreign.managed is False and foreign.spec["instance_type"] == "m7g.large"
    p.apply(changes)
    assert plan(p, [_pool()], TYPES) == []
    assert _group(moto.url, "batch-workers")["DesiredCapacity"] == 1  # never touched
    with pytest.raises(PermanentError, match="not managed by StreamVerse Control"):
        p._delete("us-east-1", "batch-workers")


def test_queue_depth_from_real_sqs_messages(moto: Any, tmp_path: Path) -> None:
    sqs = _aws(moto.url, "sqs")
    url = sqs.create_queue(QueueName="transcode-us-east")["QueueUrl"]
    for i in range(23):
        sqs.send_message(QueueUrl=url, MessageBody=f"job-{i}")
    p = _provider(moto.url, tmp_path)
    assert p.queue_depth({"sqsQueueName": "transcode-us-east"}, "us-east") == 23
    assert p.queue_depth({"sqsQueueUrl": url}, "us-east") == 23
    assert desired_nodes(23, 6, 2, 10) == 4  # ceil(23 / 6)
    assert desired_nodes(500, 6, 2, 10) == 10 and desired_nodes(0, 6, 2, 10) == 2  # clamped to min..max


POOLS = """\
apiVersion: streamverse.io/v1
kind: TranscodePool
metadata: {name: transcode-us-east}
spec: {region: us-east, gpuType: nvidia-l4, minNodes: 2, maxNodes: 10, targetQueueDepthPerNode: 6, ladder: main,
       queue: {sqsQueueName: transcode-us-east}}
---
apiVersion: streamverse.io/v1
kind: TranscodePool
metadata: {name: transcode-eu-west}
spec: {region: eu-west, gpuType: nvidia-l4, minNodes: 2, maxNodes: 20, targetQueueDepthPerNode: 8, ladder: main}
---
apiVersion: streamverse.io/v1
kind: OriginFleet
metadata: {name: origin-us-east}
spec: {region: us-east, instanceType: c7gn.4xlarge, minNodes: 2, maxNodes: 40, nodes: 3, surgeNodes: 30}
"""


def aws_demo(demo: Path, url: str) -> None:
    """The demo with its transcode pools and origin fleet on Auto Scaling (moto), the rest on the sim."""
    (demo / "transcode.yaml").write_text(POOLS)
    (demo / "providers.yaml").write_text(f"""\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: aws}}
spec:
  type: autoscaling
  serves: {{types: ["transcode.pool", "platform.origin_fleet"]}}
  settings: {{endpointUrl: "{url}", instanceTypes: {{nvidia-l4: g6.xlarge}},
              regions: {{us-east: us-east-1, eu-west: eu-west-1}}}}
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: sim}}
spec:
  type: sim
  serves: {{types: ["platform.*", "cdn.*", "transcode.*", "dns.*"]}}
""")


def test_reconcile_sizes_a_queue_scaled_pool_from_the_measured_depth(moto: Any, demo_copy: Path,
                                                                     tmp_path: Path) -> None:
    aws_demo(demo_copy, moto.url)
    sqs = _aws(moto.url, "sqs")
    url = sqs.create_queue(QueueName="transcode-us-east")["QueueUrl"]
    for i in range(23):
        sqs.send_message(QueueUrl=url, MessageBody=f"job-{i}")
    state = tmp_path / "state"
    state.mkdir()

    ws = Workspace(demo_copy, state_dir=state)
    pool = {r.id: r for r in ws.compiled.resources}["transcode.pool/transcode-us-east"]
    assert pool.provider == "aws" and pool.spec["desired_nodes"] == 4  # ceil(23 / 6), measured at plan time
    assert "desired_nodes" not in {r.id: r for r in ws.compiled.resources}["transcode.pool/transcode-eu-west"].spec
    ws.close()

    tick = next(iter(reconcile(demo_copy, state_dir=state, apply=True, iterations=1)))
    assert tick.status == "applied", tick.detail
    assert _group(moto.url, "transcode-us-east")["DesiredCapacity"] == 4
    assert _group(moto.url, "transcode-eu-west", "eu-west-1")["DesiredCapacity"] == 2
    assert _group(moto.url, "origin-us-east")["DesiredCapacity"] == 3

    for i in range(100):  # the queue grows: the next reconcile scales out, clamped to maxNodes
        sqs.send_message(QueueUrl=url, MessageBody=f"more-{i}")
    tick = next(iter(reconcile(demo_copy, state_dir=state, apply=True, iterations=1)))
    assert tick.status == "applied" and tick.changes == 1, tick
    assert _group(moto.url, "transcode-us-east")["DesiredCapacity"] == 10  # ceil(123 / 6) = 21 -> max 10
    sqs.purge_queue(QueueUrl=url)
    tick = next(iter(reconcile(demo_copy, state_dir=state, apply=True, iterations=1)))
    assert _group(moto.url, "transcode-us-east")["DesiredCapacity"] == 2  # drained: back to the floor
    tick = next(iter(reconcile(demo_copy, state_dir=state, apply=False, iterations=1)))
    assert tick.status == "in-sync", tick


def test_queue_depth_from_a_prometheus_query(moto: Any, prometheus: Any, tmp_path: Path) -> None:
    p = _provider(moto.url, tmp_path)
    # vector(23): a real query on the real server that needs no scraped data
    assert p.queue_depth({"prometheus": "vector(23)", "prometheusUrl": prometheus.url}, "us-east") == 23
    assert p.queue_depth({"prometheus": "vector(7) or vector(5)"}, "us-east", prometheus.url) == 7
    with pytest.raises(PermanentError, match="returned no data"):
        p.queue_depth({"prometheus": "absent(vector(1))"}, "us-east", prometheus.url)
    with pytest.raises(PermanentError, match="needs prometheusUrl"):
        p.queue_depth({"prometheus": "vector(1)"}, "us-east")
