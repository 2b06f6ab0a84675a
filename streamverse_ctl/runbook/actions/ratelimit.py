"""``ratelimit.set``: a per-IP request limit at the edge (sim platform only until a CDN provider has one)."""

from __future__ import annotations

from typing import Any

from ...core.errors import PermanentError
from ..context import ActionContext


def set_limit(ctx: ActionContext, scope: str, rps: int | None) -> dict[str, Any]:
    """Set the per-IP limit of ``scope`` (e.g. ``video:abc123`` or ``global``) to ``rps`` req/s; null removes."""
    if rps is not None and int(rps) <= 0:
        raise PermanentError(f"rps must be positive, not {rps}")
    value = None if rps is None else int(rps)
    shown = f"{value} req/s" if value is not None else "none"
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


def _needs(args: dict[str, Any]) -> tuple[list[str], bool]:
    return ["cdn.rate_limit"], True


set_limit.needs = _needs  # type: ignore[attr-defined]
