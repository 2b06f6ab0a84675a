"""CDN actions: ``cdn.warm`` (a title on a CacheWarmPolicy, or a warming job for PoPs) and ``cdn.set_ttl``."""

from __future__ import annotations

from typing import Any

from ...core.errors import PermanentError
from ...engine import overrides as ov
from ..context import ActionContext


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
        out = ctx.apply([f"CacheWarmPolicy/{policy}"],
                        stage=lambda: ov.stage_or_clear(ctx.ws, "CacheWarmPolicy", policy, merge, reason))
        return {**out, "video": video, "titles": titles, "pops": chosen or "all the policy's PoPs"}
    chosen = _pops(ctx, regions, pops)
    if not chosen:
        raise PermanentError("cdn.warm: no PoP matches the given regions/pops")
    if ctx.dry_run:
        ctx.note(f"would warm {len(chosen)} PoP(s): {', '.join(chosen)}")
        return {"pops": chosen, "dry_run": True, "changed": f"would change: sim: {len(chosen)} PoP(s) warmed"}
    store = ctx.require_sim("cdn.warm of PoPs", "cdn.warm_job")
    with ctx.ws.state.lock("apply", purpose=ctx.purpose, timeout=60):
        store.warm_pops(chosen)
        ctx.audit("cdn.warm", ",".join(chosen), "ok", pops=chosen)
    ctx.note(f"warmed {len(chosen)} PoP(s): {', '.join(chosen)}")
    return {"pops": chosen, "changed": f"sim: {len(chosen)} PoP(s) warmed"}


def set_ttl(ctx: ActionContext, pattern: str, ttl: int | None, policy: str = "new-releases") -> dict[str, Any]:
    """Set (``ttl: null`` removes) a path-glob cache TTL on a CacheWarmPolicy's PoPs, as an override."""
    _policy(ctx, policy)
    if ttl is not None and not 0 < int(ttl) <= 31_536_000:
        raise PermanentError(f"ttl must be 1..31536000 seconds, not {ttl}")
    before = ov.current_spec(ctx.ws, "CacheWarmPolicy", policy).ttl_overrides.get(pattern)
    merge = {"ttlOverrides": {pattern: None if ttl is None else int(ttl)}}
    reason = f"runbook {ctx.runbook} ({ctx.run_id}): TTL of {pattern} -> {ttl}"
    out = ctx.apply([f"CacheWarmPolicy/{policy}"],
                    stage=lambda: ov.stage_or_clear(ctx.ws, "CacheWarmPolicy", policy, merge, reason))
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
    on the sim platform, each region's load split over its PoPs by capacity."""
    ws = ctx.ws
    pops = {r.name: r.spec for r in ws.compiled.resources if r.type == "cdn.pop"
            and (not regions or r.spec.get("region") in regions)}
    demand: dict[str, float] = {}
    prom = ws.metrics_source()
    if prom is not None:
        rates = prom.vector("sum by (pop) (rate(cdn_requests_total[5m]))", "pop")
        demand = {p: rates.get(p, 0.0) for p in pops}
    else:
        from ...core.resources import Resource
        from ...providers.sim.model import region_load, traffic_shares

        store = ctx.require_sim("cdn.warm hottest PoPs (no Prometheus named by the SLO)")
        records = [Resource(t, n_, s) for t, n_, s, _ in store.read(["dns.record"])]
        load = region_load(traffic_shares(records, store.region_health()), float(store.setting("demand_rps")))
        capacity: dict[str, float] = {}
        for spec in pops.values():
            capacity[str(spec["region"])] = capacity.get(str(spec["region"]), 0.0) + float(spec["capacity_gbps"])
        demand = {p: load.get(str(s["region"]), 0.0) * float(s["capacity_gbps"]) / capacity[str(s["region"])]
                  for p, s in pops.items()}
    ranked = sorted(demand, key=lambda p: (-demand[p], p))[:n]
    ctx.note("busiest PoPs: " + ", ".join(f"{p} ({demand[p]:,.0f} req/s)" for p in ranked))
    return sorted(ranked)
