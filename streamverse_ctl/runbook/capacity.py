"""Capacity arithmetic for traffic shifts: projected load per region, a feasible spread, step schedules.

Load is projected with the same model the sim platform uses (``providers.sim.model``): each
traffic policy carries an equal part of the demand, spread over its answers as resolvers would
(weights over healthy answers, latency evenly). The compiler itself produces the records, so a
drained region drops out of latency policies exactly as it will after the shift.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ..compiler import CompileInput, Override, compile_inventory
from ..engine.workspace import Workspace
from ..providers.sim.model import region_load, traffic_shares


@dataclass
class Projection:
    load: dict[str, float]  # region -> req/s
    capacity: dict[str, int]  # region -> max req/s
    shares: dict[str, dict[str, float]]  # policy -> region -> share

    def utilization(self) -> dict[str, float]:
        return {r: (self.load.get(r, 0.0) / c if c else 0.0) for r, c in self.capacity.items()}

    def overloaded(self, limit: float = 1.0) -> dict[str, float]:
        return {r: u for r, u in self.utilization().items() if u > limit}


def current_weights(ws: Workspace, policy: str) -> dict[str, int]:
    """The weights the policy is meant to have now (overrides applied, drained regions at 0)."""
    spec = ws.compiled.policies[policy]
    drained = ws.drained()
    return {r: (0 if r in drained else int(w)) for r, w in sorted((spec.weights or {}).items())}


def project(ws: Workspace, policy: str, weights: Mapping[str, int], drain: Collection[str],
            demand_rps: float, health: Mapping[str, bool]) -> Projection:
    overrides = []
    for o in ws.overrides():
        if (o.kind, o.name) == ("TrafficPolicy", policy):
            continue
        overrides.append(o)
    existing = next((o for o in ws.overrides() if (o.kind, o.name) == ("TrafficPolicy", policy)), None)
    merge = {**(dict(existing.merge) if existing else {}), "weights": dict(weights)}
    overrides.append(Override("TrafficPolicy", policy, merge))
    compiled = compile_inventory(ws.inventory, CompileInput(drained=ws.drained() | frozenset(drain),
                                                            overrides=overrides, platform=ws.platform))
    records = [r for r in compiled.resources if r.type == "dns.record"]
    shares = traffic_shares(records, health)
    return Projection(region_load(shares, demand_rps), {n: r.capacity.max_rps for n, r in compiled.regions.items()},
                      shares)


def spread(ws: Workspace, policy: str, source: str, demand_rps: float, health: Mapping[str, bool]) -> dict[str, int]:
    """Weights without ``source`` that leave every receiving region the same utilization.

    Each region's room for the policy is its capacity minus what the other policies send it once
    ``source`` is drained; weights are proportional to that room (largest remainder rounding,
    same total as now), so a small region already near its limit gets less, not more.
    """
    now = current_weights(ws, policy)
    total = sum(now.values())
    receivers = [r for r, w in now.items() if r != source and w > 0 and health.get(r, True)]
    zero = {r: 0 for r in now}
    base = project(ws, policy, zero | {r: 1 for r in receivers}, [source], demand_rps, health)
    per_policy = demand_rps / max(1, len(base.shares))
    mine = {r: base.shares.get(policy, {}).get(r, 0.0) * per_policy for r in receivers}
    room = {r: max(0.0, base.capacity[r] - (base.load.get(r, 0.0) - mine[r])) for r in receivers}
    if not receivers or sum(room.values()) <= 0:
        return zero
    exact = {r: total * room[r] / sum(room.values()) for r in receivers}
    out = {r: math.floor(v) for r, v in exact.items()}
    left = total - sum(out.values())
    for r in sorted(receivers, key=lambda r: exact[r] - out[r], reverse=True)[:left]:
        out[r] += 1
    return zero | out


def schedule(current: Mapping[str, int], final: Mapping[str, int], moving: str, step_points: int,
             gradual: bool) -> list[dict[str, int]]:
    """Weight maps from ``current`` to ``final``, moving ``moving``'s weight by ``step_points`` a step."""
    if not gradual:
        return [dict(final)]
    delta = abs(final.get(moving, 0) - current.get(moving, 0))
    n = max(1, math.ceil(delta / max(1, step_points)))
    out = []
    for k in range(1, n + 1):
        f = k / n
        out.append({r: round(current.get(r, 0) + (final.get(r, 0) - current.get(r, 0)) * f) for r in final})
    out[-1] = dict(final)
    return out
