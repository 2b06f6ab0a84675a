"""Capacity and cost planning: one model of demand (requests/s and egress) for ``capacity`` and failover.

Formulas (``M`` is the inventory's CapacityModel, defaults = the seed's figures):

==========================  =====================================================================
viewers at peak             ``V = users × peakConcurrentPercent / 100`` (``Σ peakConcurrentByRegion``
                            when that is given)
requests/s at peak          ``D = V × requestsPerViewerPerSecond``
mean viewed bitrate         ``b = Σ_rung renditionMix[rung] / 100 × bitrateKbps[rung]`` (kbps)
egress at peak              ``E = V × b / 10⁶`` (Gbps; ``/ 1000`` more for Tbps)
per region                  ``share_r`` = the region's part of the traffic policies (weights over
                            healthy answers, latency spread evenly, averaged over policies: the
                            sim platform's model); ``rps_r = share_r × D``, ``egress_r = share_r × E``
viewers' egress by region   where the viewers are, served by the region's PoPs and edge sites:
                            ``u_r = E × peakConcurrentByRegion[r] / Σ`` (``--live``: the measured
                            split; neither: ``egress_r``)
per PoP                     ``egress_p = u_r × (capacityGbps_p + edge_p) / Σ of r's PoPs``, ``edge_p``
                            = Σ capacityGbps of p's healthy edge sites
origin egress               ``O = Σ_p egress_p × (1 − hit_p)``, ``hit_p = cdnHitRatioPercent / 100``
content hours a day         ``H = uploadsPerDay × uploadMinutes / 60``
GB per hour at k kbps       ``k × 3600 / 8 / 10⁶ = k × 0.00045``
renditions a day            ``R = H × 0.00045 × Σ_rung bitrateKbps`` (GB; one copy per rung,
                            HLS and DASH share CMAF segments); sources ``S = H × 0.00045 × sourceBitrateKbps``
storage by class            hot ``R × hot.days × hot.copies``; warm ``R × (warm.days − hot.days) ×
                            copies``; cold ``R × (cold.days − warm.days) × copies``; archive ``S ×
                            archive.days × copies`` (steady state, once retention is reached)
growth a year               each class's daily intake × copies × 365 (what it is written a year)
GPUs                        ``GPU-h per content hour g = Σ_rung 1 / encodeSpeed[rung]``; average
                            ``H × g / 24``; peak ``× uploadPeakToAverage``; against
                            ``Σ pools maxNodes × gpusPerNode``
cache per PoP               ``H × hot.days × 0.00045 × b × cacheWorkingSetPercent / 100`` (GB;
                            the same popular catalog everywhere) against the PoP's ``cacheTb``
servers                     ``⌈D / rpsPerServer⌉ + ⌈O / originGbpsPerServer⌉``
monthly GB at g Gbps peak   ``g × averageToPeakPercent / 100 × 2,629,800 s / 8``
monthly cost                CDN ``monthlyGB(E) × cdnEgressPerGb``; transfer ``monthlyGB(O) ×
                            transferPerGb``; transcode ``H × g / 24 × 730 h × gpuHour``; serving
                            ``servers × 730 h × serverHour``; storage ``Σ class GB × its price``;
                            the seed's four categories: CDN, compute (transcode + serving), storage,
                            transfer
storage capacity            each class's ``gb`` against its declared ``capacityPb``
headroom                    ``capacity / need`` per resource, against ``headroom.factor`` (or
                            ``headroom.resources[name]``): below 1 is *short*, below the factor
                            is *below policy*
==========================  =====================================================================

What-ifs: ``users=x2`` (or a number) scales the users; ``viral=VIDEO:FACTOR`` multiplies demand by
FACTOR and drops each PoP's hit ratio as the sim platform does for a viral video (``base − 0.15``
where no warm set holds the video, the warmed ratio where one does); ``fail=REGION`` moves the
region's weighted traffic exactly as ``failover REGION`` would (:func:`spread` under the
FailoverPolicy and the current weights, the region drained from latency policies), and the
FailoverPolicy's checks (:func:`failover_refusals`) are the failover guardrail's own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..compiler import CompileInput, Override, compile_inventory
from ..core.errors import InputError, PermanentError, Problem, Refusal
from ..inventory import models as m
from ..inventory.capacity import CLASSES, CapacityModelSpec
from ..providers.sim.model import region_load, traffic_shares, viral_hit_ratio

if TYPE_CHECKING:
    from ..inventory.model import Document, Inventory
    from ..providers.prometheus_demand import LiveDemand
    from .workspace import Workspace

GB_PER_KBPS_HOUR = 3600 / 8 / 1e6  # 0.00045 GB per hour of 1 kbps
SECONDS_PER_MONTH = 30.4375 * 86400  # 2,629,800
HOURS_PER_MONTH = 730


# ----- the formulas (pure) -------------------------------------------------------------------
def peak_viewers(users: float, concurrent_percent: float) -> float:
    return users * concurrent_percent / 100


def peak_rps(viewers: float, rps_per_viewer: float) -> float:
    return viewers * rps_per_viewer


def mean_bitrate_kbps(mix: Mapping[str, float], bitrates: Mapping[str, float]) -> float:
    return sum(pct / 100 * bitrates[rung] for rung, pct in mix.items())


def egress_gbps(viewers: float, kbps: float) -> float:
    return viewers * kbps / 1e6


def content_hours_per_day(uploads: float, minutes: float) -> float:
    return uploads * minutes / 60


def gb_per_hour(kbps: float) -> float:
    return kbps * GB_PER_KBPS_HOUR


def storage_gb(hours_per_day: float, rendition_kbps: float, source_kbps: float,
               days: Mapping[str, int], copies: Mapping[str, int]) -> dict[str, dict[str, float]]:
    """Class -> {gb: steady-state size, gb_per_year: written a year} (renditions hot → warm → cold, sources archive)."""
    renditions = hours_per_day * gb_per_hour(rendition_kbps)
    sources = hours_per_day * gb_per_hour(source_kbps)
    window = {"hot": days["hot"], "warm": days["warm"] - days["hot"], "cold": days["cold"] - days["warm"],
              "archive": days["archive"]}
    out = {}
    for c in CLASSES:
        daily = (sources if c == "archive" else renditions) * copies[c]
        out[c] = {"gb": daily * window[c], "gb_per_year": daily * 365}
    return out


def origin_egress_gbps(egress: float, hit_ratio: float) -> float:
    return egress * (1 - hit_ratio)


def gpus_needed(hours_per_day: float, speeds: Mapping[str, float], peak_to_average: float) -> tuple[float, float]:
    """(average, peak) GPUs busy encoding every upload into every rung."""
    per_hour = sum(1 / s for s in speeds.values())
    average = hours_per_day * per_hour / 24
    return average, average * peak_to_average


def cache_per_pop_gb(hours_per_day: float, hot_days: int, mean_kbps: float, working_set_percent: float) -> float:
    return hours_per_day * hot_days * gb_per_hour(mean_kbps) * working_set_percent / 100


def servers_needed(rps: float, rps_per_server: float, origin_gbps: float, gbps_per_server: float) -> int:
    return math.ceil(rps / rps_per_server) + math.ceil(origin_gbps / gbps_per_server)


def monthly_gb(peak_gbps: float, average_to_peak_percent: float) -> float:
    return peak_gbps * average_to_peak_percent / 100 * SECONDS_PER_MONTH / 8


def headroom(capacity: float, need: float) -> float | None:
    return capacity / need if need > 0 else None


def judge(ratio: float | None, factor: float) -> str:
    if ratio is None:
        return "ok"
    return "short" if ratio < 1 else ("below policy" if ratio < factor else "ok")


# ----- the traffic model shared with the failover runbook ------------------------------------
@dataclass
class Projection:
    load: dict[str, float]  # region -> req/s
    capacity: dict[str, int]  # region -> max req/s
    shares: dict[str, dict[str, float]]  # policy -> region -> share
    egress: dict[str, float] = field(default_factory=dict)  # region -> Gbps
    egress_capacity: dict[str, float] = field(default_factory=dict)  # region -> egressGbps

    def utilization(self) -> dict[str, float]:
        return {r: (self.load.get(r, 0.0) / c if c else 0.0) for r, c in self.capacity.items()}

    def overloaded(self, limit: float = 1.0) -> dict[str, float]:
        return {r: u for r, u in self.utilization().items() if u > limit}


def _projection(compiled: Any, health: Mapping[str, bool], demand_rps: float, demand_gbps: float) -> Projection:
    records = [r for r in compiled.resources if r.type == "dns.record"]
    shares = traffic_shares(records, health)
    load = region_load(shares, demand_rps)
    part = region_load(shares, 1.0)
    return Projection(load, {n: r.capacity.max_rps for n, r in compiled.regions.items()}, shares,
                      {r: p * demand_gbps for r, p in part.items()},
                      {n: r.capacity.egress_gbps for n, r in compiled.regions.items()})


def current_weights(ws: Workspace, policy: str) -> dict[str, int]:
    """The weights the policy is meant to have now (overrides applied, drained regions at 0)."""
    spec = ws.compiled.policies[policy]
    drained = ws.drained()
    return {r: (0 if r in drained else int(w)) for r, w in sorted((spec.weights or {}).items())}


def project_now(ws: Workspace, demand_rps: float, health: Mapping[str, bool], demand_gbps: float = 0.0) -> Projection:
    """Load per region as the inventory, overrides and drained regions route it now."""
    return _projection(ws.compiled, health, demand_rps, demand_gbps)


def project(ws: Workspace, policy: str, weights: Mapping[str, int], drain: Collection[str],
            demand_rps: float, health: Mapping[str, bool], demand_gbps: float = 0.0) -> Projection:
    """Load per region once ``policy`` has ``weights`` and ``drain`` is drained (compiled as it will be)."""
    overrides = [o for o in ws.overrides() if (o.kind, o.name) != ("TrafficPolicy", policy)]
    existing = next((o for o in ws.overrides() if (o.kind, o.name) == ("TrafficPolicy", policy)), None)
    merge = {**(dict(existing.merge) if existing else {}), "weights": dict(weights)}
    overrides.append(Override("TrafficPolicy", policy, merge))
    compiled = compile_inventory(ws.inventory, CompileInput(drained=ws.drained() | frozenset(drain),
                                                            overrides=overrides, platform=ws.platform))
    return _projection(compiled, health, demand_rps, demand_gbps)


def spread(ws: Workspace, policy: str, source: str, demand_rps: float, health: Mapping[str, bool]) -> dict[str, int]:
    """Weights without ``source`` that leave every receiving region the same utilization.

    Each region's room for the policy is its capacity minus what the other policies send it once
    ``source`` is drained; weights are proportional to that room (largest remainder rounding,
    same total as now), so a small region already near its limit gets less, not more.
    """
    now = current_weights(ws, policy)
    total = sum(now.values())
    receivers = [r for r, w in now.items() if r != source and w > 0 and health.get(r, True)]
    zero = {r: 0 for r in now}
    base = project(ws, policy, zero | {r: 1 for r in receivers}, [source], demand_rps, health)
    per_policy = demand_rps / max(1, len(base.shares))
    mine = {r: base.shares.get(policy, {}).get(r, 0.0) * per_policy for r in receivers}
    room = {r: max(0.0, base.capacity[r] - (base.load.get(r, 0.0) - mine[r])) for r in receivers}
    if not receivers or sum(room.values()) <= 0:
        return zero
    exact = {r: total * room[r] / sum(room.values()) for r in receivers}
    out = {r: math.floor(v) for r, v in exact.items()}
    left = total - sum(out.values())
    for r in sorted(receivers, key=lambda r: exact[r] - out[r], reverse=True)[:left]:
        out[r] += 1
    return zero | out


def failover_refusals(proj: Projection, receivers: Sequence[str], policy: str,
                      failover: m.FailoverPolicySpec) -> list[Refusal]:
    """The failover guardrail's capacity checks: requests/s, egress, the FailoverPolicy's largest share."""
    out = []
    limit = failover.max_region_share_percent
    for region in receivers:
        load, cap = proj.load.get(region, 0.0), proj.capacity.get(region, 0)
        if cap and load > cap:
            out.append(Refusal("capacity", f"{region} would receive {load:,.0f} req/s, above its capacity "
                                           f"{cap:,} req/s ({100 * load / cap:.0f} %)"))
        gbps, gcap = proj.egress.get(region, 0.0), proj.egress_capacity.get(region, 0.0)
        if gcap and gbps > gcap:
            out.append(Refusal("capacity", f"{region} would serve {gbps:,.0f} Gbps, above its egressGbps "
                                           f"{gcap:,.0f} ({100 * gbps / gcap:.0f} %)"))
        share = proj.shares.get(policy, {}).get(region, 0.0) * 100
        if share > limit:
            out.append(Refusal("capacity", f"{region} would carry {share:.0f} % of {policy}, above the "
                                           f"FailoverPolicy maxRegionSharePercent {limit} %"))
    return out


def capacity_model(inv: Inventory) -> tuple[CapacityModelSpec, Document | None]:
    """The inventory's CapacityModel (the first one), else the seed's defaults."""
    for d in inv.of("CapacityModel"):
        if isinstance(d.model, CapacityModelSpec):
            return d.model, d
    return CapacityModelSpec(), None


def model_demand(inv: Inventory) -> Demand | None:
    """Peak demand of the inventory's CapacityModel, or None when its ladder does not fit (``capacity`` says why)."""
    model, doc = capacity_model(inv)
    try:
        return Demand.of(model, _bitrates(inv, model, doc))
    except InputError:
        return None


def gbps_per_rps(inv: Inventory) -> float:
    """Peak egress per request/s in the CapacityModel (turns a req/s demand into Gbps; 0: no egress check)."""
    d = model_demand(inv)
    return d.gbps / d.rps if d is not None and d.rps else 0.0


# ----- the report ----------------------------------------------------------------------------
@dataclass(frozen=True)
class WhatIf:
    kind: str  # fail | viral | users
    region: str = ""
    video: str = ""
    factor: float = 1.0
    users: float | None = None  # an absolute number instead of a factor

    def describe(self) -> str:
        if self.kind == "fail":
            return f"fail={self.region}"
        if self.kind == "viral":
            return f"viral={self.video}:{self.factor:g}"
        return f"users={self.users:g}" if self.users is not None else f"users=x{self.factor:g}"


def parse_what_if(texts: Sequence[str]) -> list[WhatIf]:
    """``fail=REGION``, ``viral=VIDEO:FACTOR``, ``users=x2`` (or ``users=NUMBER``); every bad one reported."""
    out: list[WhatIf] = []
    bad: list[str] = []
    for text in texts:
        key, _, value = text.partition("=")
        key, value = key.strip(), value.strip()
        if key == "fail" and value:
            out.append(WhatIf("fail", region=value))
        elif key == "viral" and (mv := re.fullmatch(r"(.+):(\d+(?:\.\d+)?)", value)) and float(mv.group(2)) >= 1:
            out.append(WhatIf("viral", video=mv.group(1), factor=float(mv.group(2))))
        elif key == "users" and (mu := re.fullmatch(r"x(\d+(?:\.\d+)?)", value)) and float(mu.group(1)) > 0:
            out.append(WhatIf("users", factor=float(mu.group(1))))
        elif key == "users" and re.fullmatch(r"\d+", value) and int(value) > 0:
            out.append(WhatIf("users", users=float(value)))
        else:
            bad.append(f"'{text}' is not fail=REGION, viral=VIDEO:FACTOR (FACTOR ≥ 1) or users=xFACTOR|NUMBER")
    kinds = [w.kind for w in out]
    for k in sorted(set(kinds)):
        if kinds.count(k) > 1:
            bad.append(f"--what-if {k}= given {kinds.count(k)} times: give each kind once")
    if bad:
        raise PermanentError("--what-if: " + "; ".join(bad))
    return out


@dataclass
class Demand:
    viewers: float
    rps: float
    kbps: float  # mean viewed bitrate
    gbps: float

    @classmethod
    def of(cls, model: CapacityModelSpec, bitrates: Mapping[str, float], users: float | None = None,
           factor: float = 1.0) -> Demand:
        viewers = peak_viewers(users if users is not None else model.users, model.concurrent_percent()) * factor
        kbps = mean_bitrate_kbps(model.rendition_mix, bitrates)
        return cls(viewers, peak_rps(viewers, model.requests_per_viewer_per_second), kbps, egress_gbps(viewers, kbps))


def _bitrates(inv: Inventory, model: CapacityModelSpec, doc: Document | None) -> dict[str, float]:
    """Rung -> kbps of the model's ladder; every name the model uses that the ladder lacks is a problem."""
    ladder = inv.get("EncodingLadder", model.ladder)
    problems: list[Problem] = []

    def problem(message: str, path: tuple[str, ...]) -> None:
        problems.append(doc.problem(message, ("spec", *path)) if doc is not None
                        else Problem(f"CapacityModel (default): {message}", str(inv.root)))

    if ladder is None or not isinstance(ladder.model, m.EncodingLadderSpec):
        names = ", ".join(d.name for d in inv.of("EncodingLadder")) or "none"
        problem(f"unknown encoding ladder '{model.ladder}' (ladders: {names})", ("ladder",))
        raise InputError(problems)
    rates = {r.name: float(r.bitrate_kbps) for r in ladder.model.rungs}
    for field_name, values in (("renditionMix", model.rendition_mix), ("encodeSpeed", model.encode_speed)):
        for rung in values:
            if rung not in rates:
                problem(f"rung '{rung}' is not in EncodingLadder/{model.ladder} (rungs: {', '.join(rates)})",
                        (field_name, rung))
    for rung in rates:
        if rung not in model.encode_speed:
            problem(f"no encode speed for rung '{rung}' of EncodingLadder/{model.ladder}", ("encodeSpeed",))
    if problems:
        raise InputError(problems)
    return rates


def _check_regions(ws: Workspace, model: CapacityModelSpec, doc: Document | None) -> None:
    regions = ws.compiled.regions
    problems = []
    for region in model.peak_concurrent_by_region:
        if region not in regions:
            message = f"unknown region '{region}' (regions: {', '.join(sorted(regions))})"
            problems.append(doc.problem(message, ("spec", "peakConcurrentByRegion", region)) if doc is not None
                            else Problem(f"CapacityModel (default): {message}", str(ws.inventory.root)))
    if problems:
        raise InputError(problems)


def _factor(model: CapacityModelSpec, resource: str) -> float:
    return model.headroom.resources.get(resource, model.headroom.factor)


def edge_health(ws: Workspace) -> dict[str, bool]:
    """Edge site -> healthy, from the providers that serve cdn.edge_site and report it (the sim platform)."""
    out: dict[str, bool] = {}
    for name in sorted({r.provider for r in ws.compiled.resources if r.type == "cdn.edge_site"}):
        fn = getattr(ws.provider(name), "edge_health", None)
        if callable(fn):
            out.update(fn())
    return out


def report(ws: Workspace, what_ifs: Sequence[WhatIf] = (), health: Mapping[str, bool] | None = None,
           live: LiveDemand | None = None, edges: Mapping[str, bool] | None = None) -> dict[str, Any]:
    """Capacity, cost and headroom of the inventory (``baseline``) and, with what-ifs, after them.

    ``edges``: edge site -> healthy; a site that is down counts no capacity.
    ``live`` (``--live``): the measured request rate (and egress, where measured) replaces the
    model's peak demand, and measured hit ratios replace ``cdnHitRatioPercent`` on the PoPs that
    report one; the split over regions still follows the traffic policies (the failover model).
    """
    model, doc = capacity_model(ws.inventory)
    bitrates = _bitrates(ws.inventory, model, doc)
    _check_regions(ws, model, doc)
    fails = [w for w in what_ifs if w.kind == "fail"]
    for w in fails:
        if w.region not in ws.compiled.regions:
            raise PermanentError(f"--what-if fail={w.region}: unknown region (regions: "
                                 f"{', '.join(ws.compiled.regions)})")
        if w.region in ws.drained():
            raise PermanentError(f"--what-if fail={w.region}: {w.region} is already drained")
    health = dict(health or {})
    out: dict[str, Any] = {"model": doc.describe() if doc else "CapacityModel (defaults)",
                           "headroom_policy": {"factor": model.headroom.factor, **model.headroom.resources}}
    if live is not None:
        out["live"] = {"source": live.source, "rps": live.rps, "egress_gbps": live.egress_gbps,
                       "hit_ratio": live.hit_ratio}
    down = sorted(n for n, ok in (edges or {}).items() if not ok)
    out["baseline"] = _scenario(ws, model, bitrates, health, [], live, down)
    if what_ifs:
        out["what_if"] = _scenario(ws, model, bitrates, health, list(what_ifs), live, down)
    return out


def _scenario(ws: Workspace, model: CapacityModelSpec, bitrates: Mapping[str, float], health: Mapping[str, bool],
              what_ifs: list[WhatIf], live: LiveDemand | None = None, edges_down: Sequence[str] = ()
              ) -> dict[str, Any]:
    compiled = ws.compiled
    users = next((w for w in what_ifs if w.kind == "users"), None)
    viral = next((w for w in what_ifs if w.kind == "viral"), None)
    fail = next((w for w in what_ifs if w.kind == "fail"), None)
    n_users = model.users if users is None else (users.users if users.users is not None else model.users * users.factor)
    demand = Demand.of(model, bitrates, users=n_users, factor=viral.factor if viral else 1.0)
    if live is not None:  # measured now instead of the model's peak; what-ifs scale it the same way
        scale = (n_users / model.users) * (viral.factor if viral else 1.0)
        rps = sum(live.rps.values()) * scale
        per_rps = demand.gbps / demand.rps if demand.rps else 0.0
        gbps = sum(live.egress_gbps.values()) * scale if live.egress_gbps else rps * per_rps
        demand = Demand(rps / model.requests_per_viewer_per_second, rps, demand.kbps, gbps)
    notes: list[str] = []
    failover: dict[str, Any] | None = None
    if fail is None:
        proj = project_now(ws, demand.rps, health, demand.gbps)
    else:
        policy = "www" if "www" in compiled.policies and compiled.policies["www"].routing == "weighted" else next(
            (n for n, p in compiled.policies.items() if p.routing == "weighted"), None)
        if policy is None:
            raise PermanentError("--what-if fail= shifts a weighted TrafficPolicy; the inventory has none")
        now = current_weights(ws, policy)
        final = spread(ws, policy, fail.region, demand.rps, health)
        full = not any(final.values())
        if full:  # no receiver has room left: show the overload of a spread by today's weights
            final = {r: (0 if r == fail.region or not health.get(r, True) else w) for r, w in now.items()}
        proj = project(ws, policy, final, [fail.region], demand.rps, health, demand.gbps)
        receivers = [r for r, w in final.items() if w > 0 and health.get(r, True)]
        refusals = failover_refusals(proj, receivers, policy, compiled.failover)
        if full:
            refusals.insert(0, Refusal("capacity", f"no region has room left for {fail.region}'s traffic: "
                                                   f"spread by today's weights instead"))
        if not receivers:
            refusals.insert(0, Refusal("zero-serving", f"no healthy region could take {fail.region}'s traffic"))
        if 0 < len(receivers) < compiled.failover.min_regions_serving:
            refusals.append(Refusal("min-regions", f"{policy} would be served by {len(receivers)} healthy "
                                    f"region(s); FailoverPolicy minRegionsServing is "
                                    f"{compiled.failover.min_regions_serving}"))
        failover = {"region": fail.region, "policy": policy, "weights_now": now, "weights_after": final,
                    "refusals": [f"[{r.name}] {r.message}" for r in refusals]}
        notes.append(f"fail={fail.region}: {policy} weights {now} -> {final} (as `failover {fail.region}` would)")
    user_egress = users_egress(model, demand, proj, live)
    base_hit = model.cdn_hit_ratio_percent / 100
    pops = {n: s for n, s in ((r.name, r.spec) for r in compiled.resources if r.type == "cdn.pop")}
    hit = {p: (live.hit_ratio.get(p, base_hit) if live is not None else base_hit) for p in pops}
    if viral is not None:
        warm = [(dict(r.spec), 0.0) for r in compiled.resources if r.type == "cdn.warm_set"]
        policies = [(dict(r.spec), 0.0) for r in compiled.resources if r.type == "cdn.cache_policy"]
        hit = {p: max(0.0, viral_hit_ratio(hit[p], viral.video, 0.0, p, warm, policies, 0.0, at=0.0))
               for p in pops}
        warmed = {str(spec.get("pop")) for spec, _ in warm if viral.video in (spec.get("titles") or [])}
        notes.append(f"viral={viral.video}:{viral.factor:g}: demand x{viral.factor:g}; {len(warmed & set(pops))} of "
                     f"{len(pops)} PoPs have it warmed")
    # regions, PoPs and their edge sites (a PoP's egress is shared with its edge sites)
    edge_cap: dict[str, float] = {}
    edge_cache: dict[str, float] = {}
    edge_count: dict[str, int] = {}
    if edges_down:
        notes.append(f"{len(edges_down)} edge site(s) down, their capacity not counted: {', '.join(edges_down[:10])}"
                     + (" …" if len(edges_down) > 10 else ""))
    for site in compiled.resources:
        if site.type == "cdn.edge_site" and site.name not in edges_down:
            parent = str(site.spec["pop"])
            edge_cap[parent] = edge_cap.get(parent, 0.0) + float(site.spec["capacity_gbps"])
            edge_cache[parent] = edge_cache.get(parent, 0.0) + float(site.spec["cache_tb"])
            edge_count[parent] = edge_count.get(parent, 0) + 1
    pop_cap_by_region: dict[str, float] = {}
    edge_cap_by_region: dict[str, float] = {}
    for n, s in pops.items():
        pop_cap_by_region[str(s["region"])] = pop_cap_by_region.get(str(s["region"]), 0.0) + float(s["capacity_gbps"])
        edge_cap_by_region[str(s["region"])] = edge_cap_by_region.get(str(s["region"]), 0.0) + edge_cap.get(n, 0.0)
    hours = content_hours_per_day(model.uploads_per_day, model.upload_minutes)
    cache_need_gb = cache_per_pop_gb(hours, model.storage.hot.days, demand.kbps, model.cache_working_set_percent)
    pop_rows = []
    origin_total = 0.0
    for name, s in sorted(pops.items()):
        region = str(s["region"])
        region_cap = pop_cap_by_region[region] + edge_cap_by_region[region]
        serving_cap = float(s["capacity_gbps"]) + edge_cap.get(name, 0.0)
        egress = user_egress.get(region, 0.0) * serving_cap / region_cap if region_cap else 0.0
        origin = origin_egress_gbps(egress, hit[name])
        origin_total += origin
        pop_rows.append({"pop": name, "region": region, "egress_gbps": egress, "capacity_gbps": s["capacity_gbps"],
                         "hit_ratio": hit[name], "origin_gbps": origin, "cache_need_tb": cache_need_gb / 1000,
                         "cache_tb": s["cache_tb"], "edge_sites": edge_count.get(name, 0),
                         "edge_capacity_gbps": edge_cap.get(name, 0.0), "edge_cache_tb": edge_cache.get(name, 0.0)})
    served_without_pops = sum(g for r, g in user_egress.items() if r not in pop_cap_by_region)
    origin_total += served_without_pops  # a region with no PoP serves everything from origin
    region_rows = []
    for name in sorted(compiled.regions):
        region_rows.append({
            "region": name, "share": proj.load.get(name, 0.0) / demand.rps if demand.rps else 0.0,
            "rps": proj.load.get(name, 0.0), "max_rps": proj.capacity[name],
            "egress_gbps": proj.egress.get(name, 0.0), "egress_capacity_gbps": proj.egress_capacity[name],
            "pop_capacity_gbps": pop_cap_by_region.get(name, 0.0),
            "edge_capacity_gbps": edge_cap_by_region.get(name, 0.0),
            "edge_sites": sum(p["edge_sites"] for p in pop_rows if p["region"] == name),
            "origin_gbps": sum(p["origin_gbps"] for p in pop_rows if p["region"] == name)
            + (user_egress.get(name, 0.0) if name not in pop_cap_by_region else 0.0),
            "user_egress_gbps": user_egress.get(name, 0.0),
            "viewers": demand.viewers * user_egress.get(name, 0.0) / demand.gbps if demand.gbps else 0.0,
        })
    # storage, GPUs, servers, cost
    days = {c: getattr(model.storage, c).days for c in CLASSES}
    copies = {c: getattr(model.storage, c).copies for c in CLASSES}
    store = storage_gb(hours, sum(bitrates.values()), model.source_bitrate_kbps, days, copies)
    gpu_avg, gpu_peak = gpus_needed(hours, {r: model.encode_speed[r] for r in bitrates}, model.upload_peak_to_average)
    pools = [(r.name, dict(r.spec)) for r in compiled.resources if r.type == "transcode.pool"]
    gpu_max = sum(int(s["max_nodes"]) for _, s in pools) * model.gpus_per_node
    servers = servers_needed(demand.rps, model.rps_per_server, origin_total, model.origin_gbps_per_server)
    prices = model.prices
    cost = {
        "cdn": monthly_gb(demand.gbps, model.average_to_peak_percent) * prices.cdn_egress_per_gb,
        "transfer": monthly_gb(origin_total, model.average_to_peak_percent) * prices.transfer_per_gb,
        "transcode": gpu_avg * HOURS_PER_MONTH * prices.gpu_hour,
        "serving": servers * HOURS_PER_MONTH * prices.server_hour,
        "storage": sum(store[c]["gb"] * getattr(prices.storage_per_gb_month, c) for c in CLASSES),
    }
    cost["total"] = sum(cost.values())
    # headroom
    total_rps_cap = sum(r.capacity.max_rps for r in compiled.regions.values())
    total_egress_cap = sum(r.capacity.egress_gbps for r in compiled.regions.values())
    total_pop_cap = sum(pop_cap_by_region.values())
    resources: list[tuple[str, str, float, float, str]] = [
        ("requests", "all regions", total_rps_cap, demand.rps, "req/s"),
        ("egress", "all regions", total_egress_cap, demand.gbps, "Gbps"),
        ("pop-egress", "all PoPs", total_pop_cap, demand.gbps, "Gbps"),
        *([("edge-egress", "all PoPs and edge sites", total_pop_cap + sum(edge_cap.values()), demand.gbps, "Gbps")]
          if edge_cap else []),
        ("gpu", "all pools", gpu_max, gpu_peak, "GPUs"),
    ]
    for r in region_rows:
        resources.append(("requests", r["region"], r["max_rps"], r["rps"], "req/s"))
        resources.append(("egress", r["region"], r["egress_capacity_gbps"], r["egress_gbps"], "Gbps"))
        if r["pop_capacity_gbps"]:
            resources.append(("pop-egress", r["region"], r["pop_capacity_gbps"], r["user_egress_gbps"], "Gbps"))
        if edge_cap and r["pop_capacity_gbps"]:
            resources.append(("edge-egress", r["region"], r["pop_capacity_gbps"] + r["edge_capacity_gbps"],
                              r["user_egress_gbps"], "Gbps"))
    for p in pop_rows:
        resources.append(("cache", p["pop"], p["cache_tb"], p["cache_need_tb"], "TB"))
    for c in CLASSES:
        declared = getattr(model.storage, c).capacity_pb
        if declared is not None:
            resources.append(("storage", c, declared, store[c]["gb"] / 1e6, "PB"))
    headrooms: list[dict[str, Any]] = []
    for res, scope, cap, need, unit in resources:
        ratio = headroom(float(cap), float(need))
        factor = _factor(model, res)
        headrooms.append({"resource": res, "scope": scope, "need": need, "capacity": cap, "unit": unit,
                          "headroom": ratio, "policy": factor, "status": judge(ratio, factor)})
    shortfalls = sorted((h for h in headrooms if h["status"] != "ok"), key=lambda h: h["status"] != "short")
    return {
        "what_if": [w.describe() for w in what_ifs], "notes": notes,
        "demand": {"users": n_users, "viewers": demand.viewers, "rps": demand.rps, "mean_kbps": demand.kbps,
                   "egress_tbps": demand.gbps / 1000, "origin_egress_tbps": origin_total / 1000,
                   "hit_ratio": (1 - origin_total / demand.gbps) if demand.gbps else 0.0},
        "storage": {c: {"pb": store[c]["gb"] / 1e6, "pb_per_year": store[c]["gb_per_year"] / 1e6, "days": days[c],
                        "copies": copies[c]} for c in CLASSES}
        | {"total": {"pb": sum(v["gb"] for v in store.values()) / 1e6,
                     "pb_per_year": sum(v["gb_per_year"] for v in store.values()) / 1e6}},
        "regions": region_rows, "pops": pop_rows,
        "gpus": {"average": gpu_avg, "peak": gpu_peak, "max": gpu_max, "gpus_per_node": model.gpus_per_node,
                 "pools": {n: int(s["max_nodes"]) for n, s in pools}},
        "servers": servers, "cost_per_month": cost,
        "cost_by_category": {"cdn": cost["cdn"], "compute": cost["transcode"] + cost["serving"],
                             "storage": cost["storage"], "transfer": cost["transfer"], "total": cost["total"]},
        "headroom": headrooms,
        "shortfalls": [f"{h['resource']} {h['scope']}: {h['status']} "
                       f"({_x(h['headroom'])} vs policy {h['policy']:g}x)" for h in shortfalls],
        "failover": failover,
    }


def users_egress(model: CapacityModelSpec, demand: Demand, proj: Projection,
                 live: LiveDemand | None) -> dict[str, float]:
    """Egress by the region the viewers are in (what its PoPs and edge sites serve), in Gbps.

    Live: the measured split (egress where measured, else requests/s); else the model's
    ``peakConcurrentByRegion`` split of the total; else the traffic policies' split (the failover model).
    """
    if live is not None and (live.egress_gbps or live.rps):
        split = dict(live.egress_gbps or live.rps)
    elif model.peak_concurrent_by_region:
        split = dict(model.peak_concurrent_by_region)
    else:
        return dict(proj.egress)
    total = sum(split.values())
    return {r: demand.gbps * v / total for r, v in split.items()} if total else dict(proj.egress)


def _x(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"
