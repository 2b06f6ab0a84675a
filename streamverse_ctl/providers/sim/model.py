"""How the sim platform turns DNS records, health and demand into per-region traffic and load."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from ...core.resources import Resource


def traffic_shares(records: Sequence[Resource], health: Mapping[str, bool]) -> dict[str, dict[str, float]]:
    """Policy -> region -> share of that policy's traffic (0..1), as resolvers would spread it.

    Weighted: weight / total over healthy answers (an unhealthy answer with a health check gets
    nothing, as Route 53 would do; if all are unhealthy, all answer). Latency and geo: spread
    evenly over the healthy regions answering. Failover: the primary while healthy, else the
    secondary.
    """
    by_policy: dict[str, list[Resource]] = defaultdict(list)
    for r in records:
        policy = r.spec.get("policy")
        if policy:
            by_policy[str(policy)].append(r)
    out: dict[str, dict[str, float]] = {}
    for policy, recs in by_policy.items():
        def up(r: Resource) -> bool:
            return health.get(str(r.spec.get("region")), True) or not r.spec.get("health_check")

        healthy = [r for r in recs if up(r)] or recs
        shares: dict[str, float] = defaultdict(float)
        routing = recs[0].spec.get("routing")
        if routing == "weighted":
            total = sum(int(r.spec.get("weight") or 0) for r in healthy)
            for r in healthy:
                if total:
                    shares[str(r.spec["region"])] += int(r.spec.get("weight") or 0) / total
        elif routing == "failover":
            primary = [r for r in healthy if r.spec.get("failover") == "PRIMARY"]
            chosen = primary or healthy
            shares[str(chosen[0].spec["region"])] = 1.0
        else:
            for r in healthy:
                shares[str(r.spec["region"])] += 1 / len(healthy)
        out[policy] = dict(shares)
    return out


def region_load(shares: Mapping[str, Mapping[str, float]], demand_rps: float) -> dict[str, float]:
    """Requests per second each region receives, averaging over policies."""
    if not shares:
        return {}
    load: dict[str, float] = defaultdict(float)
    for per_region in shares.values():
        for region, share in per_region.items():
            load[region] += share * demand_rps / len(shares)
    return dict(load)
