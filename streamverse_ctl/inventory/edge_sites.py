"""Meaning checks of ``EdgeSite`` documents: the parent PoP exists."""

from __future__ import annotations

import difflib
from collections.abc import Collection

from ..core.errors import Problem
from .model import Inventory


def check_edge_sites(inv: Inventory, pop_names: Collection[str]) -> list[Problem]:
    """Every EdgeSite's ``spec.pop`` names a declared PoP (checked on the raw spec, so a site with other
    problems still gets this one reported)."""
    problems: list[Problem] = []
    known = sorted(pop_names)
    for d in inv.of("EdgeSite"):
        pop = d.spec.get("pop") if isinstance(d.spec, dict) else None
        if not isinstance(pop, str) or pop in pop_names:
            continue
        near = difflib.get_close_matches(pop, known, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(near)}?" if near else (
            f"{len(known)} PoPs declared" if len(known) > 12 else f"PoPs: {', '.join(known) or 'none'}")
        problems.append(d.problem(f"unknown parent PoP '{pop}' ({hint})", ("spec", "pop")))
    return problems
