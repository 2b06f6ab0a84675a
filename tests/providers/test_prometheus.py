"""PrometheusSource against a real Prometheus serving backfilled, deterministic data.

The data (tests/servers/prometheus.py) ends in the past, so every query is evaluated at its end
time (``at``): at "now" an instant query finds nothing within its 5 minute lookback.
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streamverse_ctl.core.errors import PermanentError, TemporaryError
from streamverse_ctl.providers.prometheus import RECORDING_RULES, PrometheusSource
from tests.servers.process import free_port, require_binary
from tests.servers.prometheus import PrometheusServer

pytestmark = pytest.mark.servers


@pytest.fixture
def source(prometheus: PrometheusServer) -> PrometheusSource:
    return PrometheusSource(prometheus.url, at=prometheus.data.end)


def test_region_health_one_region_failing(source: PrometheusSource) -> None:
    # ap-pacific has one of its two ingress probes failing; sa-east has no probe data at all
    assert source.region_health(["us-east", "eu-west", "ap-pacific", "sa-east"]) == {
        "us-east": True, "eu-west": True, "ap-pacific": False, "sa-east": False}


def test_hit_ratio_per_pop_and_region(source: PrometheusSource) -> None:
    by_pop = source.hit_ratio()
    assert by_pop == pytest.approx({"nyc1": 0.9, "iad1": 0.7, "fra1": 0.75, "sin1": 0.2})
    by_region = source.hit_ratio(by="region")
    assert by_region == pytest.approx({"us-east": 0.8, "eu-west": 0.75, "ap-pacific": 0.2})


def test_api_p95_and_generic_query(prometheus: PrometheusServer, source: PrometheusSource) -> None:
    # 90 % of requests finish within 250 ms, all within 500 ms: p95 interpolates to 375 ms
    assert source.api_p95_ms() == pytest.approx(375.0)
    rows = source.query('probe_success{region="ap-pacific"}')
    assert sorted((r["metric"]["instance"], r["value"][1]) for r in rows) == [
        ("ingress-0.ap-pacific", "1"), ("ingress-1.ap-pacific", "0")]
    # a datetime works like Unix seconds
    at = datetime.fromtimestamp(prometheus.data.end, UTC)
    assert PrometheusSource(prometheus.url, at=at).hit_ratio()["nyc1"] == pytest.approx(0.9)
    # evaluated at "now" the backfilled data is out of the lookback window: empty, not an error
    now = PrometheusSource(prometheus.url)
    assert now.query("probe_success") == [] and now.api_p95_ms() is None
    assert now.region_health(["us-east"]) == {"us-east": False}


def test_bad_query_is_permanent(source: PrometheusSource) -> None:
    with pytest.raises(PermanentError, match=r"query rejected \(HTTP 400\).*sum by \(pop\) \(rate\(x"):
        source.query("sum by (pop) (rate(x[5m])")
    with pytest.raises(PermanentError, match="by must be"):
        source.hit_ratio(by="city")  # type: ignore[arg-type]


def test_prometheus_down_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(TemporaryError) as err:
        PrometheusSource(url, timeout=2).region_health(["us-east"])
    assert time.monotonic() - start < 2  # no hidden retries with backoff
    assert str(err.value) == f"prometheus {url}: cannot connect: connection refused"


def test_recording_rules_are_valid(tmp_path: Path) -> None:
    promtool = require_binary("promtool", "prometheus")
    rules = tmp_path / "streamverse.rules.yml"
    rules.write_text(RECORDING_RULES)
    run = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: 4 rules found" in run.stdout
