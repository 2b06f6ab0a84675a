"""Whether what a step changes is served by a real system here, or only by the sim platform.

Some actions change things no provider implements yet except the sim platform (PoP warming jobs,
per-IP rate limits, origin node counts), and an inventory with real providers may bind the sim
platform as a stand-in for types nothing real serves yet (production's ``sim-platform`` serves
``platform.*`` and ``cdn.*``). On such an inventory (not run with ``--platform sim``) those steps would
change nothing real, so they are never reported done: the run is refused before it starts, naming
each step and the type, unless the step is ``optional: true`` (then it is skipped, saying so).

Each sim-capable action carries ``needs(with) -> (types, only)``: the resource types it changes that
may lack a real provider, and whether that is all the step changes (``only``; else the action does
its real part and skips the rest).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.workspace import Workspace

SIM = "sim"
# changed only through the sim platform's store: no provider type implements these yet
SIM_ONLY_TYPES = {
    "cdn.warm_job": "PoP warming jobs",
    "cdn.rate_limit": "per-IP rate limits",
    "platform.origin": "origin node counts",
}


# a sim-only operation is carried out for real by the provider serving this type, when that provider's
# class lists the operation in ``implements`` (e.g. the nginx PoP fleet warms and rate-limits for real)
CARRIED_BY = {"cdn.warm_job": "cdn.pop", "cdn.rate_limit": "cdn.pop"}


def implements(provider_type: str, rtype: str) -> bool:
    from ..core.errors import PermanentError
    from ..core.registry import providers

    try:
        cls = providers.get(provider_type)
    except PermanentError:
        return False
    return rtype in getattr(cls, "implements", frozenset())


def on_sim_platform(ws: Workspace) -> bool:
    """The whole run is on the sim platform (``--platform sim``, or an inventory without Provider documents)."""
    return all(b.type == SIM for b in ws.compiled.bindings.values())


def serving(ws: Workspace, rtype: str) -> tuple[str, str] | None:
    """(provider name, provider type) serving ``rtype``: the binding of a compiled resource of that type,
    else the first Provider document whose ``serves.types`` matches it."""
    bindings = ws.compiled.bindings
    for r in ws.compiled.resources:
        if r.type == rtype and r.provider in bindings:
            return r.provider, bindings[r.provider].type
    for doc in ws.inventory.of("Provider"):
        if any(fnmatch.fnmatchcase(rtype, pat) for pat in doc.model.serves.types):
            return doc.name, str(doc.model.type)
    return None


def not_served(ws: Workspace, rtype: str) -> str | None:
    """Why nothing real would change ``rtype`` here, or None when something real does (or the run is on the
    sim platform, where the sim is the point)."""
    if on_sim_platform(ws):
        return None
    if rtype == "platform.origin" and real_origin_fleets(ws):
        return None  # origin node counts are OriginFleet sizes on a real provider (autoscaling)
    if rtype in CARRIED_BY:
        carrier = serving(ws, CARRIED_BY[rtype])
        if carrier is not None and carrier[1] != SIM and implements(carrier[1], rtype):
            return None
    found = serving(ws, rtype)
    what = SIM_ONLY_TYPES.get(rtype, rtype)
    label = f"{rtype} ({what})" if rtype in SIM_ONLY_TYPES else rtype
    if found is not None and found[1] == SIM:
        return (f"no real provider serves {label}: only the sim platform stand-in '{found[0]}' does, which "
                "changes nothing real")
    if rtype in SIM_ONLY_TYPES:
        return f"no provider type implements {label} yet (only the sim platform)"
    if found is None:
        return f"no provider serves {label}"
    return None


def real_origin_fleets(ws: Workspace, region: str | None = None) -> list[str]:
    """Names of the OriginFleet resources (of ``region``) bound to a provider that is not the sim."""
    bindings = ws.compiled.bindings
    return [r.name for r in ws.compiled.resources if r.type == "platform.origin_fleet"
            and r.provider in bindings and bindings[r.provider].type != SIM
            and (region is None or r.spec.get("region") == region)]


def step_needs(fn: Any, args: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The types a step's action may change without a real provider, and whether that is all it changes."""
    needs = getattr(fn, "needs", None)
    if needs is None:
        return [], False
    types, only = needs(dict(args))
    return list(types), bool(only)


def unserved(ws: Workspace, fn: Any, args: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The reasons (one per type) nothing real would change what the step changes, and whether that is all
    of the step's effect."""
    types, only = step_needs(fn, args)
    reasons = [r for r in (not_served(ws, t) for t in types) if r is not None]
    return reasons, only and len(reasons) == len(types)
