"""Meaning of ``DnsRecord`` documents: values per type, and names that may not clash.

Every problem is reported at once, each with file, line and field:

- each value against its type (:mod:`.dnsvalues`): an MX needs a preference and a host, an SRV
  priority/weight/port/target, a CAA flags/tag/value, A/AAAA addresses, names for CNAME/NS/PTR;
- a CNAME stands alone at its name: one value, no other DnsRecord of any type at that name and no
  TrafficPolicy answering there, and never at the zone apex;
- an ALIAS has exactly one target; one name and type is declared by one document only (a
  DnsRecord or a TrafficPolicy).
"""

from __future__ import annotations

from collections import defaultdict

from ..core.errors import Problem
from .dnsvalues import ValueProblem, dns_name, from_inventory
from .model import Document, Inventory


def fqdn_of(zone: str, name: str) -> str:
    """The absolute name of ``name`` (relative to ``zone``, ``@`` for the apex)."""
    name = name.strip().lower().rstrip(".")
    return zone if name in ("", "@") else f"{name}.{zone}"


def record_type(spec_type: str, alias_type: str) -> str:
    """The rtype a DnsRecord is served as (an ALIAS answers with its target's type)."""
    return alias_type if spec_type == "ALIAS" else spec_type


def check(inv: Inventory) -> list[Problem]:
    problems: list[Problem] = []
    # (zone, fqdn) -> [(document, rtype, field path)] of everything answering at that name
    at_name: dict[tuple[str, str], list[tuple[Document, str, tuple[str, ...]]]] = defaultdict(list)
    for d in inv.of("TrafficPolicy"):
        if d.model is not None:
            at_name[(d.model.zone, fqdn_of(d.model.zone, d.model.record))].append((d, d.model.type, ("spec", "record")))
    for d in inv.of("DnsRecord"):
        if d.model is None:
            continue
        r = d.model
        for i, value in enumerate(r.values):
            try:
                from_inventory(r.type, value)
            except ValueProblem as exc:
                problems.append(d.problem(str(exc), ("spec", "values", i, *exc.path)))
        fqdn = fqdn_of(r.zone, r.name)
        if r.name.endswith(".") and r.name != ".":
            problems.append(d.problem(f"name '{r.name}' must be relative to the zone {r.zone} (no trailing dot), "
                                      "or @ for the apex", ("spec", "name")))
        elif r.name not in ("@", ""):
            try:
                dns_name(fqdn, "name")
            except ValueProblem as exc:
                problems.append(d.problem(str(exc), ("spec", "name")))
        if r.type == "CNAME" and fqdn == r.zone:
            problems.append(d.problem("a CNAME cannot be at the zone apex (the apex has SOA and NS records); use "
                                      "ALIAS where the provider has it", ("spec", "type")))
        if r.type in ("CNAME", "ALIAS") and len(r.values) != 1:
            problems.append(d.problem(f"a {r.type} has exactly one target (got {len(r.values)} values)",
                                      ("spec", "values")))
        if r.type != "ALIAS" and r.alias_zone is not None:
            problems.append(d.problem("aliasZone is for type ALIAS only", ("spec", "aliasZone")))
        at_name[(r.zone, fqdn)].append((d, record_type(r.type, r.alias_type), ("spec", "name")))
    for (_, fqdn), entries in sorted(at_name.items(), key=lambda kv: kv[0]):
        if len(entries) < 2:
            continue
        by_type: dict[str, list[Document]] = defaultdict(list)
        for d, rtype, _ in entries:
            by_type[rtype].append(d)
        for d, rtype, path in entries:
            others = [o for o, t, _ in entries if o is not d]
            same = [o for o in by_type[rtype] if o is not d]
            if same:
                problems.append(d.problem(f"{fqdn} {rtype} is also declared by {same[0].describe()}: one name "
                                          "and type belongs to one document", path))
            elif rtype == "CNAME" or (any(t == "CNAME" for o, t, _ in entries if o is not d)):
                other = next(o for o in others)
                problems.append(d.problem(f"a CNAME stands alone at its name: {fqdn} also has "
                                          f"{_what(entries, other)} from {other.describe()}", path))
    return problems


def _what(entries: list[tuple[Document, str, tuple[str, ...]]], doc: Document) -> str:
    rtype = next(t for d, t, _ in entries if d is doc)
    return f"{'an' if rtype[0] in 'AEFHILMNORSX' else 'a'} {rtype} record"
