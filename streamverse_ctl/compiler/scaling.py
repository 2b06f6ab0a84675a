"""Capacity that scales: ``OriginFleet`` -> ``platform.origin_fleet``, and the queue-depth fields of a
``transcode.pool``.

Queue-depth scaling: a pool with ``queue`` gets ``desired_nodes = ceil(depth / targetQueueDepthPerNode)``
clamped to ``minNodes..maxNodes`` when the caller measured its depth (``CompileInput.queue_depths``,
filled by the workspace from the provider that serves the pool); unmeasured, only the queue source is
compiled and the provider (or a Kubernetes HPA) keeps the current size within the range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..core.resources import Resource
from ..inventory import models as m

ORIGIN_FLEET = "platform.origin_fleet"


def desired_nodes(depth: float, per_node: int, lo: int, hi: int) -> int:
    """``ceil(depth / per_node)`` within ``lo..hi``."""
    return min(max(math.ceil(max(depth, 0.0) / per_node), lo), hi)


def queue_spec(q: m.QueueSource) -> dict[str, Any]:
    return q.model_dump(by_alias=True, exclude_none=True)


def pool_scaling(name: str, spec: m.TranscodePoolSpec, depths: Mapping[str, float]) -> dict[str, Any]:
    """The extra spec fields of a queue-scaled pool (none for a pool without ``queue``)."""
    if spec.queue is None:
        return {}
    out: dict[str, Any] = {"queue": queue_spec(spec.queue)}
    if name in depths:
        out["desired_nodes"] = desired_nodes(depths[name], spec.target_queue_depth_per_node, spec.min_nodes,
                                             spec.max_nodes)
    return out


def origin_fleets(models: Mapping[tuple[str, str], Any], origin: Callable[[str, str], str]) -> list[Resource]:
    out = []
    for (kind, name), spec in models.items():
        if kind == "OriginFleet":
            assert isinstance(spec, m.OriginFleetSpec)
            out.append(Resource(ORIGIN_FLEET, name, {
                "region": spec.region, "instance_type": spec.instance_type, "min_nodes": spec.min_nodes,
                "max_nodes": spec.max_nodes, "nodes": spec.nodes,
            }, depends_on=(f"platform.region/{spec.region}",), origin=origin(kind, name)))
    return out
