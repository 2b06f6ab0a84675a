"""DNS actions: ``dns.set_weights``, ``dns.verify``, ``dns.clear_override``."""

from __future__ import annotations

from typing import Any

from ...core.errors import PermanentError
from ...engine import overrides as ov
from ..context import ActionContext
from ..probes import dns_weights


def set_weights(ctx: ActionContext, policy: str, weights: dict[str, Any], reason: str = "") -> dict[str, Any]:
    """Set a weighted policy's weights (a recorded override), through plan, guardrails, lock and audit."""
    parsed = {str(k): int(v) for k, v in weights.items()}
    why = reason or f"runbook {ctx.runbook} ({ctx.run_id})"
    out = ctx.apply([f"TrafficPolicy/{policy}"], stage=lambda: ov.stage(
        ctx.ws, "TrafficPolicy", policy, ov.weights_merge(ctx.ws, policy, parsed), why))
    return {**out, "weights": parsed, "served": {} if ctx.dry_run else dns_weights(ctx.ws, policy)}


def verify(ctx: ActionContext, policy: str, timeout: float = 30.0) -> dict[str, Any]:
    """Ask the DNS provider(s) to prove they serve what the policy should answer now."""
    checked, bad = 0, []
    for name, resources in ctx.ws.compiled.by_provider().items():
        mine = [r for r in resources if r.type == "dns.record" and r.spec.get("policy") == policy]
        if not mine:
            continue
        if ctx.dry_run:
            checked += len(mine)
            continue
        for v in ctx.ws.provider(name).verify(mine, timeout):
            checked += 1
            if not v.ok:
                bad.append(f"{v.resource_id}: {v.detail}")
    if bad:
        raise PermanentError(f"DNS answers for {policy} do not match ({len(bad)}/{checked}): " + "; ".join(bad[:5]))
    ctx.note(f"{checked} DNS answer set(s) of {policy} verified" + (" (dry run: not queried)" if ctx.dry_run else ""))
    return {"checked": checked, "weights": {} if ctx.dry_run else dns_weights(ctx.ws, policy)}


def clear_override(ctx: ActionContext, policy: str) -> dict[str, Any]:
    """Return a policy to the inventory's weights and forget the override (through apply)."""
    out = ctx.apply([f"TrafficPolicy/{policy}"], stage=lambda: ov.stage_clear(ctx.ws, "TrafficPolicy", policy,
                                                                             ctx.purpose))
    return {**out, "cleared": f"TrafficPolicy/{policy}"}


def _set_weights_check(ctx: ActionContext, policy: str, weights: dict[str, Any],
                       reason: str = "") -> dict[str, Any] | None:
    want = {str(k): int(v) for k, v in weights.items()}
    stored = next((o for o in ctx.ws.state.overrides() if (o["kind"], o["name"]) == ("TrafficPolicy", policy)), None)
    served = dns_weights(ctx.ws, policy)
    drained = ctx.ws.drained()
    expect = {r: (0 if r in drained else w) for r, w in want.items()}
    if stored and all(stored["merge"].get("weights", {}).get(r) == w for r, w in want.items()) \
            and all(served.get(r) == w for r, w in expect.items()):
        return {"weights": want, "served": served, "applied": 0, "note": "already in place"}
    return None


set_weights.check = _set_weights_check  # type: ignore[attr-defined]
