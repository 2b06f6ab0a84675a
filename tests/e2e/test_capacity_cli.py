"""End to end: `streamverse ctl capacity` through the installed CLI on the demo inventory and the sim platform."""

from __future__ import annotations

import json
import re

import pytest

from .test_cli import CLI, no_traceback


def test_table_shows_every_view(cli: CLI) -> None:
    out = cli.ok("capacity")
    for title in ("Demand", "Storage by class (after retention)", "Peak load per region", "Monthly cost (USD)",
                  "Headroom", "Shortfalls:"):
        assert title in out.stdout, title
    assert "egress at peak" in out.stdout and "55.5 Tbps" in out.stdout
    assert re.search(r"pop-egress\s+.*all PoPs.*short", out.stdout)


def test_json_is_the_whole_report(cli: CLI) -> None:
    data = cli.json("capacity")
    assert isinstance(data, dict)
    b = data["baseline"]
    assert set(b["storage"]) == {"hot", "warm", "cold", "archive", "total"}
    assert {r["region"] for r in b["regions"]} == {"us-east", "us-west", "eu-west", "ap-pacific", "sa-east",
                                                    "me-central"}
    assert len(b["pops"]) == 12 and all("cache_tb" in p and "cache_need_tb" in p for p in b["pops"])
    assert set(b["cost_per_month"]) == {"cdn", "transfer", "transcode", "serving", "storage", "total"}
    assert "what_if" not in data


def test_markdown_for_pull_requests(cli: CLI) -> None:
    out = cli.ok("capacity", "-o", "markdown")
    assert out.stdout.startswith("### StreamVerse capacity\n")
    assert "#### Monthly cost (USD)" in out.stdout and "| category | baseline |" in out.stdout
    assert "┃" not in out.stdout  # no rich table


def test_what_if_fail_agrees_with_the_failover_runbook(cli: CLI) -> None:
    """The what-if and `failover --dry-run` share one model: same weights, same req/s per receiving region."""
    cli.ok("apply", "--platform", "sim", "--auto-approve")
    data = cli.json("capacity", "--platform", "sim", "--what-if", "fail=us-east")
    after = data["what_if"]
    out = cli("failover", "us-east", "--dry-run", "-o", "json", "--platform", "sim")
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    check = next(e for e in events if e["event"] == "step.done" and e["step"] == "capacity")["outputs"]
    assert after["failover"]["weights_after"] == check["final"]
    assert after["failover"]["weights_now"] == check["current"]
    assert after["demand"]["rps"] == check["demand_rps"]
    loads = {r["region"]: round(r["rps"]) for r in after["regions"]}
    assert loads == {r: v["load_rps"] for r, v in check["projected"].items()}
    assert loads["us-east"] == 0 and after["failover"]["refusals"] == []


def test_what_if_fail_predicts_what_the_failover_runbook_then_does_on_the_sim(cli: CLI) -> None:
    """Run the regional-failover runbook for real on the sim platform: the sim's traffic shares and load per
    region afterwards are the what-if's, and the capacity baseline after it is the what-if's projection."""
    cli.ok("apply", "--platform", "sim", "--auto-approve")
    predicted = cli.json("capacity", "--platform", "sim", "--what-if", "fail=us-east")
    assert isinstance(predicted, dict)
    after = predicted["what_if"]
    out = cli("failover", "us-east", "--yes", "--platform", "sim")
    assert out.returncode == 0, out.stdout + out.stderr
    status = cli.json("sim", "status")
    assert isinstance(status, dict)
    regions = {r["region"]: r for r in status["regions"]}
    assert status["demand_rps"] == after["demand"]["rps"]
    assert regions["us-east"]["drained"] and regions["us-east"]["load_rps"] == 0
    weights = after["failover"]["weights_after"]
    for r in after["regions"]:
        assert regions[r["region"]]["load_rps"] == round(r["rps"]), r["region"]
        assert regions[r["region"]]["share"]["www"] == pytest.approx(weights[r["region"]] / sum(weights.values()),
                                                                     abs=1e-4)
    now = cli.json("capacity", "--platform", "sim")
    assert isinstance(now, dict)
    assert {r["region"]: round(r["rps"]) for r in now["baseline"]["regions"]} == \
        {r["region"]: round(r["rps"]) for r in after["regions"]}


def test_what_if_fail_shows_the_refusal_failover_would_give(cli: CLI) -> None:
    # twice the users: the five regions left cannot take us-east's share
    data = cli.json("capacity", "--what-if", "fail=us-east", "--what-if", "users=x2")
    refusals = data["what_if"]["failover"]["refusals"]
    assert any(r.startswith("[capacity]") for r in refusals), refusals
    assert data["what_if"]["demand"]["users"] == 200_000_000


def test_bad_what_if_and_chart_exit_1_with_a_message(cli: CLI) -> None:
    out = cli("capacity", "--what-if", "fail=us-esat")
    assert out.returncode == 1 and "--what-if fail=us-esat: unknown region" in out.stderr
    no_traceback(out)
    out = cli("capacity", "--what-if", "viral=x", "--what-if", "users=three")
    assert out.returncode == 1 and "'viral=x' is not" in out.stderr and "'users=three' is not" in out.stderr
    no_traceback(out)
    out = cli("capacity", "--chart", "out.pdf")
    assert out.returncode == 1 and "give a .png or .svg file" in out.stderr


def test_chart_png_and_svg_are_written(cli: CLI) -> None:
    png, svg = cli.cwd / "cap.png", cli.cwd / "cap.svg"
    cli.ok("capacity", "--what-if", "fail=us-east", "--chart", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    cli.ok("capacity", "-o", "json", "--chart", str(svg))
    assert "<svg" in svg.read_text()[:2000]


def test_failover_guardrail_refuses_an_egress_overload_as_the_what_if_predicts(cli: CLI) -> None:
    """us-west can take us-east's requests/s but not its egress: the failover guardrail checks egress too."""
    regions = cli.inventory.parent / "base" / "regions.yaml"
    text = regions.read_text()
    west = "kubeContext: sv-us-west\n  capacity: {maxRps: 2200000, egressGbps: 30000}\n"  # us-west's capacity line
    assert text.count(west) == 1
    regions.write_text(text.replace(west, west.replace("egressGbps: 30000", "egressGbps: 12000")))
    cli.ok("apply", "--platform", "sim", "--auto-approve")
    predicted = cli.json("capacity", "--platform", "sim", "--what-if", "fail=us-east")["what_if"]["failover"]
    assert any(r.startswith("[capacity] us-west would serve") and "above its egressGbps 12,000" in r
               for r in predicted["refusals"]), predicted
    out = cli("failover", "us-east", "--dry-run", "--platform", "sim")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "[capacity]" in out.stderr and "us-west would serve" in out.stderr and "egressGbps 12,000" in out.stderr
    no_traceback(out)


@pytest.mark.servers
def test_live_takes_demand_and_hit_ratios_from_prometheus(cli: CLI, prometheus) -> None:  # type: ignore[no-untyped-def]
    (cli.inventory / "providers.yaml").write_text(
        "apiVersion: streamverse.io/v1\nkind: Provider\nmetadata: {name: platform}\n"
        "spec: {type: sim, serves: {types: ['*']}}\n")
    inv = cli.inventory / "inventory.yaml"
    inv.write_text(inv.read_text() + "  patches:\n    - target: {kind: SLO, name: platform}\n"
                   f"      merge: {{spec: {{prometheusUrl: \"{prometheus.url}\"}}}}\n")
    cli.env["STREAMVERSE_METRICS_AT"] = str(prometheus.data.end)
    data = cli.json("capacity", "--live")
    assert isinstance(data, dict)
    assert data["live"]["source"].startswith(f"prometheus {prometheus.url}")
    # the backfilled CDN counters: nyc1 + iad1 (us-east) 200 req/s, fra1 (eu-west) 200, sin1 (ap-pacific) 50
    assert {k: round(v) for k, v in data["live"]["rps"].items()} == {"us-east": 200, "eu-west": 200, "ap-pacific": 50}
    b = data["baseline"]
    assert round(b["demand"]["rps"]) == 450
    # no egress counter: the model's egress per request (55.5 Tbps / 6 M req/s) turns 450 req/s into Gbps
    assert b["demand"]["egress_tbps"] == pytest.approx(450 * 55_500 / 6_000_000 / 1000, rel=1e-3)
    hits = {p["pop"]: p["hit_ratio"] for p in b["pops"]}
    assert hits["nyc1"] == pytest.approx(0.9, abs=1e-3) and hits["sin1"] == pytest.approx(0.2, abs=1e-3)
    assert hits["lax1"] == pytest.approx(0.95)  # no data: the model's cdnHitRatioPercent
    # the viewers' egress per region follows the measured split (us-east 200 of 450 req/s), not the model's
    users = {r["region"]: r["user_egress_gbps"] for r in b["regions"]}
    assert users["us-east"] == pytest.approx(b["demand"]["egress_tbps"] * 1000 * 200 / 450)
    assert users["us-west"] == 0
    out = cli("capacity", "--live", "--platform", "sim")
    assert out.returncode == 1 and "--live reads Prometheus" in out.stderr
    no_traceback(out)


def test_schema_verb_includes_the_capacity_model(cli: CLI) -> None:
    out = cli.cwd / "inventory.schema.json"
    p = cli("schema", "--out", str(out), inv=False)
    assert p.returncode == 0, p.stderr
    schema = json.loads(out.read_text())
    assert "CapacityModel" in schema["properties"]["kind"]["enum"]
    assert "cacheWorkingSetPercent" in out.read_text()
