"""Capacity arithmetic for traffic shifts: projected load per region, a feasible spread, step schedules.

The traffic model (requests/s and egress per region, the spread by spare capacity, the
FailoverPolicy's capacity checks) is :mod:`streamverse_ctl.engine.capacity`, the one model that
``streamverse ctl capacity --what-if fail=REGION`` uses too; this module adds the step schedule.
Load is projected with the same model the sim platform uses (the engine's capacity model): each
traffic policy carries an equal part of the demand, spread over its answers as resolvers would
(weights over healthy answers, latency evenly). The compiler itself produces the records, so a
drained region drops out of latency policies exactly as it will after the shift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..engine.capacity import (
    Projection,
    current_weights,
    failover_refusals,
    gbps_per_rps,
    project,
    spread,
)

__all__ = ["Projection", "current_weights", "failover_refusals", "gbps_per_rps", "project", "schedule", "spread"]


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
