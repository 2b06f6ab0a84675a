"""Failover state actions: ``region.drain`` and ``region.serve`` (recorded in the state backend)."""

from __future__ import annotations

from typing import Any

from ...engine import overrides as ov
from ..context import ActionContext


def _targets(region: str) -> list[str]:
    # documents for creates/updates; resource ids for deletes (a deleted resource has no document)
    return [f"Region/{region}", "TrafficPolicy/*", f"dns.record/*/{region}", f"dns.healthcheck/*/{region}"]


def drain(ctx: ActionContext, region: str) -> dict[str, Any]:
    """Mark a region drained: weight 0 in weighted policies, out of latency ones, geo/failover moved."""
    if region in ctx.ws.state.drained_regions() and not ctx.dry_run:
        ctx.note(f"{region} is already drained")
    out = ctx.apply(_targets(region), stage=lambda: ov.stage_region_status(ctx.ws, region, "drained"))
    return {**out, "region": region, "status": "drained"}


def serve(ctx: ActionContext, region: str, policy: str | None = None,
          hold_weights: dict[str, Any] | None = None) -> dict[str, Any]:
    """Clear a region's drained mark. With ``hold_weights`` the policy's weights are pinned in the
    same apply (e.g. the region at 0 so failback can then restore it gradually)."""
    ws = ctx.ws

    def stage() -> None:
        if hold_weights is not None and policy:
            parsed = {str(k): int(v) for k, v in hold_weights.items()}
            ov.stage(ws, "TrafficPolicy", policy, ov.weights_merge(ws, policy, parsed),
                     f"runbook {ctx.runbook} ({ctx.run_id}): hold weights while {region} returns")
        ov.stage_region_status(ws, region, "serving")

    return {**ctx.apply(_targets(region), stage=stage), "region": region, "status": "serving"}


def _drain_check(ctx: ActionContext, region: str) -> dict[str, Any] | None:
    if region in ctx.ws.state.drained_regions() and not ctx.ws.plan(_targets(region)).changes:
        return {"region": region, "status": "drained", "applied": 0}
    return None


drain.check = _drain_check  # type: ignore[attr-defined]
