"""Deliberate one-off changes: overrides (``dns set-weights``, ``dns clear-override``, runbook
actions) and region states (drain, serve). The one place that stages, clears and applies them.

A change is *staged* on the workspace (so plan and guardrails see it), then applied by
:func:`apply_staged`: under the apply lock it stages (on the state as it is under the lock),
plans, runs the guardrails, and applies through :func:`..apply.apply_plan` (journal, audit,
verify). The staged changes are written to the state backend only once the guardrails and the
lock re-check let the plan through, just before the provider writes: a refused, cancelled or dry
run leaves nothing but the audit entry. (Persisted before the provider writes, not after: if a
write fails half way, the next apply completes the override instead of undoing the half that
landed, e.g. a region set to weight 0 in an incident is not given traffic back.)

Clearing is staged as an override with an empty merge patch: the plan then shows the way back to
the inventory's spec, and persisting it forgets the stored override.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from ..compiler import Override
from ..core.errors import GuardrailRefused, InputError, Problem
from ..inventory.loader import merge_patch
from ..state.store import now, whoami
from .apply import ApplyResult, Reporter, apply_plan
from .plan import Plan
from .workspace import Workspace


@dataclass
class Outcome:
    """What :func:`apply_staged` did: the plan, the apply (None in a dry run), overrides set and cleared."""

    plan: Plan
    result: ApplyResult | None = None
    set: list[str] = field(default_factory=list)  # "Kind/name" of overrides recorded
    cleared: list[str] = field(default_factory=list)  # "Kind/name" of overrides forgotten


# ----- staging ----------------------------------------------------------------------------------
def document(ws: Workspace, kind: str, name: str, what: str = "override") -> Any:
    """The inventory document ``kind/name``; InputError naming the known ones if there is none."""
    doc = ws.inventory.get(kind, name)
    if doc is None:
        known = ", ".join(d.name for d in ws.inventory.of(kind)) or "none"
        raise InputError([Problem(f"no {kind} named '{name}' in the inventory (known: {known})",
                                  str(ws.inventory_dir))], what)
    return doc


def _stage(ws: Workspace, override: Override) -> Override:
    key = (override.kind, override.name)
    ws.pending_overrides = [o for o in ws.pending_overrides if (o.kind, o.name) != key] + [override]
    ws.refresh()
    return override


def stage(ws: Workspace, kind: str, name: str, merge: Mapping[str, Any], reason: str = "") -> Override:
    """Stage a JSON merge patch on a document's spec (on top of any override in force); raises
    InputError, in inventory terms, if the result is not a valid spec."""
    doc = document(ws, kind, name, "override")
    existing = next((o for o in ws.overrides() if (o.kind, o.name) == (kind, name)), None)
    combined = merge_patch(dict(existing.merge), dict(merge)) if existing else dict(merge)
    try:
        type(doc.model).model_validate(merge_patch(doc.model.model_dump(by_alias=True, exclude_none=True), combined))
    except ValidationError as exc:
        raise InputError([Problem(f"{e['msg']}", doc.file, doc.source.line, doc.ref,
                                  "spec." + ".".join(map(str, e["loc"]))) for e in exc.errors()],
                         "override") from exc
    return _stage(ws, Override(kind, name, combined, whoami(), now(), reason))


def stage_clear(ws: Workspace, kind: str, name: str, reason: str = "") -> Override:
    """Stage the return of a document to its inventory spec (forgetting its override once applied)."""
    document(ws, kind, name, "override")
    return _stage(ws, Override(kind, name, {}, whoami(), now(), f"clearing ({reason})" if reason else "clearing"))


def stage_or_clear(ws: Workspace, kind: str, name: str, merge: Mapping[str, Any], reason: str = "") -> bool:
    """Stage ``merge``; if the result equals the inventory's own spec, stage a clear instead (True)."""
    stage(ws, kind, name, merge, reason)
    if current_spec(ws, kind, name) == document(ws, kind, name, "override").model:
        stage_clear(ws, kind, name, reason)
        return True
    return False


def stage_region_status(ws: Workspace, region: str, status: str) -> None:
    """Stage a region's failover state: ``drained`` or ``serving``."""
    if region not in ws.compiled.regions:
        raise InputError([Problem(f"unknown region '{region}' (regions: {', '.join(ws.compiled.regions)})",
                                  str(ws.inventory_dir))], "failover")
    ws.pending_regions[region] = status
    ws.refresh()


def discard_staged(ws: Workspace) -> None:
    """Forget everything staged and not persisted (after a refusal, a cancel or an error)."""
    if ws.pending_overrides or ws.pending_regions:
        ws.pending_overrides, ws.pending_regions = [], {}
        ws.refresh()


# ----- reading ----------------------------------------------------------------------------------
def is_clearing(override: Override) -> bool:
    return not override.merge


def current_spec(ws: Workspace, kind: str, name: str) -> Any:
    """A document's spec model with the override in force (stored, or staged) applied."""
    doc = document(ws, kind, name, "override")
    model = doc.model
    override = next((o for o in ws.overrides() if (o.kind, o.name) == (kind, name)), None)
    if override is None or is_clearing(override):
        return model
    assert isinstance(model, BaseModel)
    return type(model).model_validate(merge_patch(model.model_dump(by_alias=True, exclude_none=True),
                                                  dict(override.merge)))


def has_override(ws: Workspace, kind: str, name: str) -> bool:
    """Whether an override of ``kind/name`` is in force (stored or staged, and not being cleared)."""
    return any((o.kind, o.name) == (kind, name) and not is_clearing(o) for o in ws.overrides())


def weights_merge(ws: Workspace, policy: str, weights: Mapping[str, int]) -> dict[str, Any]:
    """Validate a ``set-weights`` request against the policy; return the merge patch."""
    doc = ws.inventory.get("TrafficPolicy", policy)
    problems = []
    if doc is None:
        known = ", ".join(d.name for d in ws.inventory.of("TrafficPolicy"))
        raise InputError([Problem(f"no TrafficPolicy named '{policy}' (known: {known})", str(ws.inventory_dir))],
                         "set-weights")
    if doc.model.routing != "weighted":
        problems.append(Problem(f"TrafficPolicy '{policy}' uses {doc.model.routing} routing; set-weights needs "
                                "weighted routing", doc.file, doc.source.line, doc.ref, "spec.routing"))
    for region, w in weights.items():
        if region not in (doc.model.weights or {}):
            problems.append(Problem(f"region '{region}' is not in policy '{policy}' "
                                    f"(its regions: {', '.join(doc.model.weights or {})})", "<command line>"))
        if not 0 <= w <= 255:
            problems.append(Problem(f"weight for {region} must be 0..255, not {w}", "<command line>"))
    if problems:
        raise InputError(problems, "set-weights")
    return {"weights": dict(weights)}


# ----- writing ----------------------------------------------------------------------------------
def persist(ws: Workspace) -> tuple[list[str], list[str]]:
    """Write what is staged to the state backend (under the apply lock): overrides set, overrides
    cleared, region states. Returns ("Kind/name" set, "Kind/name" cleared)."""
    set_, cleared = [], []
    for o in ws.pending_overrides:
        ref = f"{o.kind}/{o.name}"
        if is_clearing(o):
            if ws.state.clear_override(o.kind, o.name):
                ws.state.audit("override.clear", ref, "ok", reason=o.reason)
                cleared.append(ref)
        else:
            ws.state.set_override(o.kind, o.name, o.merge, o.reason)
            ws.state.audit("override.set", ref, "ok", merge=dict(o.merge), reason=o.reason)
            set_.append(ref)
    for region, status in ws.pending_regions.items():
        ws.state.set_region_status(region, status)
        ws.state.audit(f"region.{status}", region, "ok")
    ws.pending_overrides, ws.pending_regions = [], {}
    ws.refresh()
    return set_, cleared


def apply_staged(ws: Workspace, targets: Sequence[str], *, purpose: str, force: Collection[str] = (),
                 stage: Callable[[], object] | None = None, dry_run: bool = False, lock_timeout: float = 0.0,
                 show: Callable[[Plan], None] | None = None, confirm: Callable[[Plan], None] | None = None,
                 reporter: Reporter | None = None, verify: bool = True,
                 audit: Mapping[str, Any] | None = None) -> Outcome:
    """Stage (``stage``, under the lock), plan ``targets``, guardrails, apply, persist what is staged.

    ``show`` sees the plan (refused or not); ``confirm`` may raise to cancel (it is not asked for
    a refused plan or in a dry run). A dry run takes no lock, writes nothing, and keeps what is
    staged on the workspace (a runbook's later dry-run steps plan on top of it). Any other way
    out but success discards what is staged. Raises GuardrailRefused (audited, with ``audit``'s
    fields) when a guardrail not in ``force`` refuses.
    """
    if dry_run:
        if stage is not None:
            stage()
        plan = ws.plan(list(targets), force=sorted(force))
        if show is not None:
            show(plan)
        return Outcome(plan)
    try:
        with ws.locked(purpose, timeout=lock_timeout):  # stage and plan on the state as it is under the lock
            if stage is not None:
                stage()
            plan = ws.plan(list(targets), force=sorted(force))
            if show is not None:
                show(plan)
            if plan.refusals:
                ws.state.audit("apply", plan.id, "refused", purpose=purpose, forced=sorted(force),
                               refusals=[f"[{r.name}] {r.message}" for r in plan.refusals], **dict(audit or {}))
                raise GuardrailRefused(plan.refusals)
            if confirm is not None:
                confirm(plan)
            done: dict[str, list[str]] = {}

            def write() -> None:
                done["set"], done["cleared"] = persist(ws)

            result = apply_plan(ws, plan, force=force, lock_timeout=lock_timeout, reporter=reporter,
                                verify=verify, purpose=purpose, before_write=write)
    finally:
        discard_staged(ws)  # persisted ones are gone already; anything left was not let through
    return Outcome(plan, result, done.get("set", []), done.get("cleared", []))
