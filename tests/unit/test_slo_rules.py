"""SLOs as Prometheus rules (compiler/slo_rules.py), checked by promtool itself.

``promtool check rules`` on the rules of the shipped inventories, and ``promtool test rules`` unit
tests (written here) with synthetic traffic: every SLI's page alert fires during an incident and
stays quiet under normal traffic; a slow burn opens a ticket without paging.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamverse_ctl.compiler import slo_rules
from streamverse_ctl.core.errors import InputError
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.inventory import models as m

ROOT = Path(__file__).resolve().parents[2]


def _run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _write_rules(tmp_path: Path, name: str = "platform", spec: m.SLOSpec | None = None) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(slo_rules.to_yaml(slo_rules.slo_rule_file(name, spec or m.SLOSpec())), encoding="utf-8")
    return path


def _counter(normal: float, incident: float, normal_minutes: int = 60, incident_minutes: int = 40) -> str:
    """promtool expanding notation: a counter growing by ``normal`` a minute, then by ``incident``."""
    start = normal * normal_minutes + incident
    return f"0+{normal:g}x{normal_minutes} {start:g}+{incident:g}x{incident_minutes}"


def _promtool_test(promtool: str, tmp_path: Path, series: list[dict[str, str]],
                   alerts: list[dict[str, Any]], rules: Path | None = None,
                   exprs: list[dict[str, Any]] | None = None) -> None:
    rules = rules or _write_rules(tmp_path)
    case: dict[str, Any] = {"interval": "1m", "input_series": series, "alert_rule_test": alerts}
    if exprs:
        case["promql_expr_test"] = exprs
    test = {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": [case]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    result = _run(promtool, "test", "rules", "test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _fires(alert: str, severity: str, sli: str, region: str = "us-east") -> dict[str, Any]:
    """The alert as promtool must see it, annotations included (runbook and region templating)."""
    rule = next(r for g in slo_rules.slo_rule_file("platform", m.SLOSpec())["groups"]
                for r in g["rules"] if r.get("alert") == alert)
    annotations = dict(rule["annotations"])
    annotations["summary"] = f"SLO platform/{sli} in {region}: error budget burning too fast"
    return {"exp_labels": {"severity": severity, "slo": "platform", "sli": sli, "region": region},
            "exp_annotations": annotations}


def _quiet_then_page(alert: str, sli: str, at: str = "70m") -> list[dict[str, Any]]:
    """Quiet (no page, no ticket) under normal traffic at 55 min; paging at ``at`` (the incident
    starts at 60 min). A wide budget (5 %) takes longer to burn at 6x over 6h than a narrow one."""
    ticket = alert.replace("Page", "Ticket")
    return [
        {"eval_time": "55m", "alertname": alert, "exp_alerts": []},
        {"eval_time": "55m", "alertname": ticket, "exp_alerts": []},
        {"eval_time": "60m", "alertname": alert, "exp_alerts": []},
        {"eval_time": at, "alertname": alert, "exp_alerts": [_fires(alert, "page", sli)]},
    ]


@pytest.mark.parametrize("inventory", ["demo", "production"])
def test_promtool_check_rules_passes_on_shipped_inventories(promtool: str, tmp_path: Path, inventory: str) -> None:
    inv = load_inventory(ROOT / "inventories" / inventory)
    specs = inv.specs("SLO", m.SLOSpec)
    assert list(specs) == ["platform"]
    files = [tmp_path / "streamverse.rules.yml"]
    files[0].write_text(slo_rules.to_yaml(slo_rules.base_rule_file()), encoding="utf-8")
    for name, spec in specs.items():
        files.append(tmp_path / f"slo-{name}.rules.yml")
        files[-1].write_text(slo_rules.to_yaml(slo_rules.slo_rule_file(name, spec)), encoding="utf-8")
    result = _run(promtool, "check", "rules", *(f.name for f in files), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # 4 SLIs x (8 windows + 6 metadata + 2 alerts)
    assert "SUCCESS: 64 rules found" in result.stdout


def test_rule_shape_windows_labels_and_runbooks() -> None:
    groups = slo_rules.slo_rule_file("platform", m.SLOSpec())["groups"]
    records = [r for g in groups for r in g["rules"] if "record" in r]
    for sli in slo_rules.SLIS:
        names = [r["record"] for r in records if r["labels"] == {"slo": "platform", "sli": sli}]
        assert names[:8] == [f"slo:sli_error:ratio_rate{w}" for w in
                             ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")]
        assert "slo:period_error_budget_remaining:ratio" in names
    alerts = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    assert alerts["SLOPlatformAvailabilityBudgetBurnPage"]["annotations"]["runbook_url"] == \
        "streamverse ctl runbook show regional-failover"
    assert alerts["SLOPlatformCdnHitRatioBudgetBurnTicket"]["annotations"]["runbook_url"] == \
        "streamverse ctl runbook show viral-content"
    # every mapped runbook is one the repository ships
    assert all((ROOT / "runbooks" / f"{name}.yaml").is_file() for name in slo_rules.RUNBOOKS.values())
    page = alerts["SLOPlatformAvailabilityBudgetBurnPage"]["expr"]
    assert 'slo:sli_error:ratio_rate1h{slo="platform", sli="availability"} > 0.00144' in page
    assert 'slo:sli_error:ratio_rate30m{slo="platform", sli="availability"} > 0.0006' in page


def test_availability_pages_on_5xx_incident_quiet_on_normal_traffic(promtool: str, tmp_path: Path) -> None:
    # 1000 requests a minute; normally 0.02 errors a minute (0.2x the 0.01 % budget), then 5 % errors
    series = [
        {"series": 'streamverse_http_requests_total{region="us-east", code="200"}', "values": _counter(1000, 950)},
        {"series": 'streamverse_http_requests_total{region="us-east", code="503"}', "values": _counter(0.02, 50)},
        # a region that never answered a 5xx has no 5xx series: its error ratio is 0, not missing
        {"series": 'streamverse_http_requests_total{region="eu-west", code="200"}', "values": _counter(100, 100)},
    ]
    remaining = 'slo:period_error_budget_remaining:ratio{{region="{}", sli="availability", slo="platform"}}'
    _promtool_test(promtool, tmp_path, series, _quiet_then_page("SLOPlatformAvailabilityBudgetBurnPage",
                                                                "availability"), exprs=[
        {"expr": 'slo:period_error_budget_remaining:ratio{sli="availability", region="eu-west"}', "eval_time": "55m",
         "exp_samples": [{"labels": remaining.format("eu-west"), "value": 1}]},
        # us-east spent a fifth of its budget (0.02 errors a minute of 1000.02 requests, 0.2x)
        {"expr": 'round(slo:period_error_budget_remaining:ratio{sli="availability"}, 0.001)', "eval_time": "55m",
         "exp_samples": [{"labels": '{region="eu-west", sli="availability", slo="platform"}', "value": 1},
                         {"labels": '{region="us-east", sli="availability", slo="platform"}', "value": 0.8}]},
    ])


def test_availability_slow_burn_opens_a_ticket_not_a_page(promtool: str, tmp_path: Path) -> None:
    # 0.05 % errors: 5x the budget, under the page's 6x, over the ticket's 3x (1d and 2h)
    series = [
        {"series": 'streamverse_http_requests_total{region="eu-west", code="200"}',
         "values": _counter(9995, 9995, 10, 200)},
        {"series": 'streamverse_http_requests_total{region="eu-west", code="500"}',
         "values": _counter(5, 5, 10, 200)},
    ]
    alert = "SLOPlatformAvailabilityBudgetBurnTicket"
    _promtool_test(promtool, tmp_path, series, [
        {"eval_time": "150m", "alertname": "SLOPlatformAvailabilityBudgetBurnPage", "exp_alerts": []},
        {"eval_time": "150m", "alertname": alert, "exp_alerts": [_fires(alert, "ticket", "availability", "eu-west")]},
    ])


def test_api_latency_pages_when_requests_slow_down(promtool: str, tmp_path: Path) -> None:
    # 1000 requests a minute; normally 99 % within 100 ms (1 % slow: 0.2x the 5 % budget), then 80 % slow
    name = "streamverse_api_request_duration_seconds"
    series = [
        {"series": f'{name}_bucket{{region="us-east", le="0.1"}}', "values": _counter(990, 200)},
        {"series": f'{name}_bucket{{region="us-east", le="+Inf"}}', "values": _counter(1000, 1000)},
        {"series": f'{name}_count{{region="us-east"}}', "values": _counter(1000, 1000)},
    ]
    _promtool_test(promtool, tmp_path, series, _quiet_then_page("SLOPlatformApiLatencyBudgetBurnPage",
                                                                "api_latency", at="100m"))


def test_startup_pages_when_plays_start_slowly(promtool: str, tmp_path: Path) -> None:
    # a Python client writes le="1.0"; normally 99.9 % of plays start within 1 s, then half do
    name = "streamverse_playback_startup_seconds"
    series = [
        {"series": f'{name}_bucket{{region="us-east", le="1.0"}}', "values": _counter(999, 500)},
        {"series": f'{name}_bucket{{region="us-east", le="+Inf"}}', "values": _counter(1000, 1000)},
        {"series": f'{name}_count{{region="us-east"}}', "values": _counter(1000, 1000)},
    ]
    _promtool_test(promtool, tmp_path, series, _quiet_then_page("SLOPlatformStartupBudgetBurnPage", "startup"))


def test_cdn_hit_ratio_pages_when_caches_go_cold(promtool: str, tmp_path: Path) -> None:
    # normally 99 % hits (1 % misses: 0.2x the 5 % budget), then 10 % hits (90 % misses: 18x)
    series = [
        {"series": 'cdn_requests_total{pop="nyc1", region="us-east"}', "values": _counter(1000, 1000)},
        {"series": 'cdn_cache_hits_total{pop="nyc1", region="us-east"}', "values": _counter(990, 100)},
    ]
    _promtool_test(promtool, tmp_path, series, _quiet_then_page("SLOPlatformCdnHitRatioBudgetBurnPage",
                                                                "cdn_hit_ratio", at="100m"))


def test_overridden_metric_names_are_used(promtool: str, tmp_path: Path) -> None:
    spec = m.SLOSpec.model_validate({"availabilityPercent": 99.9, "metrics": {"availability": {
        "errors": 'edge_responses_total{status=~"5..", job="edge"}', "total": 'edge_responses_total{job="edge"}',
        "regionLabel": "dc"}}})
    rules = _write_rules(tmp_path, spec=spec)
    text = rules.read_text()
    assert 'rate(edge_responses_total{status=~"5..", job="edge"}[5m])' in text
    assert "streamverse_http_requests_total" not in text
    # the dc label is copied to region: alerts are labelled by region whatever the metric calls it
    series = [
        {"series": 'edge_responses_total{job="edge", dc="fra", status="200"}', "values": _counter(1000, 900)},
        {"series": 'edge_responses_total{job="edge", dc="fra", status="502"}', "values": _counter(0, 100)},
        {"series": 'edge_responses_total{job="other", dc="fra", status="502"}', "values": _counter(1000, 1000)},
    ]
    alert = "SLOPlatformAvailabilityBudgetBurnPage"
    expected = {"exp_labels": {"severity": "page", "slo": "platform", "sli": "availability", "region": "fra",
                               "dc": "fra"}}
    fired = next(r for g in slo_rules.slo_rule_file("platform", spec)["groups"] for r in g["rules"]
                 if r.get("alert") == alert)
    expected["exp_annotations"] = {**fired["annotations"],
                                   "summary": "SLO platform/availability in fra: error budget burning too fast"}
    _promtool_test(promtool, tmp_path, series, [
        {"eval_time": "55m", "alertname": alert, "exp_alerts": []},
        {"eval_time": "70m", "alertname": alert, "exp_alerts": [expected]},
    ], rules=rules)


def test_le_matcher_accepts_either_spelling_of_the_bucket() -> None:
    assert slo_rules.le_matcher(1.0) == r"le=~`1(\.0*)?`"
    assert slo_rules.le_matcher(0.1) == r"le=~`0\.10*`"
    assert slo_rules.le_matcher(2.5) == r"le=~`2\.50*`"


def test_bad_metric_selector_is_an_input_problem_naming_file_line_and_field(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "slo.yaml").write_text(
        "apiVersion: streamverse.io/v1\nkind: SLO\nmetadata: {name: platform}\nspec:\n"
        "  availabilityPercent: 100\n"
        "  metrics:\n    availability:\n      errors: 'rate(x[5m])'\n    cdnHitRatio:\n      hitz: cdn_hits\n",
        encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_inventory(inv)
    text = str(info.value)
    assert "slo.yaml:5: SLO/platform: spec.availabilityPercent: an objective of 100 % leaves no error budget" in text
    assert ("slo.yaml:8: SLO/platform: spec.metrics.availability.errors: not a Prometheus series selector"
            in text)
    assert "slo.yaml:10: SLO/platform: spec.metrics.cdnHitRatio.hitz: unknown field 'hitz'" in text


def test_prometheus_source_recording_rules_come_from_the_one_source() -> None:
    from streamverse_ctl.providers.prometheus import RECORDING_RULES

    assert yaml.safe_load(RECORDING_RULES) == {"groups": [slo_rules.BASE_GROUP]}


# ----- dashboards (compiler/slo_dashboards.py) -------------------------------------------------------

PANEL_TYPES = {"row", "stat", "timeseries", "piechart", "bargauge"}
GRAFANA_VARIABLES = {"__rate_interval", "__interval", "__range"}


def _production_dashboard() -> dict[str, Any]:
    from streamverse_ctl.compiler.slo_dashboards import dashboard

    inv = load_inventory(ROOT / "inventories" / "production")
    return dashboard(inv.specs("Region", m.RegionSpec), inv.specs("SLO", m.SLOSpec))


def test_dashboard_has_the_json_model_required_fields() -> None:
    board = _production_dashboard()
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board["uid"] == "streamverse-global-status" and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["region"]["multi"] and variables["region"]["includeAll"]
    ids: set[int] = set()
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        assert panel["type"] in PANEL_TYPES, panel
        assert isinstance(panel["id"], int) and panel["id"] not in ids
        ids.add(panel["id"])
        pos = panel["gridPos"]
        assert set(pos) == {"h", "w", "x", "y"} and all(isinstance(v, int) for v in pos.values())
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"] and target["expr"]
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= set(variables) | GRAFANA_VARIABLES, (panel["title"], used)


def test_dashboard_covers_global_status_and_every_slo() -> None:
    board = _production_dashboard()
    titles = [p["title"] for p in board["panels"]]
    for title in ("Region health", "Traffic share", "Load vs capacity", "CDN hit ratio by region", "SLO platform"):
        assert title in titles
    for sli in slo_rules.SLIS:
        assert f"{sli}: error budget remaining" in titles and f"{sli}: burn rate" in titles
    load = next(p for p in board["panels"] if p["title"] == "Load vs capacity")
    inv = load_inventory(ROOT / "inventories" / "production")
    regions = inv.specs("Region", m.RegionSpec)
    assert [t["legendFormat"] for t in load["targets"]] == sorted(regions)
    for target in load["targets"]:
        capacity = regions[target["legendFormat"]].capacity.max_rps
        assert target["expr"].endswith(f" / {capacity}")
        assert f'region=~"{target["legendFormat"]}"' in target["expr"]


def test_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    # promtool parses every query as a recording rule (Grafana's variables filled in as Grafana would)
    board = _production_dashboard()
    rules = [{"record": f"dashboard:query:{i}",
              "expr": t["expr"].replace("$__rate_interval", "5m").replace("$region", ".*")}
             for i, t in enumerate(t for p in board["panels"] for t in p.get("targets", []))]
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]}))
    result = _run(promtool, "check", "rules", "queries.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_shipped_dashboard_and_provisioning_files() -> None:
    import json

    shipped = ROOT / "deploy" / "grafana" / "dashboards" / "streamverse-global-status.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == _production_dashboard(), (
        "regenerate: streamverse ctl slo dashboards -i inventories/production --out deploy/grafana/dashboards")
    dashboards = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards.yaml").read_text())
    assert dashboards["apiVersion"] == 1
    (provider,) = dashboards["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
    datasources = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources.yaml").read_text())
    assert datasources["apiVersion"] == 1
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] and source["url"].startswith("http")
