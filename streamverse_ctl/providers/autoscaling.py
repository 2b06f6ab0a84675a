"""AWS Auto Scaling provider (boto3): GPU transcode pools and origin fleets as Auto Scaling groups.

What it writes, in each region's AWS region (``regions`` setting, default each Region document's
``cloudRegion``):

- ``transcode.pool`` -> an Auto Scaling group named after the pool, launched from the launch template
  ``svctl-<pool>`` whose instance type is the pool's GPU type mapped by ``instanceTypes``
  (``{nvidia-l4: g6.xlarge}``; an unmapped GPU type is used as the instance type itself).
  ``MinSize``/``MaxSize`` are ``min_nodes``/``max_nodes``. The desired size is ``desired_nodes``
  when the pool is queue-scaled (``queue`` in the TranscodePool: the compiler computes
  ``ceil(depth / targetQueueDepthPerNode)`` within the range from the depth this provider measured,
  see :meth:`AutoScalingProvider.queue_depth`), otherwise the current size clamped to the range (a
  create starts at ``min_nodes``): raising ``min_nodes`` scales up at once, lowering it never scales
  a busy pool down.
- ``platform.origin_fleet`` -> an Auto Scaling group named after the fleet, launch template
  ``svctl-<fleet>`` with the fleet's ``instance_type``; the desired size is ``nodes`` exactly (the
  viral runbook's ``pool.scale origin_nodes`` overrides it with the surge size).

The pool's other fields (GPU type, ladder, target queue depth per node, queue source) are tags on
the group (``streamverse:*``).

Reading back: every group in the regions' AWS regions is read. A group tagged
``streamverse:owner=<ownerId>`` is ours; its sizes come from the group, its GPU type from the
instance type of the launch template's latest version (mapped back through ``instanceTypes``), so
an edit behind the tool's back (console, another tool) shows as drift. Other groups are read
``managed=False`` (as the type in their ``streamverse:type`` tag, else ``platform.origin_fleet``):
never changed or deleted (writing one is a takeover, refused by the ``adopt`` guardrail).

Settings: ``region`` (client default), ``endpointUrl`` (e.g. moto; boto3 also honours
``AWS_ENDPOINT_URL_AUTOSCALING``/``_EC2``/``_SQS``), ``profile``, ``ownerId``, ``regions``,
``imageId`` (AMI of new launch templates), ``instanceTypes``, ``availabilityZones`` (AWS region ->
zones, default ``<aws region>a``), ``subnets`` (region -> subnet ids), ``sqsEndpointUrl``.
Credentials come only from the AWS environment.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..core.errors import PermanentError
from ..core.resources import Change, Resource
from ..inventory.provider_settings import AutoScalingSettings
from .awsclient import AwsError, aws_errors, error_code, make_client, tags_dict
from .base import Provider, ProviderContext, VerifyResult

POOL = "transcode.pool"
FLEET = "platform.origin_fleet"
DEFAULT_OWNER = "streamverse"
T_OWNER = "streamverse:owner"
T_TYPE = "streamverse:type"
T_REGION = "streamverse:region"
T_GPU = "streamverse:gpu"
T_LADDER = "streamverse:ladder"
T_QUEUE_PER_NODE = "streamverse:target-queue-per-node"
T_QUEUE = "streamverse:queue"
LT_PREFIX = "svctl-"


def _int(text: Any, default: Any) -> Any:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default if text is None else text


class AutoScalingProvider(Provider):
    provider_type = "autoscaling"
    settings_model: ClassVar[type[Any] | None] = AutoScalingSettings
    resource_types: ClassVar[frozenset[str]] = frozenset({POOL, FLEET})

    def __init__(self, name: str, settings: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(name, settings, context)
        s = self.settings
        self.owner = str(s.get("ownerId") or DEFAULT_OWNER)
        regions = s.get("regions") or {r: v["cloud_region"] for r, v in context.regions.items()
                                       if v.get("cloud_region")}
        self.regions: dict[str, str] = {str(k): str(v) for k, v in regions.items()}
        self.image_id = str(s.get("imageId") or "ami-00000000000000000")
        self.instance_types: dict[str, str] = {str(k): str(v) for k, v in (s.get("instanceTypes") or {}).items()}
        self.gpu_of = {v: k for k, v in self.instance_types.items()}
        self.endpoint = s.get("endpointUrl")
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._where_read: dict[tuple[str, str], str] = {}  # (type, name) -> AWS region it was read in

    # ----- plumbing ---------------------------------------------------------------------------------
    def _client(self, service: str, aws_region: str, endpoint: str | None = None) -> Any:
        key = (service, aws_region if endpoint is None else f"{aws_region} {endpoint}")
        with self._lock:
            if key not in self._clients:
                self._clients[key] = make_client(service, self.settings, region=aws_region, endpoint_url=endpoint)
            return self._clients[key]

    def _where(self, aws_region: str = "") -> str:
        at = self.endpoint or (f"{aws_region}" if aws_region else "AWS")
        return f"autoscaling provider '{self.name}' ({at})"

    def _call(self, service: str, aws_region: str, op: str, **kwargs: Any) -> Any:
        with aws_errors(self._where(aws_region), op):
            return getattr(self._client(service, aws_region), op)(**kwargs)

    def _aws_region(self, region: str) -> str:
        if region in self.regions:
            return self.regions[region]
        if not self.regions:
            return str(self.settings.get("region", "us-east-1"))
        raise PermanentError(f"autoscaling provider '{self.name}': no AWS region for region '{region}' "
                             f"(knows {', '.join(sorted(self.regions)) or 'none'}; setting regions)")

    def _aws_regions(self) -> list[str]:
        return sorted(set(self.regions.values())) or [str(self.settings.get("region", "us-east-1"))]

    def instance_type(self, gpu: str) -> str:
        return self.instance_types.get(gpu, gpu)

    # ----- read -------------------------------------------------------------------------------------
    def _groups(self, aws_region: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with aws_errors(self._where(aws_region), "describe_auto_scaling_groups"):
            pages = self._client("autoscaling", aws_region).get_paginator("describe_auto_scaling_groups").paginate()
            for page in pages:
                out.extend(page.get("AutoScalingGroups") or [])
        return out

    def _template_instance_type(self, aws_region: str, group: Mapping[str, Any]) -> str:
        lt = group.get("LaunchTemplate") or (group.get("MixedInstancesPolicy") or {}).get(
            "LaunchTemplate", {}).get("LaunchTemplateSpecification") or {}
        ident = {"LaunchTemplateId": lt["LaunchTemplateId"]} if lt.get("LaunchTemplateId") else \
            {"LaunchTemplateName": lt["LaunchTemplateName"]} if lt.get("LaunchTemplateName") else None
        if ident is None:
            return ""
        try:
            resp = self._call("ec2", aws_region, "describe_launch_template_versions",
                              Versions=[str(lt.get("Version") or "$Latest")], **ident)
        except AwsError:
            return ""  # the template is gone: reads as no instance type (drift)
        versions = resp.get("LaunchTemplateVersions") or []
        return str((versions[0].get("LaunchTemplateData") or {}).get("InstanceType", "")) if versions else ""

    def _read(self, types: Sequence[str]) -> list[Resource]:
        out: list[Resource] = []
        where: dict[tuple[str, str], str] = {}
        for aws_region in self._aws_regions():
            for g in self._groups(aws_region):
                tags = tags_dict(g.get("Tags"))
                ours = tags.get(T_OWNER) == self.owner
                tagged = tags.get(T_TYPE, "")
                rtype = tagged if tagged in self.resource_types else FLEET
                name = str(g["AutoScalingGroupName"])
                if rtype not in types or (rtype, name) in where:
                    continue
                where[(rtype, name)] = aws_region
                itype = self._template_instance_type(aws_region, g)
                region = tags.get(T_REGION, "")
                spec: dict[str, Any]
                if rtype == POOL:
                    spec = {"region": region, "gpu": self.gpu_of.get(itype, itype),
                            "min_nodes": g.get("MinSize"), "max_nodes": g.get("MaxSize"),
                            "target_queue_per_node": _int(tags.get(T_QUEUE_PER_NODE), 0),
                            "ladder": tags.get(T_LADDER, "")}
                    if T_QUEUE in tags:
                        try:
                            spec["queue"] = json.loads(tags[T_QUEUE])
                        except ValueError:
                            spec["queue"] = tags[T_QUEUE]
                        spec["desired_nodes"] = g.get("DesiredCapacity")
                else:
                    spec = {"region": region, "instance_type": itype, "min_nodes": g.get("MinSize"),
                            "max_nodes": g.get("MaxSize"), "nodes": g.get("DesiredCapacity")}
                out.append(Resource(rtype, name, spec, self.name, managed=ours))
        self._where_read = where
        return out

    # ----- apply ------------------------------------------------------------------------------------
    def _apply(self, batch: Sequence[Change]) -> None:
        for change in batch:
            old_region = self._where_read.get((change.type, change.name))
            if old_region is None and change.before is not None:
                old_region = self._aws_region(str(change.before.get("region", "")))
            if change.after is None:
                if old_region is not None:
                    self._delete(old_region, change.name)
                continue
            aws_region = self._aws_region(str(change.after["region"]))
            current = self._group(aws_region, change.name)
            if current is None:
                self._create(aws_region, change)
            else:
                self._update(aws_region, change, current)
            if old_region is not None and old_region != aws_region:
                self._delete(old_region, change.name)  # moved to another AWS region
            self._where_read[(change.type, change.name)] = aws_region

    def _group(self, aws_region: str, name: str) -> dict[str, Any] | None:
        resp = self._call("autoscaling", aws_region, "describe_auto_scaling_groups", AutoScalingGroupNames=[name])
        groups = resp.get("AutoScalingGroups") or []
        return dict(groups[0]) if groups else None

    def _tags(self, change: Change) -> dict[str, str]:
        spec = change.after or {}
        tags = {T_OWNER: self.owner, T_TYPE: change.type, T_REGION: str(spec["region"]), "Name": change.name}
        if change.type == POOL:
            tags.update({T_GPU: str(spec["gpu"]), T_LADDER: str(spec["ladder"]),
                         T_QUEUE_PER_NODE: str(spec["target_queue_per_node"])})
            if spec.get("queue") is not None:
                tags[T_QUEUE] = json.dumps(spec["queue"], sort_keys=True, separators=(",", ":"))
        return tags

    def _wanted_type(self, change: Change) -> str:
        spec = change.after or {}
        return self.instance_type(str(spec["gpu"])) if change.type == POOL else str(spec["instance_type"])

    def _desired(self, change: Change, current: int | None) -> int:
        spec = change.after or {}
        lo, hi = int(spec["min_nodes"]), int(spec["max_nodes"])
        if change.type == FLEET:
            return min(max(int(spec["nodes"]), lo), hi)
        if spec.get("desired_nodes") is not None:
            return min(max(int(spec["desired_nodes"]), lo), hi)
        return lo if current is None else min(max(current, lo), hi)

    def _template(self, aws_region: str, name: str, instance_type: str) -> None:
        """Make the launch template's latest version launch ``instance_type`` (create it if missing)."""
        lt_name = LT_PREFIX + name
        try:
            resp = self._call("ec2", aws_region, "describe_launch_template_versions", LaunchTemplateName=lt_name,
                              Versions=["$Latest"])
        except AwsError as exc:
            if "NotFound" not in error_code(exc) and "NotFound" not in str(exc):
                raise
            resp = None
        if not resp or not resp.get("LaunchTemplateVersions"):
            self._call("ec2", aws_region, "create_launch_template", LaunchTemplateName=lt_name,
                       LaunchTemplateData={"ImageId": self.image_id, "InstanceType": instance_type},
                       TagSpecifications=[{"ResourceType": "launch-template",
                                           "Tags": [{"Key": T_OWNER, "Value": self.owner}]}])
            return
        data = resp["LaunchTemplateVersions"][0].get("LaunchTemplateData") or {}
        if data.get("InstanceType") != instance_type:
            self._call("ec2", aws_region, "create_launch_template_version", LaunchTemplateName=lt_name,
                       SourceVersion="$Latest", LaunchTemplateData={"InstanceType": instance_type})

    def _placement(self, change: Change, aws_region: str) -> dict[str, Any]:
        region = str((change.after or {})["region"])
        subnets = (self.settings.get("subnets") or {}).get(region)
        if subnets:
            return {"VPCZoneIdentifier": ",".join(subnets)}
        zones = (self.settings.get("availabilityZones") or {}).get(aws_region) or [f"{aws_region}a"]
        return {"AvailabilityZones": list(zones)}

    def _create(self, aws_region: str, change: Change) -> None:
        spec = change.after or {}
        self._template(aws_region, change.name, self._wanted_type(change))
        tags = [{"Key": k, "Value": v, "PropagateAtLaunch": k == "Name"} for k, v in self._tags(change).items()]
        try:
            self._call("autoscaling", aws_region, "create_auto_scaling_group", AutoScalingGroupName=change.name,
                       LaunchTemplate={"LaunchTemplateName": LT_PREFIX + change.name, "Version": "$Latest"},
                       MinSize=int(spec["min_nodes"]), MaxSize=int(spec["max_nodes"]),
                       DesiredCapacity=self._desired(change, None), Tags=tags,
                       **self._placement(change, aws_region))
        except AwsError as exc:
            if error_code(exc) != "AlreadyExists":
                raise
            current = self._group(aws_region, change.name)  # created by an earlier attempt whose answer was lost
            if current is None:
                raise
            self._update(aws_region, change, current)

    def _update(self, aws_region: str, change: Change, current: Mapping[str, Any]) -> None:
        spec = change.after or {}
        tags = tags_dict(current.get("Tags"))
        if tags.get(T_OWNER) != self.owner and change.before is None:
            raise PermanentError(f"{self._where(aws_region)}: Auto Scaling group {change.name} exists and is not "
                                 "managed by StreamVerse Control; refusing to change it")
        self._template(aws_region, change.name, self._wanted_type(change))
        self._call("autoscaling", aws_region, "update_auto_scaling_group", AutoScalingGroupName=change.name,
                   LaunchTemplate={"LaunchTemplateName": LT_PREFIX + change.name, "Version": "$Latest"},
                   MinSize=int(spec["min_nodes"]), MaxSize=int(spec["max_nodes"]),
                   DesiredCapacity=self._desired(change, _int(current.get("DesiredCapacity"), None)))
        wanted = self._tags(change)
        if any(tags.get(k) != v for k, v in wanted.items()):
            self._call("autoscaling", aws_region, "create_or_update_tags", Tags=[
                {"ResourceId": change.name, "ResourceType": "auto-scaling-group", "Key": k, "Value": v,
                 "PropagateAtLaunch": k == "Name"} for k, v in wanted.items()])
        stale = [k for k in tags if k == T_QUEUE and k not in wanted]
        if stale:
            self._call("autoscaling", aws_region, "delete_tags", Tags=[
                {"ResourceId": change.name, "ResourceType": "auto-scaling-group", "Key": k} for k in stale])

    def _delete(self, aws_region: str, name: str) -> None:
        current = self._group(aws_region, name)
        if current is None:
            return
        if tags_dict(current.get("Tags")).get(T_OWNER) != self.owner:
            raise PermanentError(f"{self._where(aws_region)}: Auto Scaling group {name} is not managed by "
                                 "StreamVerse Control; refusing to delete it")
        self._call("autoscaling", aws_region, "delete_auto_scaling_group", AutoScalingGroupName=name,
                   ForceDelete=True)
        try:
            self._call("ec2", aws_region, "delete_launch_template", LaunchTemplateName=LT_PREFIX + name)
        except AwsError:
            pass  # already gone, or shared: the group is what mattered

    # ----- queue depth (a read: the compiler turns it into desired_nodes) ---------------------------
    def queue_depth(self, queue: Mapping[str, Any], region: str, prometheus_url: str | None = None) -> float:
        """The depth of a pool's work queue now: SQS ``ApproximateNumberOfMessages`` or a Prometheus query."""
        if queue.get("prometheus"):
            from .prometheus import PrometheusSource

            url = queue.get("prometheusUrl") or prometheus_url
            if not url:
                raise PermanentError(f"autoscaling provider '{self.name}': queue query {queue['prometheus']!r} "
                                     "needs prometheusUrl (on the queue or the SLO)")
            with PrometheusSource(str(url)) as prom:
                series = prom.query(str(queue["prometheus"]))
            values = [float(s["value"][1]) for s in series if s.get("value")]
            if not values:
                raise PermanentError(f"prometheus {url}: queue query {queue['prometheus']!r} returned no data")
            return sum(values)
        aws_region = str(queue.get("region") or self._aws_region(region))
        endpoint = queue.get("endpointUrl") or self.settings.get("sqsEndpointUrl") or self.endpoint
        sqs = self._client("sqs", aws_region, str(endpoint) if endpoint else None)
        with aws_errors(self._where(aws_region), "get_queue_attributes"):
            url = queue.get("sqsQueueUrl") or sqs.get_queue_url(QueueName=str(queue["sqsQueueName"]))["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return float(attrs["Attributes"]["ApproximateNumberOfMessages"])

    # ----- checks -----------------------------------------------------------------------------------
    def check(self, desired: Sequence[Resource]) -> list[str]:
        problems = super().check(desired)
        if self.regions:
            for r in desired:
                region = str(r.spec.get("region", ""))
                if r.type in self.resource_types and region not in self.regions:
                    problems.append(f"provider '{self.name}' (autoscaling) has no AWS region for region '{region}' "
                                    f"needed by {r.origin or r.id} (setting regions)")
        return problems

    def verify(self, desired: Sequence[Resource], timeout: float = 30.0) -> list[VerifyResult]:
        """Read the groups back: each desired field as planned (AWS adds fields of its own)."""
        return self.verify_by_reading(desired, self.endpoint or "AWS", subset=True)
