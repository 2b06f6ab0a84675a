"""CDN actions: ``cdn.warm`` (a title on a CacheWarmPolicy, or a warming job for PoPs) and ``cdn.set_ttl``.

TTLs and warm sets are overrides on a CacheWarmPolicy, applied by plan and apply to whichever provider
serves the PoPs' ``cdn.cache_policy`` / ``cdn.warm_set``; a warming job of PoPs goes to an edge-cache
provider (:class:`~streamverse_ctl.providers.edge.EdgeCache`, e.g. nginx) when one serves them, else to the
sim platform. Each reports what changed on which PoP.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from ...compiler.distributions import following
from ...core.errors import PermanentError
from ...engine import overrides as ov
from ...providers.edge import EdgeCache, EdgeChange
from ..context import ActionContext

if TYPE_CHECKING:
    from ...engine.workspace import Workspace


def edge_providers(ws: Workspace, pops: Collection[str] | None = None) -> dict[str, tuple[EdgeCache, list[str]]]:
    """Edge-cache providers (not the sim) serving ``pops`` (default: all): name -> (provider, its PoPs)."""
    out: dict[str, tuple[EdgeCache, list[str]]] = {}
    for r in ws.compiled.resources:
        if r.type != "cdn.pop" or (pops is not None and r.name not in pops):
            continue
        binding = ws.compiled.bindings.get(r.provider)
        if binding is None or binding.type == "sim":
            continue
        provider = ws.provider(r.provider)
        if isinstance(provider, EdgeCache):
            out.setdefault(r.provider, (provider, []))[1].append(r.name)
    return out


def with_edge_reports(ctx: ActionContext, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run an apply and add what the edge providers report they changed on each PoP (``on_pops``)."""
    edge = [p for p, _ in edge_providers(ctx.ws).values()]
    marks = [len(getattr(p, "reports", [])) for p in edge]
    out = run()
    reports: list[EdgeChange] = []
    for p, mark in zip(edge, marks, strict=True):
        reports += list(getattr(p, "reports", []))[mark:]
    if reports:
        for r in reports:
            ctx.note(str(r))
        out = {**out, "on_pops": [str(r) for r in reports]}
        out["changed"] = f"{out.get('changed', '')} ({'; '.join(str(r) for r in reports)})"
    return out


def _policy(ctx: ActionContext, policy: str) -> None:
    if ctx.ws.inventory.get("CacheWarmPolicy", policy) is None:
        known = ", ".join(d.name for d in ctx.ws.inventory.of("CacheWarmPolicy")) or "none"
        raise PermanentError(f"no CacheWarmPolicy named '{policy}' (known: {known})")


def _pops(ctx: ActionContext, regions: list[str] | None, pops: list[str] | None) -> list[str]:
    all_pops = {r.name: str(r.spec.get("region")) for r in ctx.ws.compiled.resources if r.type == "cdn.pop"}
    chosen = [p for p, reg in all_pops.items() if (pops is None or p in pops) and (regions is None or reg in regions)]
    unknown = sorted(set(pops or []) - set(all_pops))
    if unknown:
        raise PermanentError(f"unknown PoP(s): {', '.join(unknown)}")
    return sorted(chosen)


def warm(ctx: ActionContext, video: str | None = None, policy: str = "new-releases", remove: bool = False,
         regions: list[str] | None = None, pops: list[str] | None = None, hottest: int = 0) -> dict[str, Any]:
    """With ``video``: add it to (``remove``: take it off) a CacheWarmPolicy, so every PoP the policy
    covers pre-fetches its renditions — or, with ``hottest: N``, only the N busiest PoPs (pinned).
    Without: a warming job of the top titles on the PoPs of ``regions``/``pops`` (sim platform only)."""
    if video is not None:
        _policy(ctx, policy)
        spec = ov.current_spec(ctx.ws, "CacheWarmPolicy", policy)
        titles = [t for t in spec.titles if t != video]
        pinned: dict[str, Any] = {video: None}  # merge patch: drop any earlier pin of this video
        chosen: list[str] = []
        if not remove and hottest > 0:
            chosen = busiest_pops(ctx, int(hottest), regions)
            pinned[video] = chosen
        elif not remove:
            titles = sorted({*titles, video})
        merge: dict[str, Any] = {"titles": titles}
        if video in spec.pinned or chosen:
            merge["pinned"] = pinned
        what = "stop warming" if remove else (f"warm on the {len(chosen)} busiest PoPs" if chosen else "warm")
        reason = f"runbook {ctx.runbook} ({ctx.run_id}): {what} {video}"
        out = with_edge_reports(ctx, lambda: ctx.apply(
            [f"CacheWarmPolicy/{policy}"],
            stage=lambda: ov.stage_or_clear(ctx.ws, "CacheWarmPolicy", policy, merge, reason)))
        return {**out, "video": video, "titles": titles, "pops": chosen or "all the policy's PoPs"}
    chosen = _pops(ctx, regions, pops)
    if not chosen:
        raise PermanentError("cdn.warm: no PoP matches the given regions/pops")
    edge = edge_providers(ctx.ws, chosen)
    if edge and sum(len(p) for _, p in edge.values()) == len(chosen):
        return _warm_edge(ctx, chosen, edge)
    if ctx.dry_run:
        ctx.note(f"would warm {len(chosen)} PoP(s): {', '.join(chosen)}")
        return {"pops": chosen, "dry_run": True, "changed": f"would change: sim: {len(chosen)} PoP(s) warmed"}
    store = ctx.require_sim("cdn.warm of PoPs", "cdn.warm_job")
    with ctx.ws.state.lock("apply", purpose=ctx.purpose, timeout=60):
        store.warm_pops(chosen)
        ctx.audit("cdn.warm", ",".join(chosen), "ok", pops=chosen)
    ctx.note(f"warmed {len(chosen)} PoP(s): {', '.join(chosen)}")
    return {"pops": chosen, "changed": f"sim: {len(chosen)} PoP(s) warmed"}


def _warm_edge(ctx: ActionContext, chosen: list[str], edge: dict[str, tuple[EdgeCache, list[str]]]) -> dict[str, Any]:
    """A warming job on edge-cache PoPs: each PoP fetches its warm sets' titles and checks them as hits."""
    where = "; ".join(f"{name}: {', '.join(sorted(pops))}" for name, (_, pops) in sorted(edge.items()))
    if ctx.dry_run:
        ctx.note(f"would warm the warm sets of {len(chosen)} PoP(s) ({where})")
        return {"pops": chosen, "dry_run": True, "changed": f"would change: warm sets fetched on {where}"}
    reports: list[EdgeChange] = []
    with ctx.ws.state.lock("apply", purpose=ctx.purpose, timeout=60):
        for _, (provider, pops) in sorted(edge.items()):
            reports += provider.warm(sorted(pops))
        ctx.audit("cdn.warm", ",".join(chosen), "ok", pops=chosen, warmed=[str(r) for r in reports])
    for r in reports:
        ctx.note(str(r))
    if not reports:
        return {"pops": chosen, "changed": f"nothing to change: no warm set titles on {where}"}
    return {"pops": chosen, "on_pops": [str(r) for r in reports], "changed": "; ".join(str(r) for r in reports)}


def set_ttl(ctx: ActionContext, pattern: str, ttl: int | None, policy: str = "new-releases") -> dict[str, Any]:
    """Set (``ttl: null`` removes) a path-glob cache TTL on a CacheWarmPolicy's PoPs, as an override."""
    _policy(ctx, policy)
    if ttl is not None and not 0 < int(ttl) <= 31_536_000:
        raise PermanentError(f"ttl must be 1..31536000 seconds, not {ttl}")
    before = ov.current_spec(ctx.ws, "CacheWarmPolicy", policy).ttl_overrides.get(pattern)
    merge = {"ttlOverrides": {pattern: None if ttl is None else int(ttl)}}
    reason = f"runbook {ctx.runbook} ({ctx.run_id}): TTL of {pattern} -> {ttl}"
    # the CDN distributions whose behaviours follow the policy's TTLs (CloudFront) change in the same apply
    models = {(d.kind, d.name): d.model for d in ctx.ws.inventory.documents}
    targets = [f"CacheWarmPolicy/{policy}", *following(models, policy)]
    out = with_edge_reports(ctx, lambda: ctx.apply(
        targets, stage=lambda: ov.stage_or_clear(ctx.ws, "CacheWarmPolicy", policy, merge, reason)))
    return {**out, "pattern": pattern, "ttl": ttl, "previous": before}


def _warm_needs(args: dict[str, Any]) -> tuple[list[str], bool]:
    # a title on a CacheWarmPolicy changes its warm sets (and pins); without one, a warming job of PoPs
    return (["cdn.warm_set"] if args.get("video") is not None else ["cdn.warm_job"]), True


def _ttl_needs(args: dict[str, Any]) -> tuple[list[str], bool]:
    return ["cdn.cache_policy"], True


warm.needs = _warm_needs  # type: ignore[attr-defined]
set_ttl.needs = _ttl_needs  # type: ignore[attr-defined]


def busiest_pops(ctx: ActionContext, n: int, regions: list[str] | None = None) -> list[str]:
    """The ``n`` PoPs serving the most requests now: Prometheus' request rate when the inventory names one;
    else the PoPs' own request logs (edge-cache providers such as nginx); on the sim platform, each region's
    load split over its PoPs by capacity."""
    ws = ctx.ws
    pops = {r.name: r.spec for r in ws.compiled.resources if r.type == "cdn.pop"
            and (not regions or r.spec.get("region") in regions)}
    demand: dict[str, float] = {}
    prom = ws.metrics_source()
    edge = edge_providers(ws, list(pops)) if prom is None else {}
    if prom is not None:
        rates = prom.vector("sum by (pop) (rate(cdn_requests_total[5m]))", "pop")
        demand = {p: rates.get(p, 0.0) for p in pops}
    elif edge:  # the PoPs' own logs of client requests
        for provider, served in edge.values():
            rates = provider.request_rates()
            demand.update({p: float(rates.get(p, 0.0)) for p in served})
    else:
        store = ctx.require_sim("cdn.warm hottest PoPs (no Prometheus named by the SLO)")
        load = store.region_loads()
        capacity: dict[str, float] = {}
        for spec in pops.values():
            capacity[str(spec["region"])] = capacity.get(str(spec["region"]), 0.0) + float(spec["capacity_gbps"])
        demand = {p: load.get(str(s["region"]), 0.0) * float(s["capacity_gbps"]) / capacity[str(s["region"])]
                  for p, s in pops.items()}
    ranked = sorted(demand, key=lambda p: (-demand[p], p))[:n]
    ctx.note("busiest PoPs: " + ", ".join(f"{p} ({demand[p]:,.0f} req/s)" for p in ranked))
    return sorted(ranked)
