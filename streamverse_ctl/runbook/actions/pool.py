"""Capacity actions: ``pool.scale`` (transcode pools via override; origin nodes: a region's OriginFleet
via override when a real provider such as autoscaling serves it, else on the sim platform) and
``pool.release`` (undo what a runbook scaled)."""

from __future__ import annotations

from functools import partial
from typing import Any

from ...core.errors import PermanentError
from ...engine import overrides as ov
from ..context import ActionContext
from ..served import real_origin_fleets


def scale(ctx: ActionContext, region: str | None = None, pool: str | None = None, min_nodes: int | None = None,
          origin_nodes: int | None = None, reset: bool = False, origin_surge: bool = False) -> dict[str, Any]:
    """Raise a transcode pool's floor (``min_nodes``, its ``maxNodes`` grows with it if needed) and/or the
    origin's node count of ``region``; ``reset: true`` returns both to the inventory.

    Where the region's origin is an OriginFleet on a real provider (autoscaling), ``origin_surge: true``
    scales it to its ``surgeNodes`` (the inventory's viral size), else to ``origin_nodes``; a scale-out never
    shrinks a fleet below its inventory size (a smaller request is raised to it, saying so)."""
    ws = ctx.ws
    docs = [d for d in ws.inventory.of("TranscodePool")
            if (pool is None or d.name == pool) and (region is None or d.model.region == region)]
    if pool is None and region is None:
        raise PermanentError("pool.scale needs a region or a pool")
    if region is not None and region not in ws.compiled.regions:
        raise PermanentError(f"unknown region '{region}'")
    out: dict[str, Any] = {"pools": {}, "origin": None}
    if min_nodes is not None or reset:
        if not docs:
            raise PermanentError(f"no TranscodePool matches {pool or region}")
        for d in docs:
            target = [f"TranscodePool/{d.name}"]
            if reset:
                if ov.has_override(ws, "TranscodePool", d.name):
                    out.setdefault("pool_changed", []).append(_clear(ctx, "TranscodePool", d.name)["changed"])
                out["pools"][d.name] = d.model.min_nodes
                continue
            assert min_nodes is not None
            spec = ov.current_spec(ws, "TranscodePool", d.name)
            merge: dict[str, Any] = {"minNodes": int(min_nodes)}
            if int(min_nodes) > spec.max_nodes:
                merge["maxNodes"] = int(min_nodes)
            why = f"runbook {ctx.runbook} ({ctx.run_id}): scale to {min_nodes} nodes"
            done = ctx.apply(target, stage=partial(ov.stage_or_clear, ws, "TranscodePool", d.name, merge, why))
            out.setdefault("pool_changed", []).append(done["changed"])
            out["pools"][d.name] = int(min_nodes)
    if origin_nodes is not None or origin_surge or (reset and region is not None):
        if region is None:
            raise PermanentError("origin_nodes needs a region")
        fleets = real_origin_fleets(ws, region)
        if fleets:  # the region's origin is an Auto Scaling group (or another real provider's fleet)
            sizes = _scale_fleets(ctx, fleets, None if reset else origin_nodes, origin_surge and not reset)
            out["origin"] = {region: sizes}
            out.setdefault("pool_changed", []).extend(sizes.pop("_changed"))
            return {**out, "changed": _changed(out)}
        if origin_nodes is None and not reset:
            raise PermanentError(f"origin_surge: region {region} has no OriginFleet on a real provider; give "
                                 "origin_nodes")
        value = None if reset else int(origin_nodes or 0)
        shown = value if value is not None else "the default"
        reason = ctx.unserved("platform.origin")
        if reason is not None and ctx.optional:
            ctx.note(f"origin nodes of {region}: skipped: {reason}; nothing changed")
            out["origin"] = f"skipped: {reason}; nothing changed"
            what = _changed(out)
            return {**out, "changed": what}
        if ctx.dry_run:
            ctx.note(f"would set origin nodes of {region} to {shown}")
        else:
            store = ctx.require_sim("pool.scale of origin nodes", "platform.origin")
            with ws.state.lock("apply", purpose=ctx.purpose, timeout=60):
                store.set_origin_nodes(region, value)
                ctx.audit("origin.scale", region, "ok", nodes=value)
        out["origin"] = {region: value}
        out["origin_changed"] = f"{'would change: ' if ctx.dry_run else ''}sim: origin nodes of {region} -> {shown}"
    what = _changed(out)
    return {**out, "changed": what}


def _scale_fleets(ctx: ActionContext, fleets: list[str], nodes: int | None, surge: bool) -> dict[str, Any]:
    """Scale OriginFleets out to ``nodes`` (``surge``: each to its ``surgeNodes``; ``nodes`` None and no surge:
    back to the inventory's size), as overrides applied through plan, guardrails, lock and journal: the
    provider (autoscaling) changes the group's desired size. Returns fleet -> size, and ``_changed``."""
    out: dict[str, Any] = {"_changed": []}
    for name in fleets:
        target = [f"OriginFleet/{name}"]
        doc = ctx.ws.inventory.get("OriginFleet", name)
        assert doc is not None
        normal: int = doc.model.nodes
        if nodes is None and not surge:
            if ov.has_override(ctx.ws, "OriginFleet", name):
                out["_changed"].append(str(_clear(ctx, "OriginFleet", name)["changed"]))
            out[name] = normal
            continue
        want = doc.model.surge_nodes if surge and doc.model.surge_nodes else nodes
        if want is None:
            raise PermanentError(f"origin_surge: OriginFleet {name} has no surgeNodes; give origin_nodes")
        size = max(int(want), normal)
        if size != int(want):
            ctx.note(f"origin fleet {name}: {want} nodes is below its inventory size {normal}; a scale-out keeps "
                     f"{normal}")
        spec = ov.current_spec(ctx.ws, "OriginFleet", name)
        merge: dict[str, Any] = {"nodes": size}
        if size > spec.max_nodes:
            merge["maxNodes"] = size
        why = f"runbook {ctx.runbook} ({ctx.run_id}): scale origin to {size} nodes"
        done = ctx.apply(target, stage=partial(ov.stage_or_clear, ctx.ws, "OriginFleet", name, merge, why))
        out["_changed"].append(str(done["changed"]))
        out[name] = size
    return out


def _clear(ctx: ActionContext, kind: str, name: str) -> dict[str, Any]:
    """Return a pool or fleet to its inventory spec (through apply) and forget its override."""
    return ctx.apply([f"{kind}/{name}"], stage=lambda: ov.stage_clear(ctx.ws, kind, name, ctx.purpose))


def _changed(out: dict[str, Any]) -> str:
    parts = [str(v) for v in out.pop("pool_changed", [])]
    if "origin_changed" in out:
        parts.append(str(out.pop("origin_changed")))
    return "; ".join(parts) or "nothing to change"


def _scale_needs(args: dict[str, Any]) -> tuple[list[str], bool]:
    origin = args.get("origin_nodes") is not None or bool(args.get("origin_surge")) or \
        (bool(args.get("reset")) and args.get("region") is not None)
    pools = args.get("min_nodes") is not None or bool(args.get("reset"))
    return (["platform.origin"], not pools) if origin else ([], False)


scale.needs = _scale_needs  # type: ignore[attr-defined]


def release(ctx: ActionContext, scaled_by: str = "regional-failover", keep: list[str] | None = None) -> dict[str, Any]:
    """Return every transcode pool a runbook named ``scaled_by`` raised to its inventory size (and, on the
    sim platform, its origin nodes), except pools in the regions listed in ``keep``."""
    ws = ctx.ws
    keep_regions = set(keep or [])
    mark = f"runbook {scaled_by} ("
    released: dict[str, int] = {}
    changed: list[str] = []
    for o in [o for o in ws.overrides() if o.kind in ("TranscodePool", "OriginFleet") and o.reason.startswith(mark)]:
        doc = ws.inventory.get(o.kind, o.name)
        if doc is None or doc.model.region in keep_regions:
            continue
        changed.append(_clear(ctx, o.kind, o.name)["changed"])
        released[o.name] = doc.model.min_nodes if o.kind == "TranscodePool" else doc.model.nodes
    origin: list[str] = []
    store = ctx.sim() if ctx.unserved("platform.origin") is None else None  # a sim stand-in scaled nothing real
    if store is not None:
        for region in sorted(set(store.origin_nodes()) - keep_regions):
            if ctx.dry_run:
                ctx.note(f"would return origin nodes of {region} to the default")
            else:
                with ws.state.lock("apply", purpose=ctx.purpose, timeout=60):
                    store.set_origin_nodes(region, None)
                    ctx.audit("origin.scale", region, "ok", nodes=None)
            origin.append(region)
    if origin:
        would = "would change: " if ctx.dry_run else ""
        changed.append(f"{would}sim: origin nodes of {', '.join(origin)} -> the default")
    if not released and not origin:
        ctx.note(f"nothing scaled by {scaled_by} is left to release")
    return {"pools": released, "origin": origin, "changed": "; ".join(changed) or "nothing to change"}
