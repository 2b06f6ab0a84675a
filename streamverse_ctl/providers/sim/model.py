"""How the sim platform turns DNS records, health and demand into per-region traffic and load."""

from __future__ import annotations

import fnmatch
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

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


VIRAL_MISS_PENALTY = 0.15  # a viral video nobody warmed: its segments miss everywhere at once
SHORT_TTL_PENALTY = 0.03  # warmed but expiring hourly: misses every hour on every PoP


def viral_hit_ratio(base: float, video: str, started: float, pop: str,
                    warm_sets: Sequence[tuple[Mapping[str, Any], float]],
                    cache_policies: Sequence[tuple[Mapping[str, Any], float]], recovery_seconds: float,
                    at: float | None = None) -> float:
    """Hit ratio of one PoP while ``video`` goes viral.

    Cold (the video is in none of the PoP's warm sets): ``base - 0.15``. Once a warm set holding
    it was written, the ratio climbs linearly back over ``recovery_seconds``, to ``base`` if a
    cache policy on the PoP keeps the video's objects for a day or more, else to ``base - 0.03``.
    """
    at = time.time() if at is None else at
    warmed = [ts for spec, ts in warm_sets if spec.get("pop") == pop and video in (spec.get("titles") or [])]
    if not warmed:
        return base - VIRAL_MISS_PENALTY
    sample = f"/videos/{video}/seg.ts"
    long_ttl = any(spec.get("pop") == pop and any(int(ttl) >= 86400 and fnmatch.fnmatchcase(sample, pat)
                                                  for pat, ttl in (spec.get("ttl_overrides") or {}).items())
                   for spec, _ in cache_policies)
    target = base if long_ttl else base - SHORT_TTL_PENALTY
    since = max(min(warmed), started)
    progress = 1.0 if recovery_seconds <= 0 else min(1.0, max(0.0, (at - since) / recovery_seconds))
    cold = base - VIRAL_MISS_PENALTY
    return cold + (target - cold) * progress
