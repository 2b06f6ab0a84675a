"""What ``streamverse ctl status`` shows, gathered from the real sources of one workspace.

Every value comes from somewhere named in the output, or is the text ``unknown (<why>)``: nothing is
invented or defaulted.

regions
    health: each provider's health checks (``Provider.region_health``: the sim platform, DNS health
    checks) and, when the SLO names a Prometheus, its ingress probes (``probe_success``; a region
    without probe data is down, as the guardrails treat it). serving / drained: the state backend.
traffic
    per policy and region, the share resolvers get from the ``dns.record`` sets the providers hold now
    (their actual weights, health applied), not the inventory's.
load vs capacity
    measured request rates from Prometheus when it has them, else the CapacityModel's peak demand
    spread by the actual shares (``load_source`` says which), against each Region's ``maxRps``.
CDN hit ratio
    Prometheus (``cdn_cache_hits_total / cdn_requests_total`` by region), else a provider that reports
    PoP hit ratios (the sim platform; a region's is its PoPs' mean).
SLOs
    per SLO document, SLI and region: the burn rate (5m error ratio / error budget) and the budget
    remaining over the period (1 - 30d error ratio / budget), from the recording rules that
    ``slo rules`` writes (``slo:sli_error:ratio_rate5m`` ...), or, when Prometheus has no such series
    (rules not deployed, or a replay of recorded data), from the same SLI expressions evaluated raw.
overrides, runbooks, controller
    the state backend: active overrides, runbook runs still running or paused, and the controller's
    last recorded iteration (audit entries ``reconcile*``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..compiler.slo_rules import PERIOD, SLI, slis
from ..core.errors import StreamverseError
from ..core.resources import Resource
from ..core.secrets import redact
from ..inventory import models as m
from ..providers.sim.model import region_load, traffic_shares
from .workspace import Workspace, _metrics_time

log = logging.getLogger("streamverse.status")

UP, DOWN = "up", "DOWN"


def unknown(why: str) -> str:
    return f"unknown ({why})"


def reason(text: str) -> str:
    """The why of an ``unknown (why)`` text (the text itself otherwise)."""
    return text[len("unknown ("):-1] if text.startswith("unknown (") and text.endswith(")") else text


def _err(exc: BaseException) -> str:
    return redact(str(exc)).splitlines()[0][:200]


def gather(ws: Workspace) -> dict[str, Any]:
    """The whole status document (plain JSON data)."""
    prom = _prometheus(ws)
    try:
        return _gather(ws, prom)
    finally:
        if prom is not None:
            prom.close()


def _gather(ws: Workspace, prom: Any) -> dict[str, Any]:
    regions = ws.compiled.regions
    health, health_sources = _health(ws, prom, list(regions))
    shares, traffic_source = _shares(ws, health)
    load, load_source = _load(ws, prom, shares)
    modelled = load_source.startswith("CapacityModel")  # spread over every region: no share is no load
    hit, hit_source = _hit_ratio(ws, prom)
    statuses = ws.state.region_statuses()
    edges = _edge_sites(ws)
    rows = []
    for name, spec in regions.items():
        st = statuses.get(name) or {}
        cap = spec.capacity.max_rps
        rps = load.get(name, 0.0 if modelled else None) if isinstance(load, dict) else None
        rows.append({
            "region": name,
            "health": health[name],
            "health_sources": health_sources[name],
            "state": str(st.get("status") or "serving"),
            "state_reason": str(st.get("reason") or ""),
            "share": ({p: round(s.get(name, 0.0), 4) for p, s in shares.items()} if isinstance(shares, dict)
                      else shares),
            "load_rps": round(rps, 1) if rps is not None else (
                load if isinstance(load, str) else unknown(f"{load_source}: no request rate for the region")),
            "capacity_rps": cap,
            "utilization": round(rps / cap, 4) if rps is not None and cap else (
                load if isinstance(load, str) else unknown("no load" if rps is None else "no capacity")),
            "hit_ratio": (round(hit[name], 4) if name in hit else unknown(f"{hit_source}: no data for the region"))
            if isinstance(hit, dict) else hit,
            "edge_sites": edges.get(name, {"total": 0, "down": []}) if isinstance(edges, dict) else edges,
        })
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "inventory": str(ws.inventory_dir),
        "platform": "sim" if all(b.type == "sim" for b in ws.compiled.bindings.values()) else "providers",
        "sources": {"traffic": traffic_source, "load": load_source, "hit_ratio": hit_source,
                    "prometheus": prom.url if prom is not None else unknown(_no_prometheus_why(ws))},
        "regions": rows,
        "slos": _slos(ws),
        "overrides": [{"kind": o.kind, "name": o.name, "merge": dict(o.merge), "who": o.who, "at": o.at,
                       "reason": o.reason} for o in ws.overrides()],
        "runbooks": _runbooks(ws),
        "controller": _controller(ws),
    }


# ----- sources --------------------------------------------------------------------------------
def _edge_sites(ws: Workspace) -> dict[str, dict[str, Any]] | str:
    """Region -> its edge sites (under its PoPs): how many, and which are down (from the providers that
    report edge health: the sim platform); ``unknown (why)`` when none reports it."""
    from .capacity import edge_health

    pops = {d.name: d.model.region for d in ws.inventory.of("PoP")}
    sites = {d.name: pops.get(d.model.pop, "") for d in ws.inventory.of("EdgeSite")}
    if not sites:
        return {}
    try:
        health = edge_health(ws)
    except StreamverseError as exc:
        return unknown(_err(exc))
    out: dict[str, dict[str, Any]] = {}
    for site, region in sorted(sites.items()):
        entry = out.setdefault(region, {"total": 0, "down": []})
        entry["total"] += 1
        if site not in health:
            entry.setdefault("unreported", 0)
            entry["unreported"] += 1
        elif not health[site]:
            entry["down"].append(site)
    return out



def _no_prometheus_why(ws: Workspace) -> str:
    if ws.platform == "sim" or not ws.inventory.of("Provider"):
        return "the sim platform has no Prometheus"
    return "the SLO names no prometheusUrl"


def _prometheus(ws: Workspace) -> Any:
    try:
        return ws.metrics_source()
    except StreamverseError as exc:
        log.warning("status: no Prometheus: %s", _err(exc))
        return None


def _health(ws: Workspace, prom: Any, regions: Sequence[str]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    sources: dict[str, dict[str, str]] = {r: {} for r in regions}
    for name in ws.compiled.bindings:
        try:
            answer = ws.provider(name).region_health()
        except StreamverseError as exc:
            for r in regions:
                sources[r][name] = unknown(_err(exc))
            continue
        for r, ok in answer.items():
            if r in sources:
                sources[r][name] = UP if ok else DOWN
    if prom is not None:
        from ..providers.prometheus import REGION_HEALTH

        try:
            mins = prom.vector(REGION_HEALTH, "region")
            for r in regions:
                sources[r]["prometheus"] = (unknown("no probe data: treated as down") if r not in mins
                                            else UP if mins[r] == 1.0 else DOWN)
        except StreamverseError as exc:
            for r in regions:
                sources[r]["prometheus"] = unknown(_err(exc))
    out = {}
    for r, by in sources.items():
        said = list(by.values())
        if any(v == DOWN or v.endswith("treated as down)") for v in said):
            out[r] = DOWN
        elif said and all(v == UP for v in said):
            out[r] = UP
        elif UP in said:
            out[r] = UP + " (" + "; ".join(f"{k}: {reason(v)}" for k, v in by.items() if v != UP) + ")"
        else:
            out[r] = unknown("no provider health check or Prometheus probe reports it" if not said
                             else "; ".join(f"{k}: {reason(v)}" for k, v in by.items()))
    return out, sources


def _bool_health(health: Mapping[str, str]) -> dict[str, bool]:
    return {r: h != DOWN for r, h in health.items()}


def _shares(ws: Workspace, health: Mapping[str, str]) -> tuple[dict[str, dict[str, float]] | str, str]:
    """Policy -> region -> share, from the dns.record sets the providers hold now."""
    desired = {r.id: r for r in ws.compiled.resources if r.type == "dns.record"}
    readers = [name for name, types in ws.scope().items() if "dns.record" in types]
    if not readers:
        return unknown("no provider serves dns.record"), ""
    actual: list[Resource] = []
    try:
        for name in readers:
            actual.extend(ws.provider(name).read(["dns.record"]))
    except StreamverseError as exc:
        return unknown(f"reading dns.record failed: {_err(exc)}"), ""
    records = []
    for r in actual:
        want = desired.get(r.id)
        # providers that do not keep the policy name in the record: take it from the desired record
        keep = {k: want.spec.get(k) for k in ("policy", "routing", "region", "health_check")} if want else {}
        spec = {**keep, **{k: v for k, v in r.spec.items() if v is not None or k not in keep}}
        if spec.get("policy"):
            records.append(Resource(r.type, r.name, spec, r.provider))
    source = "dns.record sets read from " + ", ".join(readers)
    if not records:
        return unknown(f"no dns.record of a traffic policy at {', '.join(readers)} (not applied yet?)"), ""
    return traffic_shares(records, _bool_health(health)), source


def _load(ws: Workspace, prom: Any, shares: dict[str, dict[str, float]] | str
          ) -> tuple[dict[str, float] | str, str]:
    if prom is not None:
        from ..providers.prometheus_demand import live_demand

        try:
            measured = live_demand(prom).rps
        except StreamverseError as exc:
            measured, why = {}, _err(exc)
        else:
            why = "no request-rate series"
        if measured:
            return dict(measured), f"measured by prometheus {prom.url} (cdn_requests_total)"
        log.info("status: no measured load (%s): the CapacityModel's peak instead", why)
    if isinstance(shares, str):
        return shares, ""  # the same reason: the CapacityModel's demand is spread by the shares
    from .capacity import model_demand

    demand = model_demand(ws.inventory)
    if demand is None:
        return unknown("the CapacityModel does not fit the encoding ladder (see `capacity`)"), ""
    return region_load(shares, demand.rps), f"CapacityModel peak {demand.rps:,.0f} req/s spread by the actual shares"


def _hit_ratio(ws: Workspace, prom: Any) -> tuple[dict[str, float] | str, str]:
    if prom is not None:
        try:
            by_region = prom.hit_ratio("region")
        except StreamverseError as exc:
            return unknown(f"prometheus: {_err(exc)}"), ""
        if by_region:
            return by_region, f"prometheus {prom.url}"
    pops = {r.name: str(r.spec.get("region")) for r in ws.compiled.resources if r.type == "cdn.pop"}
    for name in ws.compiled.bindings:
        try:
            fn = getattr(ws.provider(name), "hit_ratios", None)
            if not callable(fn):
                continue
            per_pop: Mapping[str, float] = fn()
        except StreamverseError as exc:
            return unknown(f"{name}: {_err(exc)}"), ""
        grouped: dict[str, list[float]] = {}
        for pop, ratio in per_pop.items():
            if pop in pops:
                grouped.setdefault(pops[pop], []).append(float(ratio))
        if grouped:
            return {r: sum(v) / len(v) for r, v in grouped.items()}, f"{name} (mean of the region's PoPs)"
    why = "no Prometheus with cdn_requests_total and no provider reports PoP hit ratios"
    return unknown(why), ""


# ----- SLOs ------------------------------------------------------------------------------------
def _slos(ws: Workspace) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    sim = ws.platform == "sim" or not ws.inventory.of("Provider")
    at = _metrics_time(os.environ.get("STREAMVERSE_METRICS_AT", ""))
    for name, spec in sorted(ws.inventory.specs("SLO", m.SLOSpec).items()):
        if sim or not spec.prometheus_url:
            why = "the sim platform has no Prometheus" if sim else f"SLO {name} names no prometheusUrl"
            for s in slis(name, spec):
                out.append(_slo_row(s, "", unknown(why), unknown(why), ""))
            continue
        from ..providers.prometheus import PrometheusSource

        with PrometheusSource(spec.prometheus_url, at=at) as prom:
            for s in slis(name, spec):
                out.extend(_sli_rows(prom, s))
    return out


def _slo_row(s: SLI, region: str, burn: float | str, remaining: float | str, source: str) -> dict[str, Any]:
    return {"slo": s.slo, "sli": s.sli, "region": region or "(all)", "objective": s.objective,
            "error_budget": s.budget, "burn_rate": burn, "budget_remaining": remaining, "source": source}


def _ratios(prom: Any, s: SLI, window: str) -> tuple[dict[str, float], str]:
    """Region ("" when global) -> error ratio over ``window``: the recording rule, else the raw expression."""
    rule = f'slo:sli_error:ratio_rate{window}{{slo="{s.slo}", sli="{s.sli}"}}'
    for promql, source in ((rule, "recording rule"), (s.error_ratio(window), "SLI expression")):
        out: dict[str, float] = {}
        for series in prom.query(promql):
            try:
                value = float(series["value"][1])
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if value == value:  # NaN (0/0: no events in the window) is no data
                out[str((series.get("metric") or {}).get("region", ""))] = value
        if out:
            return out, source
    return {}, ""


def _sli_rows(prom: Any, s: SLI) -> list[dict[str, Any]]:
    try:
        now, src_now = _ratios(prom, s, "5m")
        period, src_period = _ratios(prom, s, PERIOD)
    except StreamverseError as exc:
        why = f"prometheus: {_err(exc)}"
        return [_slo_row(s, "", unknown(why), unknown(why), "")]
    if not now and not period:
        return [_slo_row(s, "", unknown("no data for its metrics"), unknown("no data for its metrics"), "")]
    rows = []
    for region in sorted(set(now) | set(period)):
        burn: float | str = round(now[region] / s.budget, 4) if region in now else unknown("no data over 5m")
        left: float | str = (round(1 - period[region] / s.budget, 4) if region in period
                             else unknown(f"no data over {PERIOD}"))
        source = f"prometheus {prom.url} ({src_now or src_period})"
        rows.append(_slo_row(s, region, burn, left, source))
    return rows


# ----- state -----------------------------------------------------------------------------------
def _runbooks(ws: Workspace) -> list[dict[str, Any]]:
    out = []
    for status in ("running", "paused"):
        for run in ws.state.journal_runs("runbook", limit=50, status=status):
            items = ws.state.journal_items(run["id"])
            current = next((i.item for i in items if i.status in ("running", "paused", "failed")), None)
            done = sum(1 for i in items if i.status in ("done", "skipped"))
            out.append({"id": run["id"], "runbook": run["ref"], "status": run["status"], "who": run.get("who"),
                        "started_at": run.get("started_at"), "step": current, "done": f"{done}/{len(items)}"})
    return out


def _controller(ws: Workspace) -> dict[str, Any] | str:
    """The controller's last recorded iteration (audit ``reconcile*``) and, on a state backend that keeps
    leader leases, who holds the ``reconcile`` lease and when it was last renewed."""
    out: dict[str, Any] = {}
    entries = ws.state.audit_log(limit=1, action="reconcile*")
    if entries:
        e = entries[-1]
        out["last_iteration"] = {"at": e.at, "who": e.who, "host": e.host, "action": e.action, "target": e.target,
                                 "result": e.result, "detail": e.detail}
    lease_info = getattr(ws.state, "lease_info", None)
    if callable(lease_info):
        try:
            lease = lease_info("reconcile")
        except Exception as exc:  # a backend without the table yet: said, not fatal
            lease = None
            out["lease"] = unknown(f"cannot read the reconcile lease: {_err(exc)}")
        if lease is not None:
            out["lease"] = {k: getattr(lease, k, None) for k in ("holder", "host", "acquired_at", "renewed_at", "ttl")}
    if not out:
        return unknown("no controller iteration recorded in the state (is `reconcile` running?)")
    return out
