"""Staging and clearing deliberate overrides from runbook actions, always through ``ActionContext.apply``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..compiler import Override
from ..engine.operations import clear_override, persist_pending, stage_override
from ..state.store import now, whoami
from .context import ActionContext


def current_spec(ctx: ActionContext, kind: str, name: str) -> Any:
    """The document's spec model with overrides (stored and staged) applied."""
    from ..compiler.compile import _apply_overrides

    return _apply_overrides(ctx.ws.inventory, ctx.ws.overrides(), [])[(kind, name)]


def set_or_clear(ctx: ActionContext, kind: str, name: str, merge: Mapping[str, Any], reason: str,
                 targets: Sequence[str]) -> dict[str, Any]:
    """Stage ``merge``; if the result equals the inventory's own spec, clear the override instead."""
    stage_override(ctx.ws, kind, name, merge, reason)
    doc = ctx.ws.inventory.get(kind, name)
    assert doc is not None
    if current_spec(ctx, kind, name) == doc.model:
        return clear(ctx, kind, name, targets)
    return ctx.apply(targets)


def clear(ctx: ActionContext, kind: str, name: str, targets: Sequence[str]) -> dict[str, Any]:
    """Return a document to its inventory spec: plan and apply that, then forget the override."""
    ws = ctx.ws
    key = (kind, name)
    ws.pending_overrides = [o for o in ws.pending_overrides if (o.kind, o.name) != key]
    ws.pending_overrides.append(Override(kind, name, {}, whoami(), now(), f"clearing ({ctx.purpose})"))
    ws.refresh()

    def write() -> None:
        ws.pending_overrides = [o for o in ws.pending_overrides if (o.kind, o.name) != key]
        persist_pending(ws)
        clear_override(ws, kind, name)

    out = ctx.apply(targets, staged=False, before_write=write)
    if ctx.dry_run:
        ws.pending_overrides = [o for o in ws.pending_overrides if (o.kind, o.name) != key]
        ws.refresh()
    return {**out, "cleared": f"{kind}/{name}"}
