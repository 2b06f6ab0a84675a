"""SLOs as Prometheus rules: SLI error ratios, SLO metadata and multi-window multi-burn-rate alerts.

Pure data (no Prometheus client): an SLO document in, rule groups (plain dicts, the Prometheus
rule-file shape) out. ``streamverse ctl slo rules`` writes them; the shape follows Sloth and the
Google SRE workbook ("Alerting on SLOs", multiwindow, multi-burn-rate alerts).

Per SLO document and SLI (``startup``, ``api_latency``, ``availability``, ``cdn_hit_ratio``):

``slo:sli_error:ratio_rate<W>``  for W in 5m, 30m, 1h, 2h, 6h, 1d, 3d and the period (30d)
    the share of bad events over the window, labelled ``slo``, ``sli`` and ``region`` (when the
    metric has a region label; ``regionLabel`` names it, ``''`` aggregates globally).
``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:time_period:days``
    the objective (e.g. 0.9999), its error budget (1 - objective) and the period.
``slo:current_burn_rate:ratio`` / ``slo:period_burn_rate:ratio``
    the 5m and period error ratios divided by the budget (1 = spending it exactly in the period).
``slo:period_error_budget_remaining:ratio``
    1 - period burn rate: the share of the period's budget left (negative when overspent).

Alerts (burn-rate factors for a 30 day period): ``severity: page`` when the burn rate is over
14.4 on 1h and 5m, or over 6 on 6h and 30m; ``severity: ticket`` when over 3 on 1d and 2h, or over
1 on 3d and 6h. Each names its runbook: ``runbook_url: streamverse ctl runbook show <name>``
(see :data:`RUNBOOKS`).

SLIs and their default metrics (overridable per SLO under ``spec.metrics``):

``startup``        ``streamverse_playback_startup_seconds`` histogram: plays slower than
                   ``startupSeconds`` of all plays (objective ``startupObjectivePercent``, 99)
``api_latency``    ``streamverse_api_request_duration_seconds`` histogram: requests slower than
                   ``apiP95Ms`` (objective ``apiLatencyObjectivePercent``, 95: the p95)
``availability``   ``streamverse_http_requests_total{code=~"5.."}`` of
                   ``streamverse_http_requests_total`` (objective ``availabilityPercent``)
``cdn_hit_ratio``  1 - ``cdn_cache_hits_total`` / ``cdn_requests_total`` (objective
                   ``cdnHitRatioPercent``)

:data:`BASE_GROUP` holds the platform's own recording rules (region health, hit ratio, API p95)
that :mod:`streamverse_ctl.providers.prometheus` queries the raw form of.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..inventory import models as m

PERIOD = "30d"
PERIOD_DAYS = 30
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", PERIOD)

# (severity, burn-rate factor, long window, short window): the SRE workbook's table for 30 days
BURN_ALERTS: tuple[tuple[str, float, str, str], ...] = (
    ("page", 14.4, "1h", "5m"),
    ("page", 6, "6h", "30m"),
    ("ticket", 3, "1d", "2h"),
    ("ticket", 1, "3d", "6h"),
)

SLIS = ("startup", "api_latency", "availability", "cdn_hit_ratio")

# SLI -> runbook (``streamverse ctl runbook show NAME``): errors and slow API answers in a region
# are what failing it over cures; slow starts and misses are cold caches, what warming cures.
RUNBOOKS = {
    "startup": "viral-content",
    "api_latency": "regional-failover",
    "availability": "regional-failover",
    "cdn_hit_ratio": "viral-content",
}

BASE_GROUP: dict[str, Any] = {
    "name": "streamverse",
    "rules": [
        {"record": "region:probe_success:min",
         "expr": 'min by (region) (probe_success{job="region-ingress"})'},
        {"record": "pop:cdn_hit_ratio:rate5m",
         "expr": "sum by (pop) (rate(cdn_cache_hits_total[5m])) / sum by (pop) (rate(cdn_requests_total[5m]))"},
        {"record": "region:cdn_hit_ratio:rate5m",
         "expr": "sum by (region) (rate(cdn_cache_hits_total[5m])) / sum by (region) (rate(cdn_requests_total[5m]))"},
        {"record": "api:request_duration_ms:p95_5m",
         "expr": "histogram_quantile(0.95, sum by (le) (rate(streamverse_api_request_duration_seconds_bucket[5m])))"
                 " * 1000"},
    ],
}

W = "__WINDOW__"  # the rate window, filled in per recording rule
_SELECTOR = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^{}]*)\})?$")


@dataclass(frozen=True)
class SLI:
    """One SLI of an SLO document, ready to render."""
    slo: str
    sli: str
    objective: float  # ratio, e.g. 0.9999
    description: str
    region_label: str
    total: str  # PromQL of the all-event rate, W for the window
    bad: str = ""  # PromQL of the bad-event rate (or good: one of the two)
    good: str = ""

    @property
    def budget(self) -> float:
        return round(1 - self.objective, 12)

    def error_ratio(self, window: str) -> str:
        by = f"sum by ({self.region_label}) " if self.region_label else "sum "
        total = f"{by}({self.total.replace(W, window)})"
        # "or total * 0": a region whose bad (or good) events never happened has no such series at
        # all; it counts 0 of them instead of dropping out of the ratio (and the budget panels)
        if self.bad:
            expr = f"(\n  {by}({self.bad.replace(W, window)})\n  or\n  {total} * 0\n)\n/\n{total}"
        else:
            expr = (f"1 - (\n  (\n    {by}({self.good.replace(W, window)})\n    or\n    {total} * 0\n  )\n"
                    f"  /\n  {total}\n)")
        if self.region_label and self.region_label != "region":
            expr = f'label_replace(\n{expr},\n"region", "$1", "{self.region_label}", "(.*)")'
        return expr


def _split(selector: str) -> tuple[str, str]:
    match = _SELECTOR.match(selector)
    if not match:  # the model's pattern checks this first; kept for direct callers
        raise ValueError(f"not a Prometheus series selector: {selector!r}")
    return match.group(1), (match.group(2) or "").strip().rstrip(",")


def _with(name: str, matchers: str, extra: str = "") -> str:
    inner = ", ".join(x for x in (matchers, extra) if x)
    return f"{name}{{{inner}}}" if inner else name


def _rate(selector: str) -> str:
    name, matchers = _split(selector)
    return f"rate({_with(name, matchers)}[{W}])"


def le_matcher(threshold: float) -> str:
    """A matcher for the histogram bucket at ``threshold`` seconds, whichever way the client
    wrote the number (``le="1"`` from Go, ``le="1.0"`` from Python, 0.1 as ``0.1`` or ``0.10``)."""
    whole, _, frac = f"{threshold:.9f}".rstrip("0").partition(".")
    pattern = whole + (rf"\.{frac}0*" if frac else r"(\.0*)?")
    return f"le=~`{pattern}`"


def _latency(slo: str, sli: str, metrics: m.LatencySLIMetrics, threshold_s: float, objective: float,
             what: str) -> SLI:
    name, matchers = _split(metrics.histogram)
    bucket = _with(f"{name}_bucket", matchers, le_matcher(threshold_s))
    count = _with(f"{name}_count", matchers)
    return SLI(slo, sli, objective, what, metrics.region_label, total=f"rate({count}[{W}])",
               good=f"rate({bucket}[{W}])")


def slis(name: str, spec: m.SLOSpec) -> list[SLI]:
    """The four SLIs of one SLO document."""
    mt = spec.metrics
    out = [
        _latency(name, "startup", mt.startup, spec.startup_seconds, spec.startup_objective_percent / 100,
                 f"plays starting within {spec.startup_seconds:g} s"),
        _latency(name, "api_latency", mt.api_latency, spec.api_p95_ms / 1000,
                 spec.api_latency_objective_percent / 100, f"API requests answered within {spec.api_p95_ms:g} ms"),
        SLI(name, "availability", spec.availability_percent / 100, "requests answered without a 5xx error",
            mt.availability.region_label, total=_rate(mt.availability.total), bad=_rate(mt.availability.errors)),
        SLI(name, "cdn_hit_ratio", spec.cdn_hit_ratio_percent / 100, "CDN requests served from cache",
            mt.cdn_hit_ratio.region_label, total=_rate(mt.cdn_hit_ratio.requests), good=_rate(mt.cdn_hit_ratio.hits)),
    ]
    return out


def _num(x: float) -> str:
    return f"{x:.12g}"


def _camel(text: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[-_]", text) if p)


def sli_groups(s: SLI) -> list[dict[str, Any]]:
    """The three rule groups of one SLI: error ratios, metadata, alerts."""
    sel = f'{{slo="{s.slo}", sli="{s.sli}"}}'
    labels = {"slo": s.slo, "sli": s.sli}
    ratios = [{"record": f"slo:sli_error:ratio_rate{w}", "expr": s.error_ratio(w) + "\n", "labels": dict(labels)}
              for w in WINDOWS]
    meta = [
        {"record": "slo:objective:ratio", "expr": f"vector({_num(s.objective)})", "labels": dict(labels)},
        {"record": "slo:error_budget:ratio", "expr": f"vector({_num(s.budget)})", "labels": dict(labels)},
        {"record": "slo:time_period:days", "expr": f"vector({PERIOD_DAYS})", "labels": dict(labels)},
        {"record": "slo:current_burn_rate:ratio",
         "expr": f"slo:sli_error:ratio_rate5m{sel} / {_num(s.budget)}", "labels": dict(labels)},
        {"record": "slo:period_burn_rate:ratio",
         "expr": f"slo:sli_error:ratio_rate{PERIOD}{sel} / {_num(s.budget)}", "labels": dict(labels)},
        {"record": "slo:period_error_budget_remaining:ratio",
         "expr": f"1 - slo:period_burn_rate:ratio{sel}", "labels": dict(labels)},
    ]
    alerts = []
    runbook = RUNBOOKS[s.sli]
    where = "{{ with $labels.region }} in {{ . }}{{ end }}"
    for severity in ("page", "ticket"):
        parts = []
        for sev, factor, long, short in BURN_ALERTS:
            if sev != severity:
                continue
            limit = _num(factor * s.budget)
            parts.append(f"(\n  slo:sli_error:ratio_rate{long}{sel} > {limit}\nand\n"
                         f"  slo:sli_error:ratio_rate{short}{sel} > {limit}\n)")
        windows = ", or ".join(f"{_num(f)}x over {lw} and {sw}" for sev, f, lw, sw in BURN_ALERTS if sev == severity)
        alerts.append({
            "alert": f"SLO{_camel(s.slo)}{_camel(s.sli)}BudgetBurn{_camel(severity)}",
            "expr": "\nor\n".join(parts) + "\n",
            "labels": {"severity": severity, **labels},
            "annotations": {
                "summary": f"SLO {s.slo}/{s.sli}{where}: error budget burning too fast",
                "description": (f"{s.description} (objective {_num(s.objective * 100)} % over {PERIOD}): the "
                                f"error budget burns faster than {windows}; the burn rate now is "
                                f"slo:current_burn_rate:ratio{sel}."),
                "runbook_url": f"streamverse ctl runbook show {runbook}",
                "runbook": runbook,
            },
        })
    base = f"streamverse-slo-{s.slo}-{s.sli.replace('_', '-')}"
    return [{"name": f"{base}-sli", "rules": ratios},
            {"name": f"{base}-meta", "rules": meta},
            {"name": f"{base}-alerts", "rules": alerts}]


def unreachable_alerts(name: str, spec: m.SLOSpec) -> list[str]:
    """Burn-rate alerts that can never fire: the factor times the budget is 100 % or more (an
    objective under 93.06 % cannot burn at 14.4x)."""
    out = []
    for s in slis(name, spec):
        for severity, factor, long, short in BURN_ALERTS:
            if factor * s.budget >= 1:
                out.append(f"SLO {name}/{s.sli}: the {severity} alert at {_num(factor)}x over {long} and {short} "
                           f"can never fire: the objective {_num(s.objective * 100)} % leaves a budget of "
                           f"{_num(s.budget * 100)} %, {_num(factor)}x of it is 100 % errors or more")
    return out


def slo_rule_file(name: str, spec: m.SLOSpec) -> dict[str, Any]:
    """The rule file (``{"groups": [...]}``) of one SLO document."""
    groups: list[dict[str, Any]] = []
    for s in slis(name, spec):
        groups += sli_groups(s)
    return {"groups": groups}


def base_rule_file() -> dict[str, Any]:
    return {"groups": [BASE_GROUP]}


def to_yaml(rule_file: dict[str, Any]) -> str:
    """A rule file as YAML, multi-line expressions as literal blocks (readable in review)."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(rule_file, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
