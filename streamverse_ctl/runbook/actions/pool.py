"""Capacity actions: ``pool.scale`` (transcode pools via override; origin nodes on the sim platform) and
``pool.release`` (undo what a runbook scaled)."""

from __future__ import annotations

from functools import partial
from typing import Any

from ...core.errors import PermanentError
from ...engine import overrides as ov
from ..context import ActionContext


def scale(ctx: ActionContext, region: str | None = None, pool: str | None = None, min_nodes: int | None = None,
          origin_nodes: int | None = None, reset: bool = False) -> dict[str, Any]:
    """Raise a transcode pool's floor (``min_nodes``, its ``maxNodes`` grows with it if needed) and/or the
    origin's node count of ``region``; ``reset: true`` returns both to the inventory."""
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
                    out.setdefault("pool_changed", []).append(_clear(ctx, d.name)["changed"])
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
    if origin_nodes is not None or (reset and region is not None):
        if region is None:
            raise PermanentError("origin_nodes needs a region")
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


def _clear(ctx: ActionContext, pool: str) -> dict[str, Any]:
    """Return a transcode pool to its inventory spec (through apply) and forget its override."""
    return ctx.apply([f"TranscodePool/{pool}"],
                     stage=lambda: ov.stage_clear(ctx.ws, "TranscodePool", pool, ctx.purpose))


def _changed(out: dict[str, Any]) -> str:
    parts = [str(v) for v in out.pop("pool_changed", [])]
    if "origin_changed" in out:
        parts.append(str(out.pop("origin_changed")))
    return "; ".join(parts) or "nothing to change"


def _scale_needs(args: dict[str, Any]) -> tuple[list[str], bool]:
    origin = args.get("origin_nodes") is not None or (bool(args.get("reset")) and args.get("region") is not None)
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
    for o in [o for o in ws.overrides() if o.kind == "TranscodePool" and o.reason.startswith(mark)]:
        doc = ws.inventory.get("TranscodePool", o.name)
        if doc is None or doc.model.region in keep_regions:
            continue
        changed.append(_clear(ctx, o.name)["changed"])
        released[o.name] = doc.model.min_nodes
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
