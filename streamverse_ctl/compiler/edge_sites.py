"""``EdgeSite`` documents -> ``cdn.edge_site`` resources (in the parent PoP's region, after the PoP)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.resources import Resource
from ..inventory import models as m


def edge_site_resources(models: Mapping[tuple[str, str], Any], pops: Mapping[str, m.PoPSpec],
                        origin: Callable[[str, str], str]) -> list[Resource]:
    out = []
    for (kind, name), spec in models.items():
        if kind != "EdgeSite" or not isinstance(spec, m.EdgeSiteSpec) or spec.pop not in pops:
            continue  # a missing parent PoP is a validation problem, reported before compiling
        hc = spec.health_check
        out.append(Resource("cdn.edge_site", name, {
            "pop": spec.pop, "region": pops[spec.pop].region, "city": spec.city, "country": spec.country,
            "capacity_gbps": spec.capacity_gbps, "cache_tb": spec.cache_tb,
            "health_check": {"protocol": hc.protocol, "path": hc.path, "port": hc.port, "interval": hc.interval,
                             "failure_threshold": hc.failure_threshold},
        }, depends_on=(f"cdn.pop/{spec.pop}",), origin=origin(kind, name)))
    return out
