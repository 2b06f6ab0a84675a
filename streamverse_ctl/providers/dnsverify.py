"""Prove that every authoritative server answers what the desired ``dns.record`` resources say.

Shared by the DNS providers that have a DNS server to ask (RFC 2136 servers, PowerDNS). After an
apply, every name/type is queried on every server in ``nameservers`` until the answer matches or
the timeout passes; each desired record gets one :class:`VerifyResult` with the seconds it took.
A caller that holds a zone transfer of a server (``snapshots``: what that server serves, name/type
by name/type) has the first round of exact answers checked against it instead of one query per
name; only what it does not show yet, and weighted names (shares need sampling), are queried.

What "matches" means per routing:

* simple: the answer's value set equals the record's values;
* failover: the answer equals the PRIMARY's values if its health check is healthy (or it has none),
  else the SECONDARY's (the caller says what is healthy);
* weighted: among the sets whose health check is healthy (all sets if none is), ``samples``
  queries (each with a different EDNS client subnet, so hashed pickers spread as well as random
  ones) return only desired values, and each REGION's share (answers mapped back to the set,
  i.e. region, they belong to) is within ``tolerance`` (absolute) of its weight's share. Weights
  are per region: a region with two addresses still gets its weight's share, not twice it;
* latency/geo: one vantage point cannot see every answer, so the answer must be one of the sets'.

Route 53 on moto has no DNS server: its provider verifies through the API instead.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

from ..core.resources import Resource
from ..inventory.dnsvalues import canonical_or_raw
from .base import VerifyResult
from .dnsrecords import RECORD

Healthy = Callable[[str | None], bool]


@dataclass
class Expectation:
    """What one name/type must answer, and which desired resources that proves."""

    fqdn: str
    rtype: str
    resource_ids: list[str]
    values: frozenset[str] | None = None  # exact answer
    weights: dict[str, float] = field(default_factory=dict)  # region (set) -> expected share (weighted)
    groups: dict[str, str] = field(default_factory=dict)  # value -> the region (set) it belongs to
    choices: list[frozenset[str]] = field(default_factory=list)  # answer must be one of these

    def describe(self) -> str:
        if self.values is not None:
            return f"{sorted(self.values)}"
        if self.weights:
            return "shares " + ", ".join(f"{v}={s:.2f}" for v, s in sorted(self.weights.items()))
        return "one of " + " | ".join(str(sorted(c)) for c in self.choices)


def parse_server(text: str) -> tuple[str, int]:
    """``"127.0.0.1:5301"``, ``"[::1]:53"``, ``"192.0.2.1"`` -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53


def expectations(desired: Iterable[Resource], healthy: Healthy | None = None) -> list[Expectation]:
    """Group desired records by name/type and say what the servers must answer for each."""
    is_up: Healthy = healthy or (lambda _name: True)
    groups: dict[tuple[str, str], list[Resource]] = {}
    for r in desired:
        if r.type == RECORD:
            groups.setdefault((str(r.spec["fqdn"]).lower(), str(r.spec["rtype"]).upper()), []).append(r)
    out = []
    for (fqdn, rtype), rs in sorted(groups.items()):
        ids = [r.id for r in rs]
        routing = rs[0].spec.get("routing") or "simple"
        if routing == "failover":
            primary = [r for r in rs if r.spec.get("failover") == "PRIMARY"]
            secondary = [r for r in rs if r.spec.get("failover") == "SECONDARY"]
            active = primary[0] if primary else secondary[0]
            if primary and secondary and not is_up(primary[0].spec.get("health_check")):
                active = secondary[0]
            out.append(Expectation(fqdn, rtype, ids, values=frozenset(active.spec["values"])))
        elif routing == "weighted":
            healthy_sets = healthy_sets_of(rs, is_up) or rs  # none healthy: servers answer from all
            weights, owner_of = _region_groups(healthy_sets)
            total = sum(weights.values())
            shares = {g: (w / total if total else 1 / len(weights)) for g, w in weights.items()}
            out.append(Expectation(fqdn, rtype, ids, weights=shares, groups=owner_of))
        elif routing in ("latency", "geo"):
            out.append(Expectation(fqdn, rtype, ids, choices=[frozenset(r.spec["values"]) for r in rs]))
        else:
            values: set[str] = set()
            for r in rs:
                values.update(r.spec["values"])
            out.append(Expectation(fqdn, rtype, ids, values=frozenset(values)))
    return out


def healthy_sets_of(rs: Sequence[Resource], is_up: Healthy) -> list[Resource]:
    return [r for r in rs if is_up(r.spec.get("health_check"))]


def _region_groups(rs: Sequence[Resource]) -> tuple[dict[str, float], dict[str, str]]:
    """(group -> summed weight, value -> group): a group is a region (a set), or the regions that
    share an address, whose answers cannot be told apart (named ``a+b``)."""
    label_of = {r.id: str(r.spec.get("region") or r.spec.get("set_id") or r.name) for r in rs}
    parent = {label: label for label in label_of.values()}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    first: dict[str, str] = {}
    for r in rs:
        for v in r.spec["values"]:
            if v in first:
                a, b = find(first[v]), find(label_of[r.id])
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                first[v] = label_of[r.id]
    members: dict[str, list[str]] = {}
    for label in parent:
        members.setdefault(find(label), []).append(label)
    name = {root: "+".join(sorted(m)) for root, m in members.items()}
    weights: dict[str, float] = {}
    for r in rs:
        g = name[find(label_of[r.id])]
        weights[g] = weights.get(g, 0.0) + int(r.spec.get("weight") or 0)
    return weights, {v: name[find(label)] for v, label in first.items()}


def query(server: str, fqdn: str, rtype: str, timeout: float = 2.0, ecs: str | None = None) -> frozenset[str]:
    """The values one server answers for fqdn/rtype (empty on NXDOMAIN/NODATA)."""
    host, port = parse_server(server)
    options: list[dns.edns.Option] = [dns.edns.ECSOption(ecs, 24)] if ecs else []
    q = dns.message.make_query(fqdn, rtype, use_edns=0, options=options)
    q.flags &= ~dns.flags.RD
    resp = dns.query.udp(q, host, port=port, timeout=timeout)
    if resp.flags & dns.flags.TC:
        resp = dns.query.tcp(q, host, port=port, timeout=timeout)
    if resp.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise dns.exception.DNSException(f"{server} answered {dns.rcode.to_text(resp.rcode())}")
    name = dns.name.from_text(fqdn)
    rdtype = dns.rdatatype.from_text(rtype)
    # a delegation's NS records come back as a referral, in the authority section
    sections = [resp.answer, resp.authority] if rdtype == dns.rdatatype.NS else [resp.answer]
    for section in sections:
        for rrset in section:
            if rrset.name == name and rrset.rdtype == rdtype:
                return frozenset(canonical_or_raw(rtype, rd.to_text()) for rd in rrset)
    return frozenset()


def _check(exp: Expectation, server: str, samples: int, tolerance: float,
           rng: random.Random) -> tuple[bool, str]:
    try:
        if exp.weights:
            counts: Counter[str] = Counter()  # region (set) -> answers that came from it
            extra: set[str] = set()
            for _ in range(samples):
                subnet = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0"
                answer = query(server, exp.fqdn, exp.rtype, ecs=subnet)
                extra |= {v for v in answer if v not in exp.groups}
                counts.update({exp.groups[v] for v in answer if v in exp.groups})
            if extra:
                return False, f"answers {sorted(extra)} not among the desired values"
            n = sum(counts.values()) or 1
            worst = max(abs(counts[g] / n - s) for g, s in exp.weights.items())
            got = ", ".join(f"{g}={counts[g] / n:.2f}" for g in sorted(exp.weights))
            return worst <= tolerance, (f"region shares {got} over {samples} queries "
                                        f"(want {exp.describe()})")
        got_values = query(server, exp.fqdn, exp.rtype)
        if exp.values is not None:
            return got_values == exp.values, f"answers {sorted(got_values)} (want {exp.describe()})"
        return got_values in exp.choices, f"answers {sorted(got_values)} (want {exp.describe()})"
    except (dns.exception.DNSException, OSError) as exc:
        return False, f"query failed: {exc.__class__.__name__}: {exc}"


Snapshot = Mapping[tuple[str, str], frozenset[str]]  # (fqdn lower case, TYPE) -> canonical values


def _from_snapshot(exp: Expectation, snapshot: Snapshot) -> tuple[bool, str]:
    got = snapshot.get((exp.fqdn.lower(), exp.rtype.upper()), frozenset())
    ok = got == exp.values if exp.values is not None else got in exp.choices
    return ok, f"serves {sorted(got)} (want {exp.describe()}; zone transfer)"


def verify(exps: Sequence[Expectation], nameservers: Sequence[str], timeout: float = 30.0,
           samples: int = 200, tolerance: float = 0.1, interval: float = 0.2,
           seed: int | None = None, snapshots: Mapping[str, Snapshot] | None = None) -> list[VerifyResult]:
    """Poll every server until each expectation holds everywhere or ``timeout`` passes."""
    rng = random.Random(seed)
    start = time.monotonic()
    pending = {(i, s) for i in range(len(exps)) for s in nameservers}
    details: dict[tuple[int, str], str] = {}
    done_at: dict[tuple[int, str], float] = {}
    first = True
    while pending:
        for key in sorted(pending):
            exp, snapshot = exps[key[0]], (snapshots or {}).get(key[1]) if first else None
            if snapshot is not None and not exp.weights:
                ok, detail = _from_snapshot(exp, snapshot)
            else:
                ok, detail = _check(exp, key[1], samples, tolerance, rng)
            details[key] = detail
            if ok:
                done_at[key] = time.monotonic() - start
        pending -= set(done_at)
        if not pending or time.monotonic() - start > timeout:
            break
        if not first or not snapshots:
            time.sleep(interval)
        first = False
    results = []
    for i, exp in enumerate(exps):
        keys = [(i, s) for s in nameservers]
        ok = all(k in done_at for k in keys)
        seconds = max((done_at.get(k, time.monotonic() - start) for k in keys), default=0.0)
        bad = [f"{k[1]}: {details.get(k, '')}" for k in keys if k not in done_at]
        detail = "; ".join(bad) if bad else f"{details.get(keys[0], '')} on {len(keys)} server(s)"
        for rid in exp.resource_ids:
            results.append(VerifyResult(rid, ok, round(seconds, 3), detail, ",".join(nameservers)))
    return results


def verify_resources(desired: Iterable[Resource], nameservers: Sequence[str], timeout: float = 30.0,
                     healthy: Healthy | None = None, **kw: Any) -> list[VerifyResult]:
    return verify(expectations(desired, healthy), nameservers, timeout, **kw)


def health_lookup(status: Mapping[str, bool]) -> Healthy:
    """A :data:`Healthy` callable from a name -> healthy map (unknown or None: healthy)."""
    return lambda name: True if not name else status.get(name, True)
