"""Test helpers: desired resources, and plan/apply through the engine's diff like ``ctl apply`` does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from streamverse_ctl.core.resources import Change, Resource
from streamverse_ctl.providers.base import Provider
from streamverse_ctl.providers.dnsrecords import healthcheck_spec, normalize_record, record_name, record_spec

try:  # the real engine's diff, when present
    from streamverse_ctl.engine.plan import diff as engine_diff
except ImportError:  # pragma: no cover - the engine is written concurrently
    engine_diff = None

TYPES = ("dns.healthcheck", "dns.record")


def _diff(desired: Sequence[Resource], actual: Sequence[Resource]) -> list[Change]:
    if engine_diff is not None:
        return engine_diff(desired, actual)[0]
    from streamverse_ctl.core.resources import diff_fields

    have = {r.id: r for r in actual}
    out = []
    for r in desired:
        cur = have.get(r.id)
        if cur is None:
            out.append(Change("create", r.type, r.name, r.provider, None, dict(r.spec)))
        elif dict(cur.spec) != dict(r.spec) or not cur.managed:
            out.append(Change("update", r.type, r.name, r.provider, dict(cur.spec), dict(r.spec),
                              diff_fields(dict(cur.spec), dict(r.spec))))
    want = {r.id for r in desired}
    out += [Change("delete", c.type, c.name, c.provider, dict(c.spec), None)
            for c in actual if c.managed and c.id not in want]
    return out


def plan(provider: Provider, desired: Iterable[Resource], types: Sequence[str] = TYPES) -> list[Change]:
    """Changes taking the provider's actual state to ``desired`` (unmanaged resources are never deleted)."""
    mine = [replace(r, provider=provider.name) for r in desired]
    return _diff(mine, provider.read(types))


def apply_changes(provider: Provider, changes: Sequence[Change]) -> None:
    """Stage by stage like the engine: health checks before records, deletes in reverse order."""
    creates = [c for c in changes if c.action != "delete"]
    deletes = [c for c in changes if c.action == "delete"]
    for t in TYPES:
        stage = [c for c in creates if c.type == t]
        if stage:
            provider.apply(stage)
    for t in reversed(TYPES):
        stage = [c for c in deletes if c.type == t]
        if stage:
            provider.apply(stage)


def apply(provider: Provider, desired: Iterable[Resource], types: Sequence[str] = TYPES) -> list[Change]:
    changes = plan(provider, desired, types)
    apply_changes(provider, changes)
    return changes


def summary(changes: Iterable[Change]) -> list[tuple[str, str, list[str]]]:
    return sorted((c.action, c.id, [f.path for f in c.fields]) for c in changes)


def rec(zone: str, label: str, rtype: str = "A", values: Sequence[str] = ("192.0.2.1",), ttl: int = 60,
        **kw: Any) -> Resource:
    fqdn = zone if label in ("", "@") else f"{label}.{zone}"
    spec = normalize_record(record_spec(zone, fqdn, rtype, ttl, values, **kw))
    requires: tuple[str, ...] = ()
    routing = kw.get("routing", "simple")
    if routing != "simple":
        requires += ({"geo": "dns.routing.geo"}.get(routing, f"dns.routing.{routing}"),)
    if kw.get("health_check"):
        requires += ("dns.healthcheck",)
    return Resource("dns.record", record_name(spec), spec, requires=requires,
                    origin=f"TrafficPolicy/{kw.get('policy') or 'test'}")


def hc(name: str, target: str = "127.0.0.1", port: int = 80, protocol: str = "HTTP", path: str | None = "/health",
       interval: int = 10, failure_threshold: int = 3, policy: str = "www", region: str = "us-east") -> Resource:
    return Resource("dns.healthcheck", name,
                    healthcheck_spec(protocol, target, port, path, interval, failure_threshold, policy, region),
                    requires=("dns.healthcheck",), origin=f"TrafficPolicy/{policy}")
