"""Edge sites on the sim platform: their health (``sim fail-edge``) and the load each one carries.

Load model: a region's requests/s (its traffic share, :func:`.model.region_load`) is spread over
its serving PoPs by ``capacity_gbps`` (an evacuated PoP, ``serving: false``, and its edge sites carry
none: its users go to the region's other PoPs); each PoP's part is spread over the PoP itself and its *healthy*
edge sites by ``capacity_gbps``, so a failed site's users go to the next ones (its siblings and
its parent PoP). Egress is requests/s × ``egress_mbps_per_request`` (the CapacityModel default's
55.5 Tbps / 6 M req/s = 9.25 Mbps); utilization is egress / ``capacity_gbps``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .store import SimStore, _now


@dataclass(frozen=True)
class EdgeLoad:
    site: str
    pop: str
    region: str
    healthy: bool
    rps: float
    gbps: float
    capacity_gbps: float

    @property
    def utilization(self) -> float:
        return self.gbps / self.capacity_gbps if self.capacity_gbps else 0.0


def set_edge_health(store: SimStore, site: str, healthy: bool, reason: str = "") -> None:
    with store.tx() as db:
        db.execute("INSERT OR REPLACE INTO edge_health VALUES (?,?,?,?)", (site, int(healthy), reason, _now()))
        store._event(db, "edge.heal" if healthy else "edge.fail", {"site": site, "reason": reason})


def edge_health(store: SimStore) -> dict[str, bool]:
    """Edge sites the sim knows (those with a cdn.edge_site resource); healthy unless failed."""
    failed = {r["site"] for r in store.db.execute("SELECT site FROM edge_health WHERE healthy = 0").fetchall()}
    return {name: name not in failed for _, name, _, _ in store.read(["cdn.edge_site"])}


def spread_to_edges(region_rps: Mapping[str, float], pops: Mapping[str, Mapping[str, Any]],
                    sites: Mapping[str, Mapping[str, Any]], health: Mapping[str, bool],
                    mbps_per_request: float) -> tuple[dict[str, float], list[EdgeLoad]]:
    """(requests/s left on each PoP itself, each edge site's load) under the load model above."""
    pop_cap: dict[str, float] = defaultdict(float)
    for p in pops.values():
        if p.get("serving", True):  # an evacuated PoP (serving: false) takes none of its region's load
            pop_cap[str(p["region"])] += float(p["capacity_gbps"])
    healthy_sites: dict[str, list[str]] = defaultdict(list)
    for name, s in sites.items():
        if health.get(name, True):
            healthy_sites[str(s["pop"])].append(name)
    on_pop: dict[str, float] = {}
    loads: list[EdgeLoad] = []
    per_site: dict[str, float] = {}
    for name, p in pops.items():
        region = str(p["region"])
        up = bool(p.get("serving", True))
        share = float(p["capacity_gbps"]) / pop_cap[region] if pop_cap[region] and up else 0.0
        rps = region_rps.get(region, 0.0) * share
        serving = healthy_sites.get(name, []) if up else []  # its edge sites go out of service with it
        total = float(p["capacity_gbps"]) + sum(float(sites[site]["capacity_gbps"]) for site in serving)
        on_pop[name] = rps * float(p["capacity_gbps"]) / total
        for site in serving:
            per_site[site] = rps * float(sites[site]["capacity_gbps"]) / total
    for name, spec in sorted(sites.items()):
        rps = per_site.get(name, 0.0)
        loads.append(EdgeLoad(name, str(spec["pop"]), str(spec.get("region", "")), health.get(name, True), rps,
                              rps * mbps_per_request / 1000, float(spec["capacity_gbps"])))
    return on_pop, loads


def edge_loads(store: SimStore, region_rps: Mapping[str, float]) -> list[EdgeLoad]:
    pops = {n: s for _, n, s, _ in store.read(["cdn.pop"])}
    sites = {n: s for _, n, s, _ in store.read(["cdn.edge_site"])}
    return spread_to_edges(region_rps, pops, sites, edge_health(store),
                           float(store.setting("egress_mbps_per_request")))[1]
