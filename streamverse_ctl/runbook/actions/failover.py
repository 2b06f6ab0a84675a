"""Traffic-shift planning: ``failover.check`` and ``failback.check`` (read-only; they refuse or plan).

Refusals are named like guardrails, and a run's ``--force NAME`` overrides them:
``capacity`` (a receiving region would exceed its capacity or the FailoverPolicy's
maxRegionSharePercent), ``min-regions`` (fewer serving regions than minRegionsServing),
``unhealthy-region`` (the region to receive traffic is down). ``zero-serving`` never yields.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import GuardrailRefused, PermanentError, Refusal
from ...inventory.models import parse_duration
from ..capacity import Projection, current_weights, project, schedule, spread
from ..context import ActionContext


def _demand(ctx: ActionContext, demand_rps: float | None) -> float:
    if demand_rps:
        return float(demand_rps)
    sim = ctx.sim()
    if sim is None:
        raise PermanentError("the capacity check needs the peak demand: pass demand_rps (no sim platform here "
                             "to read it from)")
    return float(sim.setting("demand_rps"))


def _refuse(ctx: ActionContext, refusals: list[Refusal]) -> None:
    forced = [r for r in refusals if r.name in ctx.force and r.name != "zero-serving"]
    left = [r for r in refusals if r not in forced]
    for r in forced:
        ctx.note(f"forced past [{r.name}]: {r.message}")
        ctx.audit("runbook.forced", r.name, "forced", message=r.message)
    if left:
        if not ctx.dry_run:
            ctx.ws.state.audit("runbook.refused", ctx.runbook, "refused", run_id=ctx.run_id, step=ctx.step,
                               refusals=[f"[{r.name}] {r.message}" for r in left])
        raise GuardrailRefused(left)


def _load_refusals(ctx: ActionContext, proj: Projection, receivers: list[str], policy: str) -> list[Refusal]:
    out = []
    limit = ctx.ws.compiled.failover.max_region_share_percent
    for region in receivers:
        load, cap = proj.load.get(region, 0.0), proj.capacity.get(region, 0)
        if cap and load > cap:
            out.append(Refusal("capacity", f"{region} would receive {load:,.0f} req/s, above its capacity "
                                           f"{cap:,} req/s ({100 * load / cap:.0f} %)"))
        share = proj.shares.get(policy, {}).get(region, 0.0) * 100
        if share > limit:
            out.append(Refusal("capacity", f"{region} would carry {share:.0f} % of {policy}, above the "
                                           f"FailoverPolicy maxRegionSharePercent {limit} %"))
    return out


def _table(proj: Projection) -> dict[str, dict[str, float]]:
    return {r: {"load_rps": round(proj.load.get(r, 0.0)), "max_rps": c,
                "utilization": round(proj.load.get(r, 0.0) / c, 3) if c else 0.0}
            for r, c in sorted(proj.capacity.items())}


def _interval(ctx: ActionContext, interval: Any, gradual: bool) -> float:
    if not gradual:
        return 0.0
    if interval is None or interval == "":
        return parse_duration(ctx.ws.compiled.failover.step_interval)
    return parse_duration(interval)


def check_failover(ctx: ActionContext, region: str, to: str | None = None, policy: str = "www",
                   gradual: bool = False, step: int = 0, interval: Any = None,
                   demand_rps: float | None = None) -> dict[str, Any]:
    """Plan moving ``policy``'s traffic off ``region`` (to ``to``, else spread by spare capacity);
    refuse when the receivers cannot take it or too few regions would remain serving."""
    ws = ctx.ws
    if policy not in ws.compiled.policies or ws.compiled.policies[policy].routing != "weighted":
        weighted = ", ".join(n for n, p in ws.compiled.policies.items() if p.routing == "weighted")
        raise PermanentError(f"failover shifts a weighted TrafficPolicy; '{policy}' is not one (weighted: {weighted})")
    for r in (region, to):
        if r is not None and r not in ws.compiled.regions:
            raise PermanentError(f"unknown region '{r}' (regions: {', '.join(ws.compiled.regions)})")
    if region in ws.drained():
        raise PermanentError(f"{region} is already drained (failback first, or see `streamverse ctl sim status`)")
    health = ws.health()
    demand = _demand(ctx, demand_rps)
    now = current_weights(ws, policy)
    refusals: list[Refusal] = []
    if to is not None:
        if to == region:
            raise PermanentError("--to must name another region than the one failing over")
        final = {**now, to: now.get(to, 0) + now.get(region, 0), region: 0}
        if not health.get(to, True):
            refusals.append(Refusal("unhealthy-region", f"{to} is marked down by health checks; it cannot take "
                                                        f"{region}'s traffic"))
    else:
        final = spread(ws, policy, region, demand, health)
    receivers = [r for r, w in final.items() if w > 0 and health.get(r, True)]
    if not receivers:
        refusals.append(Refusal("zero-serving", f"no healthy region could take {region}'s traffic"))
    minimum = ws.compiled.failover.min_regions_serving
    if 0 < len(receivers) < minimum:
        refusals.append(Refusal("min-regions", f"{policy} would be served by {len(receivers)} healthy region(s) "
                                               f"{receivers}; FailoverPolicy minRegionsServing is {minimum}"))
    proj = project(ws, policy, final, [region], demand, health)
    refusals += _load_refusals(ctx, proj, receivers, policy)
    ctx.note(f"projected after the shift (demand {demand:,.0f} req/s): " + ", ".join(
        f"{r} {v['utilization'] * 100:.0f} %" for r, v in _table(proj).items() if r != region))
    _refuse(ctx, refusals)
    total = sum(now.values())
    step_points = max(1, round((step or ws.compiled.failover.shift_step_percent) * total / 100))
    plan = schedule(now, final, region, step_points, gradual)
    return {"region": region, "current": now, "final": final, "targets": sorted(set(receivers) - {region}),
            "receiving": sorted(r for r in final if final[r] > now.get(r, 0)), "schedule": plan,
            "steps": len(plan), "interval": _interval(ctx, interval, gradual), "demand_rps": demand,
            "projected": _table(proj)}


def check_failback(ctx: ActionContext, region: str, policy: str = "www", step: int = 0,
                   interval: Any = None) -> dict[str, Any]:
    """Plan returning ``region`` to its inventory weight, ``step`` % at a time; refuse if it is down."""
    ws = ctx.ws
    if region not in ws.compiled.regions:
        raise PermanentError(f"unknown region '{region}' (regions: {', '.join(ws.compiled.regions)})")
    doc = ws.inventory.get("TrafficPolicy", policy)
    if doc is None or doc.model.routing != "weighted":
        raise PermanentError(f"failback restores a weighted TrafficPolicy; '{policy}' is not one")
    health = ws.health()
    refusals = []
    if not health.get(region, True):
        refusals.append(Refusal("unhealthy-region", f"{region} is still marked down by health checks"))
    _refuse(ctx, refusals)
    now = current_weights(ws, policy)
    final = {r: int(w) for r, w in sorted((doc.model.weights or {}).items())}
    if now == final and region not in ws.drained():
        ctx.note(f"{policy} already has its inventory weights and {region} is serving")
    total = sum(final.values())
    step_points = max(1, round((step or ws.compiled.failover.shift_step_percent) * total / 100))
    plan = schedule(now, final, region, step_points, True)
    return {"region": region, "current": now, "final": final, "schedule": plan, "steps": len(plan),
            "interval": _interval(ctx, interval, True), "drained": region in ws.drained()}
