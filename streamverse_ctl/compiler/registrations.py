"""The resource types the compiler produces, with their dependency stages.

Declared as the ``compiler`` entry point of the ``streamverse.builtins`` group in pyproject.toml.
Stages leave gaps so a plugin (or a provider) can place its own type between two built-ins, e.g.
``ResourceType("acme.shield", stage=45)`` after the transcode pools and before the cache policies.
The spec shapes are described in :mod:`streamverse_ctl.core.specs`.
"""

from __future__ import annotations

from ..core.registry import resource_types
from ..core.resources import ResourceType

TYPES: tuple[ResourceType, ...] = (
    ResourceType("platform.region", 10, "a region's serving capacity and settings"),
    ResourceType("cdn.pop", 20, "a CDN point of presence"),
    ResourceType("cdn.edge_site", 25, "an edge site (a city's small cache) under a PoP"),
    ResourceType("transcode.ladder", 30, "an encoding ladder"),
    ResourceType("platform.origin_fleet", 35, "a region's origin servers (an Auto Scaling group)"),
    ResourceType("transcode.pool", 40, "a GPU transcode node pool"),
    ResourceType("cdn.cache_policy", 50, "TTL overrides for a set of PoPs"),
    ResourceType("cdn.warm_set", 60, "content pre-warmed on a set of PoPs"),
    ResourceType("cdn.distribution", 65, "a CDN distribution (CloudFront): origins and path TTLs"),
    ResourceType("dns.healthcheck", 70, "a health check DNS answers depend on"),
    ResourceType("dns.record", 80, "one DNS record set (one per region for routed records)"),
    ResourceType("monitoring.rule_group", 90, "one Prometheus rule file (its rule groups), from the SLO documents"),
)


def register() -> None:
    for t in TYPES:
        resource_types.register_default(t.name, t)
