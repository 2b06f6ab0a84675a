"""``cdn.set_origin``: point the PoPs and CDN distributions that fetch from a region's origin at its backup.

The switch is a set of overrides, planned and applied together (guardrails, lock, journal, audit,
verify): on each PoP whose origin is ``region``'s, ``originRegion: <to>`` (the nginx provider renders
the PoP's upstream from that region's endpoints); on each CdnDistribution with an origin of ``region``
(``origins[].region``) and one of ``to``, its default origin (and any behaviour pinned to the lost
origin) moves to the backup's. ``restore: true`` returns every PoP of ``region`` and every distribution
switched away from it to the inventory. ``to`` defaults to the Region's ``backupOrigin``. The
``unhealthy-region`` guardrail refuses to point PoPs at an origin whose region health marks down.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import PermanentError
from ...engine import overrides as ov
from ..context import ActionContext
from .cdn import with_edge_reports


def _backup(ctx: ActionContext, region: str, to: str | None) -> str:
    doc = ctx.ws.inventory.get("Region", region)
    if doc is None:
        raise PermanentError(f"unknown region '{region}' (regions: {', '.join(ctx.ws.compiled.regions)})")
    backup = to or doc.model.backup_origin
    if not backup:
        raise PermanentError(f"Region {region} names no backupOrigin: give 'to' (the region whose origin takes over)")
    if backup not in ctx.ws.compiled.regions:
        raise PermanentError(f"unknown backup origin region '{backup}'")
    if backup == region:
        raise PermanentError(f"the backup origin of {region} must be another region")
    return str(backup)


def _distribution_merge(spec: Any, lost: str, backup: str) -> dict[str, Any] | None:
    """The merge patch moving a distribution's default origin (and pinned behaviours) off ``lost``'s origins."""
    lost_ids = {o.id for o in spec.origins if o.region == lost}
    to_id = next((o.id for o in spec.origins if o.region == backup), None)
    if not lost_ids or to_id is None:
        return None
    default = spec.default_origin or spec.origins[0].id
    behaviors = [b.model_dump(by_alias=True, exclude_none=True) for b in spec.cache_behaviors]
    moved = False
    for b in behaviors:
        if b.get("origin") in lost_ids:
            b["origin"], moved = to_id, True
    if default not in lost_ids and not moved:
        return None
    merge: dict[str, Any] = {"defaultOrigin": to_id if default in lost_ids else default}
    if moved:
        merge["cacheBehaviors"] = behaviors
    return merge


def set_origin(ctx: ActionContext, region: str, to: str | None = None, restore: bool = False) -> dict[str, Any]:
    """Switch the PoPs and CDN distributions on ``region``'s origin to ``to`` (its backupOrigin), or
    (``restore: true``) return them to the inventory's origins."""
    ws = ctx.ws
    backup = _backup(ctx, region, to) if not restore else (to or "")
    pops: dict[str, dict[str, Any]] = {}  # PoP -> merge patch
    region_pops = sorted(d.name for d in ws.inventory.of("PoP") if d.model.region == region)
    for d in ws.inventory.of("PoP"):
        if d.model.region != region:
            continue
        current = ov.current_spec(ws, "PoP", d.name).origin_region or region
        if restore and current != region:
            pops[d.name] = {"originRegion": d.model.origin_region}
        elif not restore and current != backup:
            pops[d.name] = {"originRegion": backup}
    dists: dict[str, dict[str, Any]] = {}
    for d in ws.inventory.of("CdnDistribution"):
        if restore:
            if ov.has_override(ws, "CdnDistribution", d.name) and any(o.region == region for o in d.model.origins):
                inv = d.model
                dists[d.name] = {"defaultOrigin": inv.default_origin,
                                 "cacheBehaviors": [b.model_dump(by_alias=True, exclude_none=True)
                                                    for b in inv.cache_behaviors]}
            continue
        merge = _distribution_merge(ov.current_spec(ws, "CdnDistribution", d.name), region, backup)
        if merge is not None:
            dists[d.name] = merge
    what = f"origin of {region} -> inventory" if restore else f"origin of {region} -> {backup}"
    pops, dists = _real_only(ctx, pops, dists)
    if not pops and not dists:
        ctx.note(f"nothing to change: no PoP or distribution left to switch ({what})")
        return {"pops": [], "distributions": [], "to": backup or region, "region_pops": region_pops,
                "changed": f"nothing to change: every PoP and distribution of {region} already "
                           + ("on its inventory origin" if restore else f"fetches from {backup}")}
    reason = f"runbook {ctx.runbook} ({ctx.run_id}): {what}"

    def stage() -> None:
        for name, merge in pops.items():
            ov.stage_or_clear(ws, "PoP", name, merge, reason)
        for name, merge in dists.items():
            ov.stage_or_clear(ws, "CdnDistribution", name, merge, reason)

    targets = [f"PoP/{p}" for p in sorted(pops)] + [f"CdnDistribution/{d}" for d in sorted(dists)]
    out = with_edge_reports(ctx, lambda: ctx.apply(targets, stage=stage))
    ctx.note(f"{'would switch' if ctx.dry_run else 'switched'} {len(pops)} PoP(s) and {len(dists)} "
             f"distribution(s): {what}")
    return {**out, "pops": sorted(pops), "distributions": sorted(dists), "to": backup or region,
            "region_pops": region_pops}


def _real_only(ctx: ActionContext, pops: dict[str, Any], dists: dict[str, Any]
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Leave out the part only a sim stand-in serves (it would change nothing real), saying so; refuse when
    that is all there is to change."""
    from ..served import not_served

    skipped = []
    for rtype, table in (("cdn.pop", pops), ("cdn.distribution", dists)):
        why = not_served(ctx.ws, rtype) if table else None
        if why is not None:
            skipped.append(f"{len(table)} {rtype} left as they are: {why}")
            table.clear()
    for s in skipped:
        ctx.note(s)
    if skipped and not pops and not dists:
        raise PermanentError("cdn.set_origin would change nothing real: " + "; ".join(skipped))
    return pops, dists
