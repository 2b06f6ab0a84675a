"""What a zone serves, as inventory documents (``dns dump``), and two zones compared (``dns compare``).

Dump is the inverse of compiling: each document it writes compiles back to exactly the
``dns.record`` specs it was made from, so planning the dumped inventory changes nothing but
ownership (records the tool did not create are taken over by ``apply --force adopt``).

- simple record sets -> ``DnsRecord`` (TXT as its plain text; a Route 53 alias -> type ALIAS);
- weighted sets whose set identifiers are Regions of the inventory, without health checks ->
  ``TrafficPolicy`` with ``routing: weighted`` and per-region ``values``;
- the zone's SOA and apex NS (the server's own) are skipped; anything else (latency, geo,
  failover, health-checked sets, LUA records, unknown types) is left out with a note saying why.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.resources import Resource
from ..inventory.dnsvalues import ALIAS_SELF, PLAIN_TYPES, plain_text

API_VERSION = "streamverse.io/v1"
COMPARED = ("ttl", "values", "routing", "weight", "latency_region", "geo", "failover")


@dataclass
class Dump:
    documents: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left out, and why


def served(records: Iterable[Resource], zone: str) -> list[Resource]:
    """The zone's record sets that a dump or compare is about (not SOA, not the apex NS)."""
    out = []
    for r in records:
        if r.type != "dns.record" or str(r.spec.get("zone")) != zone:
            continue
        rtype, fqdn = str(r.spec["rtype"]), str(r.spec["fqdn"])
        if rtype == "SOA" or (rtype == "NS" and fqdn == zone):
            continue
        out.append(r)
    return sorted(out, key=lambda r: r.id)


def relative(fqdn: str, zone: str) -> str:
    return "@" if fqdn == zone else fqdn[: -len(zone) - 1] if fqdn.endswith("." + zone) else fqdn


def _slug(text: str) -> str:
    text = "apex" + text[1:] if text.startswith("@") else text
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (s or "apex")[:55].strip("-")


class _Names:
    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, base: str) -> str:
        name, n = base, 2
        while name in self.used:
            name = f"{base}-{n}"
            n += 1
        self.used.add(name)
        return name


def dump_zone(records: Iterable[Resource], zone: str, regions: Iterable[str] = ()) -> Dump:
    out = Dump()
    names = _Names()
    known = set(regions)
    routed: dict[tuple[str, str], list[Resource]] = defaultdict(list)
    for r in served(records, zone):
        spec = r.spec
        rtype, fqdn = str(spec["rtype"]), str(spec["fqdn"])
        rel = relative(fqdn, zone)
        if (spec.get("routing") or "simple") != "simple" or spec.get("set_id"):
            routed[(fqdn, rtype)].append(r)
            continue
        if rtype not in PLAIN_TYPES:
            out.notes.append(f"{fqdn} {rtype}: record type {rtype} is not a DnsRecord type; left out")
            continue
        values = [str(v) for v in spec.get("values") or []]
        body: dict[str, Any] = {"zone": zone, "name": rel, "type": rtype, "ttl": int(spec["ttl"])}
        if len(values) == 1 and values[0].startswith("alias:"):
            _, target_zone, rest = values[0].split(":", 2)
            target, _, flag = rest.partition(":")
            if flag:
                out.notes.append(f"{fqdn} {rtype}: an alias that evaluates target health is not a DnsRecord; left out")
                continue
            body = {"zone": zone, "name": rel, "type": "ALIAS", "values": [target]}
            if rtype != "A":
                body["aliasType"] = rtype
            if target_zone != ALIAS_SELF:
                body["aliasZone"] = target_zone
        else:
            if body["ttl"] < 1:
                body["ttl"] = 1
                out.notes.append(f"{fqdn} {rtype}: ttl 0 dumped as 1 (a DnsRecord's ttl is at least 1)")
            body["values"] = [plain_text(rtype, v) for v in values]
        out.documents.append(_doc("DnsRecord", names.take(_slug(f"{rel}-{rtype}")), body))
    for (fqdn, rtype), sets in sorted(routed.items()):
        doc, why = _weighted_policy(fqdn, rtype, sets, zone, known)
        if doc is None:
            out.notes.append(f"{fqdn} {rtype}: {why}; left out")
            continue
        doc["metadata"]["name"] = names.take(_slug(relative(fqdn, zone)))
        out.documents.append(doc)
    return out


def _weighted_policy(fqdn: str, rtype: str, sets: Sequence[Resource], zone: str,
                     regions: set[str]) -> tuple[dict[str, Any] | None, str]:
    routing = {str(r.spec.get("routing")) for r in sets}
    if routing != {"weighted"}:
        return None, f"{'/'.join(sorted(routing))} routing is not recognised (only weighted sets are)"
    if rtype not in ("A", "AAAA", "CNAME"):
        return None, f"weighted {rtype} sets are not a TrafficPolicy (A, AAAA or CNAME only)"
    if any(r.spec.get("health_check") for r in sets):
        return None, "weighted sets with health checks are not recognised"
    ids = sorted(str(r.spec.get("set_id")) for r in sets)
    unknown = [i for i in ids if i not in regions]
    if unknown:
        return None, (f"weighted set identifier(s) {', '.join(unknown)} are not Regions of the inventory "
                      "(declare them to dump this set as a TrafficPolicy)")
    if len(sets) < 2:
        return None, "a single weighted set is served as a plain record by a TrafficPolicy (dump it by hand)"
    ttls = {int(r.spec["ttl"]) for r in sets}
    if len(ttls) != 1:
        return None, f"the weighted sets have different TTLs ({sorted(ttls)})"
    weights = {str(r.spec["set_id"]): int(r.spec.get("weight") or 0) for r in sets}
    if not any(weights.values()) or max(weights.values()) > 255:
        return None, "weights are all zero or above 255"
    values = {str(r.spec["set_id"]): [str(v) for v in r.spec.get("values") or []] for r in sets}
    return _doc("TrafficPolicy", "", {
        "zone": zone, "record": relative(fqdn, zone), "type": rtype, "ttl": ttls.pop(), "routing": "weighted",
        "weights": dict(sorted(weights.items())), "values": dict(sorted(values.items()))}), ""


def _doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


# ----- compare ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    name: str  # relative to the zone, @ for the apex
    type: str
    set_id: str | None
    status: str  # "only in A", "only in B", "differs"
    fields: dict[str, tuple[Any, Any]]  # field -> (value at A, value at B)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "set_id": self.set_id, "status": self.status,
                "fields": {k: {"a": a, "b": b} for k, (a, b) in self.fields.items()}}


def compare_zones(a: Iterable[Resource], b: Iterable[Resource], zone: str,
                  labels: tuple[str, str] = ("A", "B")) -> list[Difference]:
    """Per name/type (and set): what differs between two providers' copies of ``zone``."""
    def key(r: Resource) -> tuple[str, str, str]:
        return str(r.spec["fqdn"]), str(r.spec["rtype"]), str(r.spec.get("set_id") or "")

    left = {key(r): r.spec for r in served(a, zone)}
    right = {key(r): r.spec for r in served(b, zone)}
    out = []
    for k in sorted(set(left) | set(right)):
        fqdn, rtype, set_id = k
        la, rb = left.get(k), right.get(k)
        name = relative(fqdn, zone)
        if la is None or rb is None:
            spec = la if la is not None else rb
            assert spec is not None
            out.append(Difference(name, rtype, set_id or None, f"only in {labels[0] if rb is None else labels[1]}",
                                  {f: ((spec.get(f), None) if rb is None else (None, spec.get(f)))
                                   for f in ("ttl", "values")}))
            continue
        fields = {f: (la.get(f), rb.get(f)) for f in COMPARED if _norm(la.get(f)) != _norm(rb.get(f))}
        if fields:
            out.append(Difference(name, rtype, set_id or None, "differs", fields))
    return out


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(str(v) for v in value)
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if v not in (None, False)}
    return value
