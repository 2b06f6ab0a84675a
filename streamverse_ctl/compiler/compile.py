"""Inventory -> provider-neutral resources.

Takes the failover state into account: a drained region gets weight 0 in weighted policies, is
left out of latency policies, and its geo rules and failover role pass to the first serving
region along its ``failoverSecondary`` chain. Deliberate overrides recorded in the state backend
(``dns set-weights``, runbook actions) are JSON merge patches on a document's spec, applied
before compiling and named in the plan.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from ..core.errors import InputError, Problem
from ..core.gcpause import paused_gc
from ..core.resources import Resource
from ..core.specs import FEATURE_HEALTHCHECK, ROUTING_FEATURES
from ..inventory import models as m
from ..inventory.loader import merge_patch
from ..inventory.model import Document, Inventory
from .distributions import distributions
from .dnsrecord import canonical_values, compile_record, plain_spec
from .edge_sites import edge_site_resources
from .plugin_kinds import plugin_resources
from .scaling import origin_fleets, pool_scaling
from .slo_resources import rule_resources

SIM = "sim"


@dataclass(frozen=True)
class Override:
    """A deliberate change recorded outside the inventory (e.g. ``dns set-weights``)."""

    kind: str
    name: str
    merge: Mapping[str, Any]  # JSON merge patch on the document's spec (camelCase keys)
    who: str = ""
    at: str = ""
    reason: str = ""

    def describe(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        when = self.at[:16].replace("T", " ") if self.at else "?"
        return f"override ({self.who or '?'}, {when}){why}"


@dataclass(frozen=True)
class Binding:
    """A provider instance the compiled resources are bound to."""

    name: str
    type: str
    settings: Mapping[str, Any]
    guardrails: m.Guardrails
    origin: str = ""


@dataclass
class CompileInput:
    drained: frozenset[str] = frozenset()  # regions drained by a failover
    overrides: list[Override] = field(default_factory=list)
    platform: str | None = None  # "sim": bind every resource to the sim platform
    queue_depths: dict[str, float] = field(default_factory=dict)  # transcode pool -> measured queue depth


@dataclass
class Compiled:
    resources: list[Resource]
    bindings: dict[str, Binding]
    reasons: dict[str, str]  # resource id -> why it differs from the plain inventory
    overrides: list[Override]
    policies: dict[str, m.TrafficPolicySpec]
    regions: dict[str, m.RegionSpec]
    failover: m.FailoverPolicySpec
    slo: m.SLOSpec

    def by_provider(self) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = {name: [] for name in self.bindings}
        for r in self.resources:
            out.setdefault(r.provider, []).append(r)
        return out


@paused_gc()
def compile_inventory(inv: Inventory, ci: CompileInput | None = None) -> Compiled:
    ci = ci or CompileInput()
    problems: list[Problem] = []
    reasons: dict[str, str] = {}
    models = _apply_overrides(inv, ci.overrides, problems)
    regions: dict[str, m.RegionSpec] = {n: s for (k, n), s in models.items() if k == "Region"}
    drained = frozenset(r for r in ci.drained if r in regions)
    out: list[Resource] = []

    described: dict[str, str] = {}  # origin text -> "Kind/name": bound resources carry the document as data

    def origin(kind: str, name: str) -> str:
        doc = inv.get(kind, name)
        text = doc.describe() if doc else f"{kind}/{name}"
        described[text] = f"{kind}/{name}"
        return text

    for name, r in regions.items():
        spec = {
            "cloud_region": r.cloud_region, "kube_context": r.kube_context,
            "max_rps": r.capacity.max_rps, "egress_gbps": r.capacity.egress_gbps,
            "failover_secondary": r.failover_secondary, "serving": name not in drained,
            "endpoints": sorted(r.endpoints),
        }
        out.append(Resource("platform.region", name, spec, origin=origin("Region", name)))
        if name in drained:
            reasons[f"platform.region/{name}"] = "region drained by failover"
    pops = {n: s for (k, n), s in models.items() if k == "PoP"}
    for name, p in pops.items():
        out.append(Resource("cdn.pop", name, {
            "region": p.region, "city": p.city, "country": p.country, "cache_tb": p.cache_tb,
            "capacity_gbps": p.capacity_gbps, **({} if p.serving else {"serving": False}),
            # only when set: a PoP on its own region's origin keeps the spec (and deployed state) it had
            **({"origin_region": p.origin_region} if p.origin_region and p.origin_region != p.region else {}),
        }, depends_on=(f"platform.region/{p.region}",), origin=origin("PoP", name)))
    out.extend(edge_site_resources(models, pops, origin))
    for (kind, name), spec in models.items():
        if kind == "EncodingLadder":
            assert isinstance(spec, m.EncodingLadderSpec)
            out.append(Resource("transcode.ladder", name, {
                "codecs": list(spec.codecs), "formats": list(spec.formats),
                "segment_seconds": spec.segment_seconds,
                "rungs": [{"name": r.name, "width": r.width, "height": r.height,
                           "bitrate_kbps": r.bitrate_kbps, "codec": r.codec} for r in spec.rungs],
            }, origin=origin(kind, name)))
    for (kind, name), spec in models.items():
        if kind == "TranscodePool":
            assert isinstance(spec, m.TranscodePoolSpec)
            out.append(Resource("transcode.pool", name, {
                "region": spec.region, "gpu": spec.gpu_type, "min_nodes": spec.min_nodes,
                "max_nodes": spec.max_nodes, "target_queue_per_node": spec.target_queue_depth_per_node,
                "ladder": spec.ladder, **pool_scaling(name, spec, ci.queue_depths),
            }, depends_on=(f"platform.region/{spec.region}", f"transcode.ladder/{spec.ladder}"),
                origin=origin(kind, name)))
    out.extend(origin_fleets(models, origin))
    out.extend(distributions(models, origin))
    for (kind, name), spec in models.items():
        if kind == "CacheWarmPolicy":
            assert isinstance(spec, m.CacheWarmPolicySpec)
            for pop in _select_pops(inv, pops, spec.pops):
                dep = (f"cdn.pop/{pop}",)
                if spec.ttl_overrides:
                    out.append(Resource("cdn.cache_policy", f"{name}/{pop}", {
                        "pop": pop, "ttl_overrides": dict(sorted(spec.ttl_overrides.items())),
                    }, depends_on=dep, origin=origin(kind, name)))
                titles = sorted({*spec.titles, *(t for t, only in spec.pinned.items() if pop in only)})
                if spec.top_n or titles or spec.new_releases:
                    out.append(Resource("cdn.warm_set", f"{name}/{pop}", {
                        "pop": pop, "top_n": spec.top_n, "new_releases": spec.new_releases,
                        "titles": titles,
                    }, depends_on=dep, origin=origin(kind, name)))
    policies: dict[str, m.TrafficPolicySpec] = {}
    for (kind, name), spec in models.items():
        if kind == "TrafficPolicy":
            assert isinstance(spec, m.TrafficPolicySpec)
            policies[name] = spec
            out.extend(_dns(name, spec, regions, drained, origin(kind, name), reasons))
    for (kind, name), spec in models.items():
        if kind == "DnsRecord":
            assert isinstance(spec, m.DnsRecordSpec)
            out.append(compile_record(spec, origin(kind, name)))
    out.extend(plugin_resources(inv, models, problems))
    out.extend(rule_resources(inv, models))  # only when a prometheus provider serves the rule files
    bindings, bound = _bind(inv, out, ci.platform, problems, described)
    if ci.overrides:
        # name the override only on resources it actually changes
        plain = {x.id: x.spec for x in compile_inventory(inv, CompileInput(ci.drained, [], ci.platform,
                                                                           ci.queue_depths)).resources}
        for o in ci.overrides:
            for res in bound:
                if res.document == f"{o.kind}/{o.name}" and plain.get(res.id) != res.spec:
                    reasons[res.id] = o.describe()
    if problems:
        raise InputError(problems)
    failover = next((s for (k, _), s in models.items() if k == "FailoverPolicy"), None)
    slo = next((s for (k, _), s in models.items() if k == "SLO"), None)
    return Compiled(
        resources=bound, bindings=bindings, reasons=reasons, overrides=list(ci.overrides),
        policies=policies, regions=regions,
        failover=(failover if isinstance(failover, m.FailoverPolicySpec)
                  else m.FailoverPolicySpec(min_regions_serving=1)),
        slo=slo if isinstance(slo, m.SLOSpec) else m.SLOSpec(),
    )


def _apply_overrides(inv: Inventory, overrides: Iterable[Override], problems: list[Problem]
                     ) -> dict[tuple[str, str], Any]:
    models: dict[tuple[str, str], Any] = {(d.kind, d.name): d.model for d in inv.documents}
    for o in overrides:
        doc = inv.get(o.kind, o.name)
        if doc is None:
            continue  # the document was removed from the inventory; the override no longer applies
        model = models[(o.kind, o.name)]
        assert isinstance(model, BaseModel)
        data = merge_patch(model.model_dump(by_alias=True, exclude_none=True), dict(o.merge))
        try:
            models[(o.kind, o.name)] = type(model).model_validate(data)
        except ValidationError as exc:
            problems.append(Problem(f"{o.describe()} is no longer valid: {exc.errors()[0]['msg']}",
                                    doc.file, doc.source.line, doc.ref))
    return models


def _select_pops(inv: Inventory, pops: Mapping[str, m.PoPSpec], sel: m.PopSelector) -> list[str]:
    out = []
    for name, p in pops.items():
        if sel.names is not None and name not in sel.names:
            continue
        if sel.regions is not None and p.region not in sel.regions:
            continue
        if sel.match_labels:
            doc = inv.get("PoP", name)
            labels = doc.labels if doc else {}
            if any(labels.get(k) != v for k, v in sel.match_labels.items()):
                continue
        out.append(name)
    return sorted(out)


def serving_substitute(region: str, regions: Mapping[str, m.RegionSpec], drained: frozenset[str]) -> str:
    """The first region along the failoverSecondary chain that is not drained."""
    seen = {region}
    current = region
    while current in drained:
        nxt = regions[current].failover_secondary
        if nxt in seen:
            break
        seen.add(nxt)
        current = nxt
    return current


def _dns(name: str, t: m.TrafficPolicySpec, regions: Mapping[str, m.RegionSpec], drained: frozenset[str],
         origin: str, reasons: dict[str, str]) -> list[Resource]:
    fqdn = t.zone if t.record == "@" else f"{t.record}.{t.zone}"
    base: dict[str, Any] = {
        "zone": t.zone, "fqdn": fqdn, "rtype": t.type, "ttl": t.ttl, "set_id": None, "weight": None,
        "latency_region": None, "geo": None, "failover": None, "health_check": None, "policy": name,
        "routing": t.routing,
    }
    requires = [ROUTING_FEATURES[t.routing]]
    out: list[Resource] = []
    used_regions: list[str] = []

    def values(region: str) -> list[str]:
        if region in (t.targets or {}) and not (t.values or {}).get(region):
            return canonical_values(t.type, list((t.targets or {})[region]))  # a non-region answer, e.g. the backup CDN
        return canonical_values(t.type, list((t.values or {}).get(region) or regions[region].endpoints))

    def record(set_id: str, region: str, **fields: Any) -> Resource:
        spec = {**base, "set_id": set_id, "region": region, "values": values(region), **fields}
        deps: tuple[str, ...] = ()
        req = list(requires)
        if t.health_check:
            spec["health_check"] = f"{name}/{region}"
            deps = (f"dns.healthcheck/{name}/{region}",)
            req.append(FEATURE_HEALTHCHECK)
        if region not in used_regions:
            used_regions.append(region)
        return Resource("dns.record", f"{fqdn}/{t.type}/{set_id}", spec, depends_on=deps,
                        requires=tuple(req), origin=origin)

    if t.routing == "weighted":
        for region, weight in sorted((t.weights or {}).items()):
            r = record(region, region, weight=0 if region in drained else weight)
            if region in drained and weight:
                reasons[r.id] = f"region {region} drained by failover: weight {weight} -> 0"
            out.append(r)
    elif t.routing == "latency":
        for region in sorted(t.regions or regions):
            if region in drained:
                continue
            out.append(record(region, region, latency_region=regions[region].cloud_region))
    elif t.routing == "geo":
        for rule in t.geo or []:
            target = serving_substitute(rule.region, regions, drained)
            geo = {k: v for k, v in rule.match.model_dump(exclude_none=True).items() if v not in (False,)}
            key = "default" if rule.match.default else (rule.match.country or rule.match.continent or "")
            if rule.match.subdivision:
                key += f"-{rule.match.subdivision}"
            r = record(key.lower(), target, geo=geo)
            if target != rule.region:
                reasons[r.id] = f"region {rule.region} drained by failover: answers from {target}"
            out.append(r)
    elif t.routing == "failover" and t.failover:
        primary = serving_substitute(t.failover.primary, regions, drained)
        secondary = serving_substitute(t.failover.secondary, regions, drained)
        p = record("primary", primary, failover="PRIMARY")
        if primary != t.failover.primary:
            reasons[p.id] = f"region {t.failover.primary} drained by failover: primary answers from {primary}"
        out += [p, record("secondary", secondary, failover="SECONDARY")]
    declared = {"weighted": len(t.weights or {}), "latency": len(t.regions or regions), "geo": len(t.geo or [])}
    if declared.get(t.routing) == 1 and len(out) == 1 and not t.health_check and out[0].spec.get("weight") != 0:
        # one region answering, unconditionally: that is a plain record, which every provider serves
        one = out[0]
        plain = plain_spec(t.zone, fqdn, t.type, t.ttl, list(one.spec["values"]), policy=name,
                           region=one.spec["region"])
        out = [Resource("dns.record", f"{fqdn}/{t.type}", plain, origin=origin)]
        if one.id in reasons:
            reasons[out[0].id] = reasons.pop(one.id)
    if t.health_check:
        hc = t.health_check
        for region in used_regions:
            out.insert(0, Resource("dns.healthcheck", f"{name}/{region}", {
                "protocol": hc.protocol, "target": sorted(regions[region].endpoints)[0], "port": hc.port,
                "path": hc.path, "interval": hc.interval, "failure_threshold": hc.failure_threshold,
                "policy": name, "region": region,
            }, requires=(FEATURE_HEALTHCHECK,), origin=origin))
    return out


def _scope_of(r: Resource, pops_region: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(zone, region) of a resource, for matching a provider's ``serves``."""
    spec = r.spec
    if r.type.startswith("dns."):
        return spec.get("zone"), spec.get("region")
    if r.type == "platform.region":
        return None, r.name
    region = spec.get("region")
    if region is None and "pop" in spec:
        region = pops_region.get(str(spec["pop"]))
    return None, region


def _bind(inv: Inventory, resources: list[Resource], platform: str | None, problems: list[Problem],
          described: Mapping[str, str]) -> tuple[dict[str, Binding], list[Resource]]:
    provider_docs: list[Document] = inv.of("Provider")
    if platform == SIM or not provider_docs:
        binding = Binding(SIM, SIM, {}, m.Guardrails(), "the embedded sim platform")
        return {SIM: binding}, [_with_provider(r, SIM, described) for r in resources]
    bindings = {d.name: Binding(d.name, d.model.type, d.model.settings, d.model.guardrails, d.describe())
                for d in provider_docs}
    pops_region = {r.name: str(r.spec["region"]) for r in resources if r.type == "cdn.pop"}
    out = []
    missing: dict[str, list[str]] = {}
    for r in resources:
        zone, region = _scope_of(r, pops_region)
        for d in provider_docs:
            serves: m.Serves = d.model.serves
            if not any(fnmatch.fnmatchcase(r.type, pat) for pat in serves.types):
                continue
            if serves.zones is not None and zone is not None and zone not in serves.zones:
                continue
            if serves.regions is not None and region is not None and region not in serves.regions:
                continue
            out.append(_with_provider(r, d.name, described))
            break
        else:
            missing.setdefault(r.type, []).append(r.origin or r.id)
    for rtype, origins in missing.items():
        problems.append(Problem(f"no Provider serves {rtype} (needed by {origins[0]}"
                                + (f" and {len(origins) - 1} more" if len(origins) > 1 else "") + ")",
                                str(inv.root)))
    return bindings, out


def _with_provider(r: Resource, provider: str, described: Mapping[str, str]) -> Resource:
    return Resource(r.type, r.name, r.spec, provider, r.depends_on, r.requires, r.origin, r.managed,
                    document=r.document or described.get(r.origin, ""))
