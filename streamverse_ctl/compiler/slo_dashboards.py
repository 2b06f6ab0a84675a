"""Grafana dashboards (dashboard JSON model) for the platform's global status and its SLOs.

Pure data: regions and SLO documents in, one dashboard dict out (``streamverse ctl slo dashboards``).
Its queries read the recording rules of :mod:`streamverse_ctl.compiler.slo_rules` (deploy those
too) and the request counter of each SLO's availability SLI:

- global status: region health (``region:probe_success:min``), traffic share and load vs capacity
  per region (requests/s against the Region's ``capacity.maxRps``), CDN hit ratio per region
  (``region:cdn_hit_ratio:rate5m``) against the objective;
- per SLO and SLI: error budget remaining over the period, and burn rates (5m, 1h, 6h) with the
  page thresholds (14.4x, 6x) drawn in.

Every query goes through the ``datasource`` template variable (a Prometheus data source), and
``region`` (multi-value, All) filters the regional panels. Import it through the provisioning files
in ``deploy/grafana/provisioning`` or Grafana's "Import dashboard".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..inventory import models as m
from . import slo_rules

SCHEMA_VERSION = 39  # Grafana 10.4 / 11
UID = "streamverse-global-status"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24  # grid columns


class _Grid:
    """Lays panels out left to right, wrapping at 24 columns."""

    def __init__(self) -> None:
        self.x = self.y = self.row_h = 0
        self.next_id = 1
        self.panels: list[dict[str, Any]] = []

    def row(self, title: str) -> None:
        self.newline()
        self.panels.append({"id": self._id(), "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def newline(self) -> None:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0

    def add(self, panel: dict[str, Any], w: int, h: int = 8) -> None:
        if self.x + w > WIDTH:
            self.newline()
        panel = {"id": self._id(), **panel, "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y}}
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def _target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": DATASOURCE, "refId": ref, "expr": expr, "legendFormat": legend,
                         "range": not instant, "instant": instant}
    return t


def _panel(kind: str, title: str, targets: list[dict[str, Any]], description: str = "", unit: str = "short",
           thresholds: list[tuple[str, float | None]] | None = None, **extra: Any) -> dict[str, Any]:
    steps = [{"color": color, "value": value} for color, value in (thresholds or [("green", None)])]
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    return {"type": kind, "title": title, "description": description, "datasource": DATASOURCE,
            "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
            "options": extra.pop("options", {}), **extra}


def _rate(selector: str, by: str = "region") -> str:
    name, matchers = slo_rules._split(selector)
    inner = ", ".join(x for x in (matchers, 'region=~"$region"') if x)
    return f"sum by ({by}) (rate({name}{{{inner}}}[$__rate_interval]))"


def dashboard(regions: Mapping[str, m.RegionSpec], slos: Mapping[str, m.SLOSpec],
              title: str = "StreamVerse global status") -> dict[str, Any]:
    """The global status dashboard: regions, traffic, capacity, hit ratio, then one row per SLO."""
    first = next(iter(slos.values()), m.SLOSpec())
    requests = first.metrics.availability.total
    grid = _Grid()
    grid.row("Global status")
    grid.add(_panel("stat", "Region health", [_target('region:probe_success:min{region=~"$region"}', "{{region}}",
                                                       instant=True)],
                    "Every ingress probe of the region succeeds (blackbox-exporter, job region-ingress).",
                    thresholds=[("red", None), ("green", 1)],
                    mappings=[{"type": "value", "options": {"0": {"text": "down", "color": "red"},
                                                            "1": {"text": "up", "color": "green"}}}],
                    options={"colorMode": "background", "graphMode": "none", "textMode": "value_and_name",
                             "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}),
             w=8)
    name, matchers = slo_rules._split(requests)
    total = f"rate({name}{{{matchers}}}[$__rate_interval])" if matchers else f"rate({name}[$__rate_interval])"
    grid.add(_panel("piechart", "Traffic share",
                    [_target(f"{_rate(requests)} / ignoring(region) group_left sum({total})", "{{region}}",
                             instant=True)],
                    f"Share of all requests ({name}) each region serves.", unit="percentunit",
                    options={"pieType": "donut", "legend": {"displayMode": "table", "placement": "right",
                                                            "values": ["percent"]},
                             "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}),
             w=8)
    load = [_target(f'{_rate(requests).replace("$region", r)} / {spec.capacity.max_rps}', r, instant=True)
            for r, spec in sorted(regions.items())]
    grid.add(_panel("bargauge", "Load vs capacity", load,
                    "Requests per second of each region over its capacity.maxRps in the inventory.",
                    unit="percentunit", thresholds=[("green", None), ("orange", 0.7), ("red", 0.9)],
                    min=0, max=1,
                    options={"orientation": "horizontal", "displayMode": "gradient",
                             "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}),
             w=8)
    hit_target = first.cdn_hit_ratio_percent / 100
    grid.add(_panel("timeseries", "CDN hit ratio by region",
                    [_target('region:cdn_hit_ratio:rate5m{region=~"$region"}', "{{region}}")],
                    f"Requests served from cache; the SLO wants {first.cdn_hit_ratio_percent:g} % or more.",
                    unit="percentunit", thresholds=[("red", None), ("green", hit_target)],
                    options={"legend": {"displayMode": "list", "placement": "bottom"}}),
             w=12)
    grid.add(_panel("timeseries", "Requests per second by region", [_target(_rate(requests), "{{region}}")],
                    f"rate({name}) by region.", unit="reqps",
                    options={"legend": {"displayMode": "list", "placement": "bottom"}}), w=12)
    for slo_name, spec in sorted(slos.items()):
        grid.row(f"SLO {slo_name}")
        for sli in slo_rules.slis(slo_name, spec):
            sel = f'slo="{slo_name}", sli="{sli.sli}", region=~"$region"'
            grid.add(_panel("stat", f"{sli.sli}: error budget remaining",
                            [_target(f"slo:period_error_budget_remaining:ratio{{{sel}}}", "{{region}}",
                                     instant=True)],
                            f"{sli.description}, objective {sli.objective * 100:g} % over {slo_rules.PERIOD}: "
                            "share of the period's error budget left.", unit="percentunit",
                            thresholds=[("red", None), ("orange", 0.25), ("green", 0.5)],
                            options={"colorMode": "value", "graphMode": "area", "textMode": "value_and_name",
                                     "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}),
                     w=8)
            budget = slo_rules._num(sli.budget)
            base = f'slo="{slo_name}", sli="{sli.sli}", region=~"$region"'
            grid.add(_panel("timeseries", f"{sli.sli}: burn rate", [
                _target(f"slo:current_burn_rate:ratio{{{base}}}", "5m {{region}}"),
                _target(f"slo:sli_error:ratio_rate1h{{{base}}} / {budget}", "1h {{region}}"),
                _target(f"slo:sli_error:ratio_rate6h{{{base}}} / {budget}", "6h {{region}}"),
            ], "Error ratio over the error budget (1 = the budget lasts exactly the period); pages at 14.4x "
               "(1h and 5m) and 6x (6h and 30m).",
                thresholds=[("green", None), ("orange", 6), ("red", 14.4)],
                options={"legend": {"displayMode": "list", "placement": "bottom"}}), w=16)
            grid.panels[-1]["fieldConfig"]["defaults"]["custom"] = {"thresholdsStyle": {"mode": "line"}}
    return {
        "uid": UID,
        "title": title,
        "description": "Generated by `streamverse ctl slo dashboards`: do not edit here, regenerate.",
        "tags": ["streamverse", "slo"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "timezone": "utc",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "options": [], "regex": ""},
            {"name": "region", "label": "Region", "type": "query", "datasource": DATASOURCE,
             "definition": "label_values(region:probe_success:min, region)",
             "query": {"query": "label_values(region:probe_success:min, region)", "refId": "region"},
             "refresh": 2, "multi": True, "includeAll": True, "allValue": ".*", "current": {}, "options": [],
             "sort": 1, "hide": 0, "regex": ""},
        ]},
        "panels": grid.panels,
    }
