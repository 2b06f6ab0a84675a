"""``streamverse ctl status`` (and ``--watch`` on it and on ``get``): on the sim platform after apply and an
injected region outage, and against the real Prometheus fixture's backfilled data, whose burn rates
and budgets are computed by hand below."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SV = str(Path(sys.executable).parent / "streamverse")


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def sim_env(demo_copy: Path, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "state").mkdir()
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "STREAMVERSE_INVENTORY": str(demo_copy),
           "COLUMNS": "200"}
    applied = _run(env, "apply", "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    return env


def _regions(doc: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r["region"]: r for r in doc["regions"]}


def test_sim_status_follows_an_outage_and_an_override(sim_env: dict[str, str]) -> None:
    before = json.loads(_run(sim_env, "status", "-o", "json").stdout)
    assert before["platform"] == "sim"
    regions = _regions(before)
    assert {r["health"] for r in regions.values()} == {"up"}
    assert {r["state"] for r in regions.values()} == {"serving"}
    assert regions["us-east"]["share"]["www"] == 0.3  # the demo's weights, as the sim serves them
    assert regions["us-east"]["capacity_rps"] == 3_000_000
    assert regions["us-east"]["hit_ratio"] == 0.97  # the sim's modelled ratio
    assert before["slos"] and all(s["burn_rate"].startswith("unknown (") for s in before["slos"])
    assert before["controller"].startswith("unknown (")
    assert before["overrides"] == [] and before["runbooks"] == []

    assert _run(sim_env, "sim", "fail-region", "us-east").returncode == 0
    override = _run(sim_env, "dns", "set-weights", "www", "eu-west=40", "-m", "test", "--yes")
    assert override.returncode == 0, override.stderr
    after = json.loads(_run(sim_env, "status", "-o", "json").stdout)
    regions = _regions(after)
    assert regions["us-east"]["health"] == "DOWN" and regions["us-east"]["health_sources"] == {"sim": "DOWN"}
    assert regions["us-east"]["share"] == {"api": 0.0, "www": 0.0}  # its health-checked answers get nothing
    assert regions["us-east"]["load_rps"] == 0
    # www actually served with eu-west at 40 and us-east out: 40 / (20 + 40 + 15 + 8 + 7)
    assert regions["eu-west"]["share"]["www"] == round(40 / 90, 4)
    assert [(o["kind"], o["name"], o["reason"]) for o in after["overrides"]] == [("TrafficPolicy", "www", "test")]

    table = _run(sim_env, "status")
    assert table.returncode == 0
    assert "DOWN" in table.stdout and "Active overrides" in table.stdout and "TrafficPolicy/www" in table.stdout
    assert "unknown [1]" in table.stdout and "[1] unknown: the sim platform has no Prometheus" in table.stdout
    assert yaml.safe_load(_run(sim_env, "status", "-o", "yaml").stdout)["regions"][0]["region"] == "us-east"


def test_watch_refreshes_a_bounded_number_of_times(sim_env: dict[str, str]) -> None:
    p = _run(sim_env, "status", "--watch", "--count", "2", "--interval", "0.1", "-o", "json")
    assert p.returncode == 0, p.stderr
    docs = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(docs) == 2 and all(len(d["regions"]) == 6 for d in docs)
    table = _run(sim_env, "status", "--watch", "--count", "2", "--interval", "0.1")
    assert table.returncode == 0 and "Regions" in table.stdout
    got = _run(sim_env, "get", "regions", "--watch", "--count", "3", "--interval", "0.1", "-o", "json")
    assert got.returncode == 0, got.stderr
    lists = [json.loads(line) for line in got.stdout.splitlines()]
    assert len(lists) == 3 and {r["name"] for r in lists[0]} >= {"us-east", "eu-west"}
    yml = _run(sim_env, "get", "regions", "--watch", "--count", "2", "--interval", "0.1", "-o", "yaml")
    assert len(list(yaml.safe_load_all(yml.stdout))) == 2


def test_watch_ends_cleanly_on_ctrl_c(sim_env: dict[str, str]) -> None:
    proc = subprocess.Popen([SV, "ctl", "status", "--watch", "--interval", "0.2", "-o", "json"], env=sim_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    json.loads(proc.stdout.readline())  # it is refreshing
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=20)
    finally:
        proc.kill()
    assert rc == 0
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


@pytest.mark.servers
def test_burn_rates_and_budgets_from_prometheus_match_the_recorded_data(prometheus, demo_copy: Path,  # type: ignore[no-untyped-def]
                                                                        tmp_path: Path) -> None:
    (demo_copy / "providers.yaml").write_text(
        "apiVersion: streamverse.io/v1\nkind: Provider\nmetadata: {name: platform}\n"
        "spec: {type: sim, serves: {types: ['*']}}\n")
    inv = demo_copy / "inventory.yaml"
    inv.write_text(inv.read_text() + f"""\
  patches:
    - target: {{kind: SLO, name: platform}}
      merge: {{spec: {{prometheusUrl: "{prometheus.url}"}}}}
""")
    (tmp_path / "state").mkdir()
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "STREAMVERSE_INVENTORY": str(demo_copy),
           "STREAMVERSE_METRICS_AT": str(prometheus.data.end), "COLUMNS": "200"}
    doc = json.loads(_run(env, "status", "-o", "json").stdout)
    slo = {(s["sli"], s["region"]): s for s in doc["slos"]}
    # CDN hit ratio objective 95 % (budget 5 %); per region hits/requests in the data:
    # us-east (90 + 70) / 200, eu-west 150 / 200, ap-pacific 10 / 50
    for region, errors in (("us-east", 0.2), ("eu-west", 0.25), ("ap-pacific", 0.8)):
        row = slo[("cdn_hit_ratio", region)]
        assert row["burn_rate"] == pytest.approx(errors / 0.05, abs=1e-3)
        assert row["budget_remaining"] == pytest.approx(1 - errors / 0.05, abs=1e-3)  # the 30 d window
        assert "SLI expression" in row["source"]  # backfilled data has no recording-rule series
    # API latency: 100 ms objective 95 %; 80 of 100 requests/s are within 0.1 s: 20 % errors, 4x
    api = slo[("api_latency", "(all)")]
    assert api["burn_rate"] == pytest.approx(4.0, abs=1e-3) and api["budget_remaining"] == pytest.approx(-3.0, abs=1e-3)
    # no startup or request-count series in the data: said, not invented
    assert slo[("startup", "(all)")]["burn_rate"] == "unknown (no data for its metrics)"
    assert slo[("availability", "(all)")]["budget_remaining"] == "unknown (no data for its metrics)"

    regions = _regions(doc)
    assert regions["us-east"]["health"] == "up" and regions["ap-pacific"]["health"] == "DOWN"
    assert regions["us-west"]["health_sources"]["prometheus"] == "unknown (no probe data: treated as down)"
    assert regions["us-east"]["hit_ratio"] == 0.8 and regions["ap-pacific"]["hit_ratio"] == 0.2
    assert regions["us-east"]["load_rps"] == 200 and regions["ap-pacific"]["load_rps"] == 50  # measured req/s
    assert regions["us-west"]["load_rps"].startswith("unknown (")
    assert doc["sources"]["prometheus"] == prometheus.url


def test_runbooks_running_or_paused_and_the_controllers_last_iteration(sim_env: dict[str, str]) -> None:
    from streamverse_ctl.engine.workspace import Workspace

    ws = Workspace(sim_env["STREAMVERSE_INVENTORY"], state_dir=sim_env["STREAMVERSE_STATE_DIR"])
    try:
        paused = ws.state.journal_start("runbook", "regional-failback", ["check", "step-1", "step-2"])
        ws.state.journal_mark(paused, "check", "done")
        ws.state.journal_mark(paused, "step-1", "paused")
        ws.state.journal_finish(paused, "paused")
        finished = ws.state.journal_start("runbook", "viral-content", ["warm"])
        ws.state.journal_finish(finished, "ok")
        ws.state.audit("reconcile", "plan-1", "refused", refusals=["[capacity] test"])
    finally:
        ws.close()
    doc = json.loads(_run(sim_env, "status", "-o", "json").stdout)
    assert [(r["runbook"], r["status"], r["step"], r["done"]) for r in doc["runbooks"]] == [
        ("regional-failback", "paused", "step-1", "1/3")]  # the finished run is not listed
    last = doc["controller"]["last_iteration"]
    assert (last["action"], last["target"], last["result"]) == ("reconcile", "plan-1", "refused")
    table = _run(sim_env, "status").stdout
    assert "regional-failback" in table and "paused" in table and "last recorded iteration" in table


@pytest.mark.servers
def test_burn_rates_come_from_the_recording_rules_once_prometheus_has_them(demo_copy: Path, tmp_path: Path,
                                                                           promtool: str) -> None:
    """The recording rules `slo rules` writes, backfilled over the recorded data (promtool tsdb
    create-blocks-from rules) into a Prometheus restarted with them: status reads them by name, with
    the same numbers as the raw expressions."""
    from tests.servers.process import start_or_fail
    from tests.servers.prometheus import PrometheusServer

    (tmp_path / "prom").mkdir()
    server = PrometheusServer(tmp_path / "prom")
    start_or_fail(server.start)
    try:
        rules = tmp_path / "rules"
        made = subprocess.run([SV, "ctl", "slo", "rules", "-i", str(demo_copy), "--out", str(rules)],
                              capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        blocks = tmp_path / "blocks"
        backfill = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "rules", f"--start={int(server.data.start)}",
             f"--end={int(server.data.end) + 1}", f"--url={server.url}", f"--output-dir={blocks}",
             "--eval-interval=15s", str(rules / "slo-platform.rules.yml")], capture_output=True, text=True, timeout=300)
        assert backfill.returncode == 0, backfill.stdout + backfill.stderr
        server.stop()
        for block in blocks.iterdir():
            block.rename(tmp_path / "prom" / "data" / block.name)
        start_or_fail(server.start)
        (demo_copy / "providers.yaml").write_text(
            "apiVersion: streamverse.io/v1\nkind: Provider\nmetadata: {name: platform}\n"
            "spec: {type: sim, serves: {types: ['*']}}\n")
        inv = demo_copy / "inventory.yaml"
        inv.write_text(inv.read_text() + f"""\
  patches:
    - target: {{kind: SLO, name: platform}}
      merge: {{spec: {{prometheusUrl: "{server.url}"}}}}
""")
        (tmp_path / "state").mkdir()
        env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"),
               "STREAMVERSE_INVENTORY": str(demo_copy), "STREAMVERSE_METRICS_AT": str(server.data.end)}
        doc = json.loads(_run(env, "status", "-o", "json").stdout)
    finally:
        server.stop()
    slo = {(s["sli"], s["region"]): s for s in doc["slos"]}
    row = slo[("cdn_hit_ratio", "ap-pacific")]
    assert "recording rule" in row["source"]
    assert row["burn_rate"] == pytest.approx(16.0, abs=1e-3)  # 1 - 10/50 = 80 % misses on a 5 % budget
    assert row["budget_remaining"] == pytest.approx(-15.0, abs=1e-3)
    assert slo[("api_latency", "(all)")]["burn_rate"] == pytest.approx(4.0, abs=1e-3)
