"""Deliberate one-off changes (``dns set-weights``, runbook actions, failover state).

Each is staged on the workspace (so plan and guardrails see it), applied through the same
lock, guardrails, journal and audit as ``apply``, and persisted in the state backend only once
the guardrails let it through. The next ``plan`` then shows it as a named override, not drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ..compiler import Override
from ..core.errors import InputError, Problem
from ..inventory.loader import merge_patch
from ..state.store import now, whoami
from .workspace import Workspace


def stage_override(ws: Workspace, kind: str, name: str, merge: Mapping[str, Any], reason: str = "") -> Override:
    """Stage a JSON merge patch on a document's spec; raises InputError if the result is invalid."""
    doc = ws.inventory.get(kind, name)
    if doc is None:
        known = ", ".join(d.name for d in ws.inventory.of(kind)) or "none"
        raise InputError([Problem(f"no {kind} named '{name}' in the inventory (known: {known})",
                                  str(ws.inventory_dir))], "override")
    existing = next((o for o in ws.overrides() if (o.kind, o.name) == (kind, name)), None)
    combined = merge_patch(dict(existing.merge), dict(merge)) if existing else dict(merge)
    model = type(doc.model)
    try:
        model.model_validate(merge_patch(doc.model.model_dump(by_alias=True, exclude_none=True), combined))
    except ValidationError as exc:  # report in inventory terms
        errors = exc.errors()
        raise InputError([Problem(f"{e['msg']}", doc.file, doc.source.line, doc.ref,
                                  "spec." + ".".join(map(str, e["loc"]))) for e in errors], "override") from exc
    override = Override(kind, name, combined, whoami(), now(), reason)
    ws.pending_overrides = [o for o in ws.pending_overrides if (o.kind, o.name) != (kind, name)] + [override]
    ws.refresh()
    return override


def stage_region_status(ws: Workspace, region: str, status: str) -> None:
    if region not in ws.compiled.regions:
        raise InputError([Problem(f"unknown region '{region}' (regions: {', '.join(ws.compiled.regions)})",
                                  str(ws.inventory_dir))], "failover")
    ws.pending_regions[region] = status
    ws.refresh()


def persist_pending(ws: Workspace) -> None:
    """Write staged overrides and region states to the state backend (call under the apply lock)."""
    for o in ws.pending_overrides:
        ws.state.set_override(o.kind, o.name, o.merge, o.reason)
        ws.state.audit("override.set", f"{o.kind}/{o.name}", "ok", merge=dict(o.merge), reason=o.reason)
    for region, status in ws.pending_regions.items():
        ws.state.set_region_status(region, status)
        ws.state.audit(f"region.{status}", region, "ok")
    ws.pending_overrides = []
    ws.pending_regions = {}


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


def clear_override(ws: Workspace, kind: str, name: str) -> bool:
    removed = ws.state.clear_override(kind, name)
    if removed:
        ws.state.audit("override.clear", f"{kind}/{name}", "ok")
        ws.refresh()
    return removed
