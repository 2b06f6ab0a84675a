"""Two-pass validation: structure (each spec against its kind's model), then meaning (references).

Every problem is collected, each naming file, line, document and field path.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..core.errors import PermanentError, Problem
from ..core.registry import kinds
from . import models as m
from .model import Document, Inventory


def validate(inv: Inventory, *, meaning: bool = True) -> list[Problem]:
    problems: list[Problem] = []
    for d in inv.documents:
        problems += validate_document(d)
    if meaning:  # on every document that passed structure, so all problems show at once
        problems += check_meaning(inv)
    return problems


def _kind_model(kind: str) -> type[BaseModel] | None:
    if kind not in kinds:
        return None
    try:
        model = kinds.get(kind)
    except PermanentError:
        return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


_labels: TypeAdapter[dict[str, str]] | None = None


def _check_labels(d: Document) -> list[Problem]:
    """metadata.labels against the same type the schema exports (string values, Kubernetes-style)."""
    global _labels
    if not d.labels:
        return []
    if _labels is None:
        _labels = TypeAdapter(m.Labels)
    try:
        _labels.validate_python(d.labels)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            loc = tuple(x for x in err["loc"] if x != "[key]")
            what = "label key" if "[key]" in err["loc"] else "label value"
            msg = err["msg"]
            if err["type"] == "string_pattern_mismatch":
                msg = (f"{what} {err['input']!r} must be at most 63 letters, digits, '-', '_' or '.', beginning and "
                       "ending with a letter or digit" + (" (a key may have a DNS prefix and '/')"
                                                           if what == "label key" else ""))
            elif err["type"] == "string_type":
                msg = f"a label value must be a string (got {err['input']!r}; quote it)"
            elif "input" in err:
                msg = f"{msg} (got {err['input']!r})"
            out.append(d.problem(msg, ("metadata", "labels", *loc[:1])))
        return out
    return []


def validate_document(d: Document) -> list[Problem]:
    bad_name = m.name_problem(d.name)
    problems: list[Problem] = []
    if bad_name:
        p = d.problem(bad_name, ("metadata", "name"))
        if len(d.name) > 70:  # do not print a 10,000-character name as the document's reference too
            p = Problem(p.message, p.file, p.line, f"{d.kind}/{d.name[:60]}…", p.field)
        problems.append(p)
    model = _kind_model(d.kind)
    if model is None:
        return [*problems, d.problem(f"unknown kind '{d.kind}' (known: {', '.join(kinds.names())})", ("kind",))]
    problems += _check_labels(d)
    try:
        d.model = model.model_validate(d.spec)
    except ValidationError as exc:
        return problems + [_from_pydantic(d, err) for err in exc.errors()]
    if problems:
        d.model = None
    if d.kind == "Provider" and isinstance(d.model, m.ProviderSpec):
        problems += check_provider_settings(d, d.model.type, d.model.settings)
    return problems


def check_provider_settings(d: Document, provider_type: str, settings: dict[str, Any]) -> list[Problem]:
    """``spec.settings`` against the provider type's settings model (the one ``schema`` exports)."""
    import difflib

    from .provider_settings import known_keys, settings_model

    model = settings_model(provider_type)
    if model is None:  # an unknown type is reported by the meaning pass; a plugin may declare no model
        return []
    try:
        model.model_validate(settings)
    except ValidationError as exc:
        out = []
        keys = known_keys(model)
        for err in exc.errors():
            if err["type"] == "extra_forbidden" and err["loc"] and len(err["loc"]) == 1:
                near = difflib.get_close_matches(str(err["loc"][0]), keys, n=1, cutoff=0.6) or \
                    [k for k in keys if k.lower() == str(err["loc"][0]).lower().replace("_", "")]
                hint = f"did you mean {near[0]}?" if near else f"{provider_type} settings: {', '.join(keys)}"
                out.append(d.problem(f"unknown field ({hint})", ("spec", "settings", *err["loc"])))
            else:
                out.append(_from_pydantic(d, err, ("spec", "settings")))
        return out
    return []


def _from_pydantic(d: Document, err: Any, prefix: tuple[str, ...] = ("spec",)) -> Problem:
    loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and (x.startswith(("function-", "literal[")) or x in
                                                                      {"str", "int", "float", "bool"})))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = f"unknown field '{loc[-1]}'" if loc else "unknown field"
    elif err["type"] == "missing":
        msg = f"missing required field '{loc[-1]}'" if loc else "missing required field"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif "input" in err and err["type"] not in ("missing",):
        msg = f"{msg} (got {err['input']!r})"
    return d.problem(msg, (*prefix, *loc))


def check_meaning(inv: Inventory) -> list[Problem]:
    problems: list[Problem] = []
    regions = inv.specs("Region", m.RegionSpec)
    pops = inv.specs("PoP", m.PoPSpec)
    ladders = inv.specs("EncodingLadder", m.EncodingLadderSpec)
    docs = {(d.kind, d.name): d for d in inv.documents}
    # references resolve against every declared name, valid or not (an invalid Region has its own problem)
    region_names = {d.name for d in inv.of("Region")}
    pop_names = {d.name for d in inv.of("PoP")}
    ladder_names = {d.name for d in inv.of("EncodingLadder")}

    def valid(kind: str) -> list[Document]:
        return [d for d in inv.of(kind) if d.model is not None]

    def need_region(d: Document, name: str, path: tuple[str | int, ...]) -> None:
        if name not in region_names:
            problems.append(d.problem(f"unknown region '{name}' (regions: {', '.join(sorted(region_names)) or 'none'})",
                                      path))

    for d in inv.documents:  # a document that failed structure still gets its region references checked
        if d.model is None:
            for path, name in _raw_region_refs(d.kind, d.spec):
                need_region(d, name, path)

    dns_only = bool(inv.documents) and all(d.kind in ("DnsRecord", "Provider") for d in inv.documents)
    if not region_names and not dns_only:  # plain records (and a zone about to be dumped) need no Region
        problems.append(Problem("the inventory declares no Region", str(inv.root)))
    for name, spec in regions.items():
        d = docs[("Region", name)]
        if spec.failover_secondary == name:
            problems.append(d.problem("failoverSecondary must be another region", ("spec", "failoverSecondary")))
        else:
            need_region(d, spec.failover_secondary, ("spec", "failoverSecondary"))
        if spec.backup_origin == name:
            problems.append(d.problem("backupOrigin must be another region", ("spec", "backupOrigin")))
        elif spec.backup_origin is not None:
            need_region(d, spec.backup_origin, ("spec", "backupOrigin"))
    for name, pspec in pops.items():
        need_region(docs[("PoP", name)], pspec.region, ("spec", "region"))
        if pspec.origin_region is not None:
            need_region(docs[("PoP", name)], pspec.origin_region, ("spec", "originRegion"))
    from .edge_sites import check_edge_sites

    problems += check_edge_sites(inv, pop_names)
    for d in valid("OriginFleet"):
        need_region(d, d.model.region, ("spec", "region"))
    for d in valid("CdnDistribution"):
        for i, o in enumerate(d.model.origins):
            if o.region is not None:
                need_region(d, o.region, ("spec", "origins", i, "region"))
        ref = d.model.ttl_from
        if ref is not None and inv.get("CacheWarmPolicy", ref) is None:
            known = ", ".join(x.name for x in inv.of("CacheWarmPolicy")) or "none"
            problems.append(d.problem(f"unknown CacheWarmPolicy '{ref}' (known: {known})", ("spec", "ttlFrom")))
    for d in valid("TrafficPolicy"):
        t: m.TrafficPolicySpec = d.model
        for region in t.weights or {}:
            if region not in (t.targets or {}):  # a named non-region answer (e.g. the backup CDN)
                need_region(d, region, ("spec", "weights", region))
        for i, region in enumerate(t.regions or []):
            need_region(d, region, ("spec", "regions", i))
        for i, rule in enumerate(t.geo or []):
            need_region(d, rule.region, ("spec", "geo", i, "region"))
        if t.geo is not None and not any(r.match.default for r in t.geo):
            problems.append(d.problem("geo routing needs a rule with match: {default: true} for everyone else",
                                      ("spec", "geo")))
        if t.failover:
            need_region(d, t.failover.primary, ("spec", "failover", "primary"))
            need_region(d, t.failover.secondary, ("spec", "failover", "secondary"))
            if t.failover.primary == t.failover.secondary:
                problems.append(d.problem("failover primary and secondary must differ", ("spec", "failover")))
        for region in t.values or {}:
            need_region(d, region, ("spec", "values", region))
    def zone_record(d: Document) -> tuple[str, str]:  # str(): a broken document may hold a list or a mapping
        return str(d.spec.get("zone")), str(d.spec.get("record"))

    names = Counter(zone_record(d) for d in inv.of("TrafficPolicy"))
    for d in valid("TrafficPolicy"):
        if names[zone_record(d)] > 1:
            problems.append(d.problem(f"another TrafficPolicy also manages {d.spec.get('record')} in "
                                      f"{d.spec.get('zone')}", ("spec", "record")))
    for name, lspec in ladders.items():
        d = docs[("EncodingLadder", name)]
        counts = Counter(r.name for r in lspec.rungs)
        for i, rung in enumerate(lspec.rungs):
            if counts[rung.name] > 1:
                problems.append(d.problem(f"rung name '{rung.name}' is not unique", ("spec", "rungs", i, "name")))
            if rung.codec not in lspec.codecs:
                problems.append(d.problem(f"rung codec {rung.codec} is not among the ladder's codecs "
                                          f"{lspec.codecs}", ("spec", "rungs", i, "codec")))
        sizes = Counter((r.width, r.height, r.codec) for r in lspec.rungs)
        for i, rung in enumerate(lspec.rungs):
            if sizes[(rung.width, rung.height, rung.codec)] > 1:
                problems.append(d.problem(f"two rungs encode {rung.width}x{rung.height} {rung.codec}",
                                          ("spec", "rungs", i)))
    for d in valid("TranscodePool"):
        pool: m.TranscodePoolSpec = d.model
        need_region(d, pool.region, ("spec", "region"))
        if pool.ladder not in ladder_names:
            problems.append(d.problem(f"unknown encoding ladder '{pool.ladder}'", ("spec", "ladder")))
    for d in valid("CacheWarmPolicy"):
        cw: m.CacheWarmPolicySpec = d.model
        for i, pop in enumerate(cw.pops.names or []):
            if pop not in pop_names:
                problems.append(d.problem(f"unknown PoP '{pop}'", ("spec", "pops", "names", i)))
        for i, region in enumerate(cw.pops.regions or []):
            need_region(d, region, ("spec", "pops", "regions", i))
        for title, only in cw.pinned.items():
            for i, pop in enumerate(only):
                if pop not in pop_names:
                    problems.append(d.problem(f"unknown PoP '{pop}'", ("spec", "pinned", title, i)))
    failover = valid("FailoverPolicy")
    for extra in failover[1:]:
        problems.append(extra.problem(f"only one FailoverPolicy allowed (first: {failover[0].describe()})"))
    for d in failover[:1]:
        fp: m.FailoverPolicySpec = d.model
        if region_names and fp.min_regions_serving > len(region_names):
            problems.append(d.problem(f"minRegionsServing {fp.min_regions_serving} is more than the "
                                      f"{len(region_names)} regions declared", ("spec", "minRegionsServing")))
    from .dnsrecord import check as check_dns_records

    problems += check_dns_records(inv)
    import fnmatch

    from ..core.registry import providers
    from ..core.resources import resource_type_names

    type_names = resource_type_names()

    for d in valid("Provider"):
        p: m.ProviderSpec = d.model
        if p.type not in providers:
            problems.append(d.problem(f"unknown provider type '{p.type}' (known: {', '.join(providers.names())})",
                                      ("spec", "type")))
        for i, pattern in enumerate(p.serves.types):
            if not any(fnmatch.fnmatchcase(t, pattern) for t in type_names):
                problems.append(d.problem(f"'{pattern}' matches no resource type ({', '.join(type_names)})",
                                          ("spec", "serves", "types", i)))
        for i, region in enumerate(p.serves.regions or []):
            need_region(d, region, ("spec", "serves", "regions", i))
    return problems


def _raw_region_refs(kind: str, spec: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Region references in a document's raw spec: (field path, region name)."""
    if not isinstance(spec, dict):
        return []
    out: list[tuple[tuple[str | int, ...], str]] = []

    def add(path: tuple[str | int, ...], value: Any) -> None:
        if isinstance(value, str):
            out.append((("spec", *path), value))

    if kind in ("PoP", "TranscodePool", "OriginFleet"):
        add(("region",), spec.get("region"))
    elif kind == "Region":
        add(("failoverSecondary",), spec.get("failoverSecondary"))
    elif kind == "TrafficPolicy":
        targets: dict[str, Any] = spec["targets"] if isinstance(spec.get("targets"), dict) else {}
        for key in spec.get("weights") or {} if isinstance(spec.get("weights"), dict) else {}:
            if key not in targets:
                add(("weights", key), key)
        for i, region in enumerate(spec.get("regions") or [] if isinstance(spec.get("regions"), list) else []):
            add(("regions", i), region)
        for i, rule in enumerate(spec.get("geo") or [] if isinstance(spec.get("geo"), list) else []):
            if isinstance(rule, dict):
                add(("geo", i, "region"), rule.get("region"))
        pair = spec.get("failover")
        if isinstance(pair, dict):
            add(("failover", "primary"), pair.get("primary"))
            add(("failover", "secondary"), pair.get("secondary"))
    return out
