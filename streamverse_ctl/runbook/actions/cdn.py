"""CDN actions: ``cdn.warm`` (a title on a CacheWarmPolicy, or a warming job for PoPs) and ``cdn.set_ttl``."""

from __future__ import annotations

from typing import Any

from ...core.errors import PermanentError
from ..context import ActionContext
from ..overrides import current_spec, set_or_clear


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
         regions: list[str] | None = None, pops: list[str] | None = None) -> dict[str, Any]:
    """With ``video``: add it to (``remove``: take it off) a CacheWarmPolicy's titles, so every PoP
    the policy covers pre-fetches its renditions. Without: a warming job of the top titles on the
    PoPs of ``regions``/``pops`` (sim platform only for now)."""
    if video is not None:
        _policy(ctx, policy)
        titles = list(current_spec(ctx, "CacheWarmPolicy", policy).titles)
        new = [t for t in titles if t != video] if remove else sorted({*titles, video})
        out = set_or_clear(ctx, "CacheWarmPolicy", policy, {"titles": new},
                           f"runbook {ctx.runbook} ({ctx.run_id}): {'stop warming' if remove else 'warm'} {video}",
                           [f"CacheWarmPolicy/{policy}"])
        return {**out, "video": video, "titles": new}
    chosen = _pops(ctx, regions, pops)
    if not chosen:
        raise PermanentError("cdn.warm: no PoP matches the given regions/pops")
    if ctx.dry_run:
        ctx.note(f"would warm {len(chosen)} PoP(s): {', '.join(chosen)}")
        return {"pops": chosen, "dry_run": True}
    store = ctx.require_sim("cdn.warm of PoPs")
    with ctx.ws.state.lock("apply", purpose=ctx.purpose, timeout=60):
        store.warm_pops(chosen)
        ctx.audit("cdn.warm", ",".join(chosen), "ok", pops=chosen)
    ctx.note(f"warmed {len(chosen)} PoP(s): {', '.join(chosen)}")
    return {"pops": chosen}


def set_ttl(ctx: ActionContext, pattern: str, ttl: int | None, policy: str = "new-releases") -> dict[str, Any]:
    """Set (``ttl: null`` removes) a path-glob cache TTL on a CacheWarmPolicy's PoPs, as an override."""
    _policy(ctx, policy)
    if ttl is not None and not 0 < int(ttl) <= 31_536_000:
        raise PermanentError(f"ttl must be 1..31536000 seconds, not {ttl}")
    before = current_spec(ctx, "CacheWarmPolicy", policy).ttl_overrides.get(pattern)
    out = set_or_clear(ctx, "CacheWarmPolicy", policy, {"ttlOverrides": {pattern: None if ttl is None else int(ttl)}},
                       f"runbook {ctx.runbook} ({ctx.run_id}): TTL of {pattern} -> {ttl}",
                       [f"CacheWarmPolicy/{policy}"])
    return {**out, "pattern": pattern, "ttl": ttl, "previous": before}
