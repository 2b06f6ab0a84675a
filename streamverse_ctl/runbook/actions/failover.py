"""Traffic-shift planning: ``failover.check`` and ``failback.check`` (read-only; they refuse or plan).

Refusals are named like guardrails, and a run's ``--force NAME`` overrides them:
``capacity`` (a receiving region would exceed its capacity or the FailoverPolicy's
maxRegionSharePercent), ``min-regions`` (fewer serving regions than minRegionsServing),
``unhealthy-region`` (the region to receive traffic is down). ``zero-serving`` never yields.
"""

from __future__ import annotations

import time
from typing import Any

from ...core.errors import GuardrailRefused, PermanentError, Refusal
from ...inventory.models import parse_duration
from ..capacity import Projection, current_weights, failover_refusals, gbps_per_rps, project, schedule, spread
from ..context import ActionContext
from ..errors import RunPaused
from ..probes import dns_weights


def _demand(ctx: ActionContext, demand_rps: float | None) -> float:
    """Peak requests/s: ``demand_rps``, else the sim platform's demand, else the inventory's CapacityModel."""
    if demand_rps:
        return float(demand_rps)
    sim = ctx.sim()
    if sim is None:
        from ...engine.capacity import model_demand

        model = model_demand(ctx.ws.inventory)
        if model is None:
            raise PermanentError("the capacity check needs the peak demand: pass demand_rps (no sim platform here "
                                 "and the CapacityModel does not fit the ladder: see `streamverse ctl capacity`)")
        return model.rps
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
    return failover_refusals(proj, receivers, policy, ctx.ws.compiled.failover)


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
    proj = project(ws, policy, final, [region], demand, health, demand * gbps_per_rps(ws.inventory))
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


def _weights(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in dict(value or {}).items()}


def step_failback(ctx: ActionContext, region: str, policy: str, weights: dict[str, Any], previous: dict[str, Any],
                  start: dict[str, Any], gate_timeout: Any = 120, poll: Any = 1, hold: Any = 0,
                  reason: str = "", earlier: list[dict[str, Any]] | None = None,
                  interval: Any = None) -> dict[str, Any]:
    """One gated failback step: check health *before* raising ``region``'s weight, raise it (``dns.set_weights``),
    wait until DNS serves it with every region it sends traffic to healthy, then hold ``hold`` s watching health.

    On a regression (``region``, or a region ``weights`` sends traffic to, marked down) the policy steps back
    through ``dns.set_weights`` — to ``start`` (``region`` at its weight before the failback, 0 when drained)
    if ``region`` itself is down, else to ``previous`` (the weights of the step before) — and the run pauses
    with the reason. No wait ever runs while traffic goes to a region that is down.

    ``earlier`` (the schedule's steps before this one): when DNS serves ``region`` below them (a resume after
    a step back), those steps are climbed again first, each gated and held ``interval`` (default ``hold``) s,
    so the return stays gradual.
    """
    from . import dns

    want, prev, first = _weights(weights), _weights(previous), _weights(start)
    timeout, every, soak = parse_duration(gate_timeout), max(0.05, parse_duration(poll)), parse_duration(hold)
    resume = f"streamverse ctl runbook resume {ctx.run_id}"

    def one(target: dict[str, int], before: dict[str, int], hold_for: float) -> dict[str, Any]:
        at = target.get(region, 0)

        def down() -> list[str]:
            health = ctx.ws.health()
            return sorted(r for r in {region, *(r for r, w in target.items() if w > 0)} if not health.get(r, True))

        def step_back(regressed: list[str], why: str) -> None:
            back = first if region in regressed else before
            if ctx.dry_run:
                ctx.note(f"{why}: would step {policy} back to {back}")
                return
            ctx.note(f"{why}: stepping {policy} back to {back}")
            dns.set_weights(ctx, policy, back, f"{reason or ctx.purpose}: stepped back ({why})")
            ctx.audit("failback.step_back", f"TrafficPolicy/{policy}", "ok", why=why, weights=back)
            raise RunPaused(f"failback of {region} stopped at step {ctx.step}: {why}; {policy} stepped back to "
                            f"{back} ({region} at {back.get(region, 0)}); the run is paused (once healthy: {resume})")

        def marked_down(regressed: list[str], when: str) -> str:
            return f"{', '.join(regressed)} marked down by health checks {when}"

        if regressed := down():
            step_back(regressed, marked_down(regressed, f"before raising {region} to {at}"))
        out = dns.set_weights(ctx, policy, target, reason)
        if ctx.dry_run:
            ctx.note(f"would wait up to {timeout:g} s until DNS serves {target} with every serving region healthy"
                     + (f", then watch health for {hold_for:g} s" if hold_for > 0 else ""))
            return {**out, "gate": "dry run"}
        started = time.monotonic()
        while True:
            if regressed := down():
                step_back(regressed, marked_down(regressed, f"after raising {region} to {at}"))
            if dns_weights(ctx.ws, policy) == target:
                break
            if time.monotonic() - started >= timeout:
                step_back([], f"DNS did not serve {target} within {timeout:g} s")
            ctx.events("step.wait", step=ctx.step, text=f"DNS serves {target} with every serving region healthy",
                       remaining=round(max(0.0, timeout - (time.monotonic() - started)), 1))
            time.sleep(every)
        gate = round(time.monotonic() - started, 1)
        ctx.note(f"health gate passed after {gate:g} s: DNS serves {target}, every serving region is healthy")
        end = time.monotonic() + hold_for
        while (left := end - time.monotonic()) > 0:
            ctx.events("step.wait", step=ctx.step, text=f"holding {region} at {at}, watching health",
                       remaining=round(left, 1))
            time.sleep(min(every, left))
            if regressed := down():
                step_back(regressed, marked_down(regressed, f"while holding {region} at {at}"))
        return {**out, "gate_seconds": gate, "held": hold_for}

    if earlier and not ctx.dry_run:
        served = dns_weights(ctx.ws, policy).get(region, 0)
        missed = [_weights(w) for w in earlier if _weights(w).get(region, 0) > served]
        if missed:
            ctx.note(f"DNS serves {region} at {served}, below the steps before this one: climbing "
                     f"{len(missed)} of them again first")
        before = first
        between = soak if interval is None or interval == "" else parse_duration(interval)
        for target in missed:
            one(target, before, between)
            before = target
    return one(want, prev, soak)
