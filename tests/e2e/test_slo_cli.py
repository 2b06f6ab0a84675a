"""End to end: `streamverse ctl slo rules` writes rule files promtool accepts; bad SLOs exit 1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from .test_cli import CLI, no_traceback

ROOT = Path(__file__).resolve().parents[2]


def _check(promtool: str, *files: Path) -> str:
    out = subprocess.run([promtool, "check", "rules", *map(str, files)], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_slo_rules_out_dir_one_file_per_slo_and_promtool_accepts_them(cli: CLI, promtool: str) -> None:
    out_dir = cli.cwd / "rules"
    result = cli.ok("slo", "rules", "--out", str(out_dir))
    assert result.stdout == ""
    assert sorted(p.name for p in out_dir.iterdir()) == ["slo-platform.rules.yml", "streamverse.rules.yml"]
    assert f"wrote {out_dir / 'slo-platform.rules.yml'}: 64 rules" in result.stderr
    assert f"wrote {out_dir / 'streamverse.rules.yml'}: 4 rules" in result.stderr
    checked = _check(promtool, *sorted(out_dir.iterdir()))
    assert "SUCCESS: 64 rules found" in checked and "SUCCESS: 4 rules found" in checked


def test_slo_rules_stdout_yaml_and_json_for_production(promtool: str, tmp_path: Path) -> None:
    cli = CLI(ROOT / "inventories" / "production", tmp_path / "state", tmp_path)
    text = cli.ok("slo", "rules").stdout
    (tmp_path / "all.yml").write_text(text, encoding="utf-8")
    assert "SUCCESS: 68 rules found" in _check(promtool, tmp_path / "all.yml")
    doc = json.loads(cli.ok("slo", "rules", "-o", "json").stdout)
    assert doc == yaml.safe_load(text)
    alerts = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
    assert {(a["labels"]["sli"], a["labels"]["severity"]) for a in alerts} == {
        (sli, sev) for sli in ("startup", "api_latency", "availability", "cdn_hit_ratio") for sev in ("page", "ticket")}


def test_slo_metric_names_overridable_in_the_inventory(cli: CLI, promtool: str) -> None:
    policies = cli.inventory.parent / "base" / "policies.yaml"
    text = policies.read_text(encoding="utf-8")
    assert "  cdnHitRatioPercent: 95\n" in text
    policies.write_text(text.replace("  cdnHitRatioPercent: 95\n", (
        "  cdnHitRatioPercent: 95\n  metrics:\n    cdnHitRatio:\n      hits: edge_cache_hits_total{tier=\"edge\"}\n"
        "      requests: edge_requests_total{tier=\"edge\"}\n      regionLabel: ''\n")), encoding="utf-8")
    out = cli.ok("slo", "rules").stdout
    (cli.cwd / "all.yml").write_text(out, encoding="utf-8")
    _check(promtool, cli.cwd / "all.yml")
    assert 'sum (rate(edge_cache_hits_total{tier="edge"}[5m]))' in out
    assert "rate(cdn_cache_hits_total[5m])" in out  # the platform's own hit-ratio rule is unchanged


def test_slo_rules_bad_slo_exit_1_with_every_problem(cli: CLI) -> None:
    policies = cli.inventory.parent / "base" / "policies.yaml"
    text = policies.read_text(encoding="utf-8")
    policies.write_text(text.replace("  availabilityPercent: 99.99\n", (
        "  availabilityPercent: 100\n  metrics:\n    startup:\n      histogram: 'sum(x)'\n")), encoding="utf-8")
    out = cli("slo", "rules")
    assert out.returncode == 1, out.stdout + out.stderr
    no_traceback(out)
    assert out.stdout == ""
    lines = {line.split(": SLO/platform: ", 1)[1] for line in out.stderr.splitlines() if ": SLO/platform: " in line}
    assert "spec.availabilityPercent: an objective of 100 % leaves no error budget: give less than 100" in lines
    assert any(line.startswith("spec.metrics.startup.histogram: not a Prometheus series selector") for line in lines)
    assert "inventories/base/policies.yaml:17: SLO/platform: spec.availabilityPercent" in out.stderr


def test_slo_dashboards_stdout_and_out_dir(cli: CLI) -> None:
    board = json.loads(cli.ok("slo", "dashboards").stdout)
    assert board["uid"] == "streamverse-global-status" and board["schemaVersion"] >= 36
    assert [p["title"] for p in board["panels"] if p["type"] == "row"] == ["Global status", "SLO platform"]
    out_dir = cli.cwd / "dashboards"
    result = cli.ok("slo", "dashboards", "--out", str(out_dir))
    path = out_dir / "streamverse-global-status.json"
    assert f"wrote {path}: dashboard 'StreamVerse global status', {len(board['panels'])} panels" in result.stderr
    assert json.loads(path.read_text(encoding="utf-8")) == board


def test_two_slos_two_files_and_a_warning_for_alerts_that_cannot_fire(cli: CLI, promtool: str) -> None:
    (cli.inventory / "slo-internal.yaml").write_text(
        "apiVersion: streamverse.io/v1\nkind: SLO\nmetadata: {name: internal-api}\n"
        "spec: {cdnHitRatioPercent: 90}\n", encoding="utf-8")
    out_dir = cli.cwd / "rules"
    result = cli.ok("slo", "rules", "--out", str(out_dir))
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "slo-internal-api.rules.yml", "slo-platform.rules.yml", "streamverse.rules.yml"]
    _check(promtool, *sorted(out_dir.iterdir()))
    # a 10 % budget: 14.4x of it is more than every request missing the cache
    assert ("warning: SLO internal-api/cdn_hit_ratio: the page alert at 14.4x over 1h and 5m can never fire: "
            "the objective 90 % leaves a budget of 10 %") in " ".join(result.stderr.split())
    assert "SLO platform/" not in result.stderr
    merged = cli.ok("slo", "rules").stdout  # one file: group and alert names stay unique
    (cli.cwd / "all.yml").write_text(merged, encoding="utf-8")
    assert "SUCCESS: 132 rules found" in _check(promtool, cli.cwd / "all.yml")
    assert "alert: SLOInternalApiAvailabilityBudgetBurnPage" in merged
