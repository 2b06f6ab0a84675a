"""``DnsRecord`` documents -> ``dns.record`` resources (routing ``simple``, values canonical).

An ALIAS compiles to a record of its ``aliasType`` whose one value is
``alias:<hosted zone id>:<target>`` (``self`` for the record's own zone), ttl 0, requiring the
``dns.alias`` feature: Route 53 (and the sim) serve it, other providers refuse it at plan time.
"""

from __future__ import annotations

from typing import Any

from ..core.resources import Resource
from ..core.specs import FEATURE_ALIAS
from ..inventory import models as m
from ..inventory.dnsrecord import fqdn_of, record_type
from ..inventory.dnsvalues import ALIAS_SELF, canonical_or_raw, from_inventory


def plain_spec(zone: str, fqdn: str, rtype: str, ttl: int, values: list[str], *, policy: str | None = None,
               region: str | None = None) -> dict[str, Any]:
    """The complete spec of a simple record (the shape providers read back)."""
    return {
        "zone": zone, "fqdn": fqdn, "rtype": rtype, "ttl": int(ttl), "values": sorted(values),
        "routing": "simple", "set_id": None, "weight": None, "latency_region": None, "geo": None,
        "failover": None, "health_check": None, "policy": policy, "region": region,
    }


def compile_record(r: m.DnsRecordSpec, origin: str) -> Resource:
    fqdn = fqdn_of(r.zone, r.name)
    rtype = record_type(r.type, r.alias_type)
    requires: tuple[str, ...] = ()
    if r.type == "ALIAS":
        target = from_inventory("ALIAS", r.values[0])
        values, ttl = [f"alias:{r.alias_zone or ALIAS_SELF}:{target}"], 0
        requires = (FEATURE_ALIAS,)
    else:
        values, ttl = [from_inventory(r.type, v) for v in r.values], r.ttl
    spec = plain_spec(r.zone, fqdn, rtype, ttl, values)
    return Resource("dns.record", f"{fqdn}/{rtype}", spec, requires=requires, origin=origin)


def canonical_values(rtype: str, values: list[str]) -> list[str]:
    """A TrafficPolicy's answers in the form providers read back (e.g. AAAA compressed)."""
    return sorted(canonical_or_raw(rtype, v) for v in values)
