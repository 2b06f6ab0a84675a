"""``ratelimit.set``: a per-IP request limit at the edge: on the PoPs of an edge-cache provider (nginx
``limit_req``) when one serves them, else on the sim platform."""

from __future__ import annotations

from typing import Any

from ...core.errors import PermanentError
from ...providers.edge import EdgeChange
from ..context import ActionContext
from .cdn import edge_providers


def set_limit(ctx: ActionContext, scope: str, rps: int | None) -> dict[str, Any]:
    """Set the per-IP limit of ``scope`` (e.g. ``video:abc123`` or ``global``) to ``rps`` req/s; null removes."""
    if rps is not None and int(rps) <= 0:
        raise PermanentError(f"rps must be positive, not {rps}")
    value = None if rps is None else int(rps)
    shown = f"{value} req/s" if value is not None else "none"
    edge = edge_providers(ctx.ws)
    if edge:
        return _set_on_edge(ctx, scope, value, edge)
    if ctx.dry_run:
        ctx.note(f"would set the per-IP rate limit of {scope} to {shown}")
        return {"scope": scope, "rps": value, "dry_run": True,
                "changed": f"would change: sim: per-IP limit of {scope} set to {shown}"}
    store = ctx.require_sim("ratelimit.set", "cdn.rate_limit")
    with ctx.ws.state.lock("apply", purpose=ctx.purpose, timeout=60):
        previous = store.rate_limits().get(scope)
        store.set_rate_limit(scope, value)
        ctx.audit("ratelimit.set", scope, "ok", rps=value, previous=previous)
    return {"scope": scope, "rps": value, "previous": previous,
            "changed": f"sim: per-IP limit of {scope} set to {shown}"}


def _set_on_edge(ctx: ActionContext, scope: str, value: int | None, edge: dict[str, Any]) -> dict[str, Any]:
    changes: list[EdgeChange] = []
    previous: dict[str, int | None] = {}

    def run() -> None:
        for _, (provider, pops) in sorted(edge.items()):
            for pop, limits in provider.rate_limits().items():
                if pop in pops:
                    previous[pop] = limits.get(scope)
            changes.extend(provider.set_rate_limit(scope, value, sorted(pops), dry_run=ctx.dry_run))

    if ctx.dry_run:
        run()
    else:
        with ctx.ws.state.lock("apply", purpose=ctx.purpose, timeout=60):
            run()
            ctx.audit("ratelimit.set", scope, "ok", rps=value, previous=previous, pops=[c.pop for c in changes])
    for c in changes:
        ctx.note(str(c))
    shown = f"{value} req/s" if value is not None else "none"
    if not changes:
        what = "nothing to change: per-IP limit of {scope} is already {shown} on every PoP"
        return {"scope": scope, "rps": value, "previous": previous, "changed": what.format(scope=scope, shown=shown)}
    would = "would change: " if ctx.dry_run else ""
    return {"scope": scope, "rps": value, "previous": previous, "on_pops": [str(c) for c in changes],
            **({"dry_run": True} if ctx.dry_run else {}),
            "changed": would + "; ".join(str(c) for c in changes)}


def _needs(args: dict[str, Any]) -> tuple[list[str], bool]:
    return ["cdn.rate_limit"], True


set_limit.needs = _needs  # type: ignore[attr-defined]
