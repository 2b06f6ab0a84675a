"""PoP evacuation: ``pop.select`` (which PoPs, edge sites and neighbours) and ``pop.serve`` (in or out of service).

Out of service is the PoP field ``serving: false``, set as an override on the PoP document and applied
through plan/guardrails/lock/journal/audit; it compiles into the ``cdn.pop`` spec. On the sim platform the
load model then spreads the PoP's users over its region's other PoPs (its edge sites go out with it); an
nginx PoP answers viewers 503 (its admin endpoints keep answering) so clients and GeoDNS health checks
move to the next PoP. ``serving: true`` clears the override.

Selection: ``pops`` by name, ``city`` (the PoPs whose city it is, case-insensitive) or ``metro`` (the PoPs
labelled ``metro: X``, else whose city is X). The neighbours are the other serving PoPs of the same
regions; an evacuation that would leave a region with no serving PoP is refused (nowhere to steer to).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import PermanentError
from ...engine import overrides as ov
from ..context import ActionContext
from .cdn import with_edge_reports


def _labels(ctx: ActionContext, pop: str) -> dict[str, str]:
    doc = ctx.ws.inventory.get("PoP", pop)
    return dict(getattr(doc, "labels", None) or {}) if doc is not None else {}


def select(ctx: ActionContext, pops: list[str] | None = None, city: str | None = None,
           metro: str | None = None, evacuate: bool = False) -> dict[str, Any]:
    """The PoPs to evacuate (or restore), their edge sites, regions and neighbours; with ``evacuate``,
    refused (before anything is warmed) when a region would be left with no serving PoP."""
    all_pops = {r.name: dict(r.spec) for r in ctx.ws.compiled.resources if r.type == "cdn.pop"}
    given = [w for w, v in (("pops", pops), ("city", city), ("metro", metro)) if v]
    if len(given) != 1:
        raise PermanentError("give exactly one of pops, city or metro (got "
                             + (", ".join(given) if given else "none") + ")")
    if pops:
        unknown = sorted(set(pops) - set(all_pops))
        if unknown:
            raise PermanentError(f"unknown PoP(s): {', '.join(unknown)} (known: {', '.join(sorted(all_pops))})")
        chosen = sorted(set(pops))
    elif city:
        chosen = sorted(p for p, s in all_pops.items() if str(s.get("city", "")).casefold() == city.casefold())
    else:
        assert metro is not None
        chosen = sorted(p for p, s in all_pops.items() if _labels(ctx, p).get("metro", str(s.get("city", "")))
                        .casefold() == metro.casefold())
    if not chosen:
        cities = sorted({str(s.get("city")) for s in all_pops.values()})
        raise PermanentError(f"no PoP in {city or metro!r} (cities: {', '.join(cities)})")
    regions = sorted({str(all_pops[p]["region"]) for p in chosen})
    neighbours = sorted(p for p, s in all_pops.items() if p not in chosen and str(s["region"]) in regions
                        and s.get("serving", True) is not False)
    alone = [r for r in regions if not any(str(all_pops[n]["region"]) == r for n in neighbours)]
    sites = sorted(r.name for r in ctx.ws.compiled.resources if r.type == "cdn.edge_site"
                   and str(r.spec.get("pop")) in chosen)
    if evacuate and alone:
        raise PermanentError(f"taking {', '.join(chosen)} out of service leaves no serving PoP in "
                             f"{', '.join(alone)}: their users would have nowhere to go (fail the region over "
                             "instead: runbook regional-failover); nothing was changed")
    out = {"pops": chosen, "regions": regions, "neighbours": neighbours, "edge_sites": sites,
           "alone": alone}
    ctx.note(f"PoP(s) {', '.join(chosen)} ({len(sites)} edge site(s)) in {', '.join(regions)}; "
             f"neighbours: {', '.join(neighbours) or 'none'}")
    return out


def serve(ctx: ActionContext, pops: list[str], serving: bool) -> dict[str, Any]:
    """Take PoPs out of service (``serving: false``) or back in (clears the override)."""
    known = {r.name: dict(r.spec) for r in ctx.ws.compiled.resources if r.type == "cdn.pop"}
    unknown = sorted(set(pops) - set(known))
    if unknown or not pops:
        raise PermanentError(f"pop.serve: unknown PoP(s): {', '.join(unknown)}" if unknown else "pop.serve: no PoP")
    if not serving:
        regions = {str(known[p]["region"]) for p in pops}
        left = {r: [n for n, s in known.items() if str(s["region"]) == r and n not in pops
                    and s.get("serving", True) is not False] for r in regions}
        empty = sorted(r for r, n in left.items() if not n)
        if empty:
            raise PermanentError(f"taking {', '.join(sorted(pops))} out of service leaves no serving PoP in "
                                 f"{', '.join(empty)}: their users would have nowhere to go (fail the region over "
                                 "instead: runbook regional-failover); nothing was changed")
    what = "back in service" if serving else "out of service"
    reason = f"runbook {ctx.runbook} ({ctx.run_id}): PoP {what}"

    def stage() -> None:
        for p in sorted(pops):
            ov.stage_or_clear(ctx.ws, "PoP", p, {"serving": None if serving else False}, reason)

    out = with_edge_reports(ctx, lambda: ctx.apply([f"PoP/{p}" for p in sorted(pops)] +
                                                   [f"cdn.pop/{p}" for p in sorted(pops)], stage=stage))
    return {**out, "pops": sorted(pops), "serving": bool(serving)}


def _needs(args: dict[str, Any]) -> tuple[list[str], bool]:
    return ["cdn.pop"], True


serve.needs = _needs  # type: ignore[attr-defined]
