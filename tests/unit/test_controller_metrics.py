"""The controller's HTTP endpoint: /metrics in the Prometheus text format, /healthz, /readyz.

Served for real on a loopback port and read with urllib; the Tick values are what one iteration
of `reconcile` reports.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from streamverse_ctl.cli.metrics import Metrics, parse_addr
from streamverse_ctl.engine.leader import Status
from streamverse_ctl.engine.reconcile import Tick


@pytest.fixture
def served() -> Iterator[tuple[Metrics, str]]:
    m = Metrics(interval=0.1, ttl=0.0)
    host, port = m.serve("127.0.0.1", 0)
    yield m, f"http://{host}:{port}"
    m.close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_count_iterations_and_show_the_lease(served: tuple[Metrics, str]) -> None:
    m, url = served
    assert get(url + "/readyz")[0] == 503  # before the first iteration
    m.observe(Tick(1, "t", "applied", changes=3, drift=1, applied=3))
    m.observe(Tick(2, "t", "refused", changes=4, refusals=["[change-size] ..."],
                   remediation=[{"action": "failover", "region": "us-east", "observations": 3, "result": "refused"}]))
    m.lease(Status(True, "me", "2026-12-01T00:00:00Z", age=12.5))
    code, text = get(url + "/metrics")
    assert code == 200
    for line in ('streamverse_reconcile_iterations_total{status="applied"} 1.0',
                 'streamverse_reconcile_iterations_total{status="refused"} 1.0',
                 "streamverse_reconcile_pending_changes 4.0", "streamverse_reconcile_applied_changes_total 3.0",
                 "streamverse_reconcile_refusals_total 1.0", "streamverse_reconcile_errors_total 0.0",
                 "streamverse_reconcile_is_leader 1.0", "streamverse_reconcile_lease_age_seconds 12.5",
                 'streamverse_reconcile_remediations_total{action="failover",result="refused"} 1.0',
                 'streamverse_reconcile_unhealthy_observations{region="us-east"} 3.0'):
        assert line in text.splitlines(), line
    assert "streamverse_reconcile_last_success_timestamp_seconds" in text
    assert get(url + "/readyz")[0] == 200 and get(url + "/healthz")[0] == 200
    m.observe(Tick(3, "t", "error", detail="state unreachable"))
    assert get(url + "/readyz") == (503, "the last iteration ended in an error\n")
    m.lease(Status(False, "other"))
    assert "streamverse_reconcile_is_leader 0.0" in get(url + "/metrics")[1].splitlines()
    assert get(url + "/nothing")[0] == 404


def test_healthz_fails_when_the_loop_is_stuck(served: tuple[Metrics, str]) -> None:
    m, url = served
    m.observe(Tick(1, "t", "in-sync"))
    assert get(url + "/healthz")[0] == 200
    m._last_tick = (m._last_tick or 0) - 3600  # an hour without an iteration (budget: 3 x 0.1 s + 30 s)
    code, text = get(url + "/healthz")
    assert code == 503 and "no iteration finished" in text
    m.heartbeat()  # a runbook inside the iteration reports progress (a gradual failback waiting between steps)
    assert get(url + "/healthz")[0] == 200


@pytest.mark.parametrize(("text", "want"), [("127.0.0.1:9400", ("127.0.0.1", 9400)), (":9400", ("0.0.0.0", 9400)),
                                            ("[::1]:9400", ("::1", 9400))])
def test_parse_addr(text: str, want: tuple[str, int]) -> None:
    assert parse_addr(text) == want


@pytest.mark.parametrize("text", ["9400", "host:", "host:port", "host:70000"])
def test_parse_addr_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_addr(text)
