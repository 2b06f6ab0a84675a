"""Canary rollout of PoP configuration: ``pop.deploy`` (one wave of PoPs) and ``pop.rollback`` (undo a wave).

A wave applies the pending ``cdn.pop`` / ``cdn.cache_policy`` changes of its PoPs only (the plan's targets are
the resource ids ``cdn.pop/<pop>`` and ``cdn.cache_policy/*/<pop>``), through plan, guardrails, lock, journal
and audit like ``apply``. Waves are cumulative sizes over the PoPs in a fixed order (the canary first, then
by name): ``[1, "10%", "100%"]`` is one PoP, then up to 10 % of them, then all. A template (or Ansible host
vars) change changes no spec, so no plan shows it: with ``rerender`` (default) a wave also re-renders its
PoPs' configs on a provider that keeps whole configs (nginx) and deploys those whose text changes.

Rollback choice: before a wave is applied, ``pop.deploy`` records what its PoPs serve in the run's
artifacts (``pop-wave-<step>.json``): on a provider that keeps whole configs (nginx), each PoP's exact
config text; elsewhere (the sim) the actual ``cdn.pop`` / ``cdn.cache_policy`` specs. ``pop.rollback``
re-deploys exactly that — on nginx the earlier text byte for byte (candidate, ``nginx -t``, swap, reload,
served digest verified), so a template change rolls back too; elsewhere the earlier specs through the
provider's apply, verified — under the apply lock and audited. It does not touch the inventory: the change stays
pending, so the next plan of those PoPs shows it again until the inventory is fixed or reverted. The
rollback is a deliberate undo of this run's own change, so it is not held to the change-size guardrail.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...core.errors import PermanentError
from ...core.resources import Change, Resource
from ..context import ActionContext
from .cdn import edge_providers, with_edge_reports

TYPES = ("cdn.pop", "cdn.cache_policy")


def _all_pops(ctx: ActionContext) -> dict[str, dict[str, Any]]:
    return {r.name: dict(r.spec) for r in ctx.ws.compiled.resources if r.type == "cdn.pop"}


def order(ctx: ActionContext, pops: Sequence[str] | None = None, canary: str | None = None) -> list[str]:
    """The rollout order: the chosen PoPs (default: all) by name, ``canary`` first."""
    known = _all_pops(ctx)
    chosen = sorted(pops) if pops else sorted(known)
    unknown = sorted({*chosen, *([canary] if canary else [])} - set(known))
    if unknown:
        raise PermanentError(f"unknown PoP(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if canary:
        chosen = [canary, *[p for p in chosen if p != canary]]
    return chosen


def wave_sizes(waves: Sequence[Any], total: int) -> list[int]:
    """Cumulative PoP counts of each wave: ``1`` -> 1 PoP, ``"10%"`` -> ceil(10 % of total), at least one more
    than the wave before while any PoP is left, never more than ``total``."""
    out: list[int] = []
    problems = []
    for i, w in enumerate(waves):
        text = str(w).strip()
        try:
            n = math.ceil(float(text[:-1]) * total / 100) if text.endswith("%") else int(text)
        except ValueError:
            problems.append(f"waves[{i}]: {w!r} is neither a PoP count nor a percentage like '10%'")
            continue
        if n <= 0:
            problems.append(f"waves[{i}]: {w!r} must be above zero")
            continue
        prev = out[-1] if out else 0
        out.append(min(total, max(n, prev + 1)))
    if problems:
        raise PermanentError("; ".join(problems))
    return out


def wave_pops(ctx: ActionContext, wave: int, waves: Sequence[Any], pops: Sequence[str] | None = None,
              canary: str | None = None) -> tuple[list[str], list[str]]:
    """(PoPs of the waves before ``wave``, PoPs of ``wave``) — ``wave`` counts from 0."""
    seq = order(ctx, pops, canary)
    sizes = wave_sizes(waves, len(seq))
    if not 0 <= wave < len(sizes):
        raise PermanentError(f"wave {wave} is not one of the {len(sizes)} wave(s) {list(waves)}")
    start = sizes[wave - 1] if wave > 0 else 0
    return seq[:start], seq[start:sizes[wave]]


def targets(pops: Sequence[str]) -> list[str]:
    return [t for p in pops for t in (f"cdn.pop/{p}", f"cdn.cache_policy/*/{p}")]


def _record_path(ctx: ActionContext, step: str) -> Path:
    return ctx.artifacts_dir / f"pop-wave-{step.replace('/', '_')}.json"


def _serving(ctx: ActionContext, pops: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """provider -> what it serves now for these PoPs (cdn.pop and cdn.cache_policy, as type/name/spec)."""
    wanted = set(pops)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, types in sorted(ctx.ws.scope().items()):
        if not set(TYPES) & set(types):
            continue
        found = ctx.ws.provider(name).read([t for t in TYPES if t in types])
        out[name] = [{"type": r.type, "name": r.name, "spec": dict(r.spec)} for r in found
                     if _pop_of(r.type, r.name, r.spec) in wanted]
    return out


def _pop_of(rtype: str, name: str, spec: Any) -> str:
    return name if rtype == "cdn.pop" else str((spec or {}).get("pop", ""))


def _pops_of(changes: Sequence[Change]) -> list[str]:
    return sorted({_pop_of(c.type, c.name, c.after or c.before) for c in changes})


def deploy(ctx: ActionContext, wave: int, waves: list[Any], pops: list[str] | None = None,
           canary: str | None = None, rerender: bool = True) -> dict[str, Any]:
    """Apply the pending cdn.pop / cdn.cache_policy changes of wave ``wave`` (0-based) of ``waves``; with
    ``rerender``, also re-render the wave's configs a template (or host vars) change made stale."""
    before, chosen = wave_pops(ctx, int(wave), waves, pops or None, canary or None)
    regions = sorted({str(_all_pops(ctx)[p]["region"]) for p in chosen})
    base = {"wave": int(wave) + 1, "of": len(waves), "pops": chosen, "regions": regions,
            "deployed": [*before, *chosen]}
    if not chosen:
        return {**base, "applied": 0, "changed": "nothing to change: no PoP left for this wave"}
    ctx.note(f"wave {int(wave) + 1}/{len(waves)}: {len(chosen)} PoP(s): {', '.join(chosen)}"
             + (f" (after {len(before)} already)" if before else ""))
    record = _record_path(ctx, ctx.step)
    if not ctx.dry_run and not record.exists():  # a resumed wave keeps what served before its first attempt
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"pops": chosen, "serving": _serving(ctx, chosen), "texts": _texts(ctx, chosen)},
                                     indent=1, sort_keys=True))
    out = with_edge_reports(ctx, lambda: ctx.apply(targets(chosen)))
    if rerender:
        out = _rerender(ctx, chosen, out)
    return {**out, **base}


def _texts(ctx: ActionContext, pops: Sequence[str]) -> dict[str, dict[str, str | None]]:
    """provider -> PoP -> the whole config text it serves (providers that keep one: nginx)."""
    out: dict[str, dict[str, str | None]] = {}
    for name, (provider, served) in sorted(edge_providers(ctx.ws, pops).items()):
        texts = getattr(provider, "config_texts", None)
        if texts is not None:
            out[name] = texts(sorted(served))
    return out


def _rerender(ctx: ActionContext, pops: Sequence[str], out: dict[str, Any]) -> dict[str, Any]:
    """Re-render the wave's configs whose template or host vars changed (nothing a plan shows)."""
    reports: list[str] = []
    for _, (provider, served) in sorted(edge_providers(ctx.ws, pops).items()):
        redeploy = getattr(provider, "redeploy", None)
        if redeploy is None:
            continue
        if ctx.dry_run:
            reports += [str(r) for r in redeploy(sorted(served), dry_run=True)]
            continue
        with ctx.ws.state.lock("apply", purpose=ctx.purpose, timeout=60):
            done = [str(r) for r in redeploy(sorted(served))]
            if done:
                ctx.audit("pop.redeploy", ",".join(sorted(served)), "ok", changed=done)
        reports += done
    for r in reports:
        ctx.note(r)
    if not reports:
        return out
    text = "; ".join(reports)
    changed = text if str(out.get("changed", "")).startswith("nothing") else f"{out.get('changed')}; {text}"
    return {**out, "on_pops": [*out.get("on_pops", []), *reports], "changed": changed}


def rollback(ctx: ActionContext, of: str | None = None) -> dict[str, Any]:
    """Re-deploy what the PoPs of the wave step ``of`` (default: the step this one undoes) served before it."""
    step = of or ctx.step.split("/on_failure/")[0]
    record = _record_path(ctx, step)
    if not record.exists():
        ctx.note(f"step {step} recorded no earlier config (it never got to apply): nothing to roll back")
        return {"rolled_back": [], "changed": "nothing to change: the wave applied nothing"}
    data = json.loads(record.read_text())
    chosen: list[str] = list(data["pops"])
    texts: dict[str, dict[str, str | None]] = data.get("texts", {})
    changes: dict[str, list[Change]] = {}
    desired: dict[str, list[Resource]] = {}
    current = _serving(ctx, chosen)
    restore: dict[str, dict[str, str]] = {}
    for provider, by_pop in texts.items():  # whole configs: re-deploy the exact earlier text
        keeper: Any = ctx.ws.provider(provider)  # an nginx-like provider (config_texts / restore_configs)
        now_texts = keeper.config_texts(sorted(by_pop))
        restore[provider] = {p: t for p, t in by_pop.items() if t is not None and now_texts.get(p) != t}
    for provider, old in data["serving"].items():
        if provider in texts:
            continue
        now = {(r["type"], r["name"]): r["spec"] for r in current.get(provider, [])}
        want = {(r["type"], r["name"]): r["spec"] for r in old}
        cs: list[Change] = []
        for (t, n), spec in sorted(want.items()):
            if now.get((t, n)) != spec:
                cs.append(Change("update" if (t, n) in now else "create", t, n, provider, now.get((t, n)), spec,
                                 reason=f"rollback of {step}"))
        for (t, n), spec in sorted(now.items()):
            if (t, n) not in want:
                cs.append(Change("delete", t, n, provider, spec, None, reason=f"rollback of {step}"))
        if cs:
            changes[provider] = sorted(cs, key=lambda c: TYPES.index(c.type) if c.action != "delete" else -1)
            desired[provider] = [Resource(t, n, s, provider) for (t, n), s in sorted(want.items())]
    restore = {p: t for p, t in restore.items() if t}
    where = "; ".join([f"{p}: {len(cs)} change(s) on {', '.join(_pops_of(cs))}" for p, cs in sorted(changes.items())]
                      + [f"{p}: earlier config of {', '.join(sorted(t))}" for p, t in sorted(restore.items())])
    if not changes and not restore:
        ctx.note(f"the PoPs of {step} ({', '.join(chosen)}) already serve their earlier config")
        return {"rolled_back": chosen, "changed": "nothing to change: the earlier config already serves"}
    if ctx.dry_run:
        ctx.note(f"would roll back {step}: {where}")
        return {"rolled_back": chosen, "dry_run": True, "changed": f"would change: {where}"}

    def run() -> dict[str, Any]:
        bad: list[str] = []
        with ctx.ws.state.lock("apply", purpose=ctx.purpose, timeout=60):
            for provider, by_pop in sorted(restore.items()):
                restorer: Any = ctx.ws.provider(provider)
                restorer.restore_configs(by_pop)
            for provider, cs in sorted(changes.items()):
                ctx.ws.provider(provider).apply(cs)
                bad += [v.resource_id for v in ctx.ws.provider(provider).verify(desired[provider]) if not v.ok]
            ctx.audit("pop.rollback", ",".join(chosen), "failed" if bad else "ok", of=step,
                      changes=[f"{c.action} {c.id}" for cs in changes.values() for c in cs],
                      restored=[f"{p}/{pop}" for p, t in restore.items() for pop in sorted(t)])
        if bad:
            raise PermanentError(f"rolled back {step}, but {len(bad)} resource(s) do not serve the earlier config: "
                                 + ", ".join(bad[:5]))
        return {"rolled_back": chosen, "changed": f"rolled back {step}: {where}"}

    out = with_edge_reports(ctx, run)
    ctx.note(f"rolled back {step} on {', '.join(chosen)}; the inventory change is still pending for them")
    return out


def _needs(args: dict[str, Any]) -> tuple[list[str], bool]:
    return list(TYPES), True


deploy.needs = _needs  # type: ignore[attr-defined]
rollback.needs = _needs  # type: ignore[attr-defined]
