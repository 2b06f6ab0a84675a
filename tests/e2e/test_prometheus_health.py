"""Region health from the SLO's Prometheus drives the guardrails: a region whose ingress probes fail
(or report nothing) never receives traffic, and never more of it. Prometheus serves deterministic
backfilled data, so queries are evaluated at the data's time via STREAMVERSE_METRICS_AT (the
rehearsal/replay knob)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.servers]

SV = str(Path(sys.executable).parent / "streamverse")


@dataclass
class OnPrometheus:
    """The demo inventory bound to a named sim provider, its SLO pointing at the test Prometheus."""

    inventory: Path
    base: str  # inventory.yaml's text with the Prometheus patch (add further patches after it)
    env: dict[str, str]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env=self.env, timeout=120,
                              stdin=subprocess.DEVNULL)


@pytest.fixture
def sv(prometheus, demo_copy: Path, tmp_path: Path) -> OnPrometheus:  # type: ignore[no-untyped-def]
    (demo_copy / "providers.yaml").write_text("""\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {name: platform}
spec:
  type: sim
  serves: {types: ["*"]}
""")
    inv = demo_copy / "inventory.yaml"
    base = inv.read_text() + f"""\
  patches:
    - target: {{kind: SLO, name: platform}}
      merge: {{spec: {{prometheusUrl: "{prometheus.url}"}}}}
"""
    inv.write_text(base)
    (tmp_path / "state").mkdir()  # an explicit state location must exist
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "STREAMVERSE_INVENTORY": str(demo_copy),
           "STREAMVERSE_METRICS_AT": str(prometheus.data.end), "COLUMNS": "200"}
    return OnPrometheus(inv, base, env)


def test_prometheus_health_refuses_traffic_to_a_failing_region(sv: OnPrometheus) -> None:
    regions = {r["name"]: r["health"] for r in json.loads(sv("get", "region", "-o", "json").stdout)}
    assert regions["us-east"] == "up" and regions["eu-west"] == "up"
    assert regions["ap-pacific"] == "DOWN"  # one of its two ingress probes fails
    assert regions["us-west"] == "DOWN"  # no probe data at all is not health

    plan = json.loads(sv("plan", "-o", "json").stdout)
    refused = {r["name"] for r in plan["refusals"]}
    assert "unhealthy-region" in refused and not plan["safe"]
    assert any("ap-pacific" in r["message"] for r in plan["refusals"] if r["name"] == "unhealthy-region")
    p = sv("apply", "--yes")
    assert p.returncode == 3 and "unhealthy-region" in p.stderr

    sv.env["STREAMVERSE_PLATFORM"] = "sim"  # the sim platform's own health instead: everything is up
    assert json.loads(sv("plan", "-o", "json").stdout)["safe"]


def test_raising_a_down_regions_weight_is_refused_lowering_it_is_not(sv: OnPrometheus) -> None:
    """ap-pacific is down: 15 -> 25 is refused too (not only 0 -> >0), lowering it is allowed. Only
    us-east and eu-west have healthy probes in the recorded data, so ``min-regions`` is forced throughout."""
    def weights(**w: int) -> None:
        sv.inventory.write_text(sv.base + f"""\
    - target: {{kind: TrafficPolicy, name: www}}
      merge: {{spec: {{weights: {json.dumps(w)}}}}}
""")

    p = sv("apply", "--yes", "--force", "unhealthy-region", "--force", "min-regions")  # ap-pacific at 15
    assert p.returncode == 0, p.stderr
    weights(**{"ap-pacific": 25, "us-east": 20})  # 15 -> 25: not 0 -> >0, still more traffic to a down region
    plan = json.loads(sv("plan", "-o", "json").stdout)
    messages = [r["message"] for r in plan["refusals"] if r["name"] == "unhealthy-region"]
    assert any("region ap-pacific (its weight goes from 15 to 25)" in m for m in messages), plan["refusals"]
    p = sv("apply", "--yes", "--force", "min-regions")
    assert p.returncode == 3 and "unhealthy-region" in p.stderr

    weights(**{"ap-pacific": 5, "us-east": 40})  # lower: always allowed (us-west's share is unchanged)
    plan = json.loads(sv("plan", "-o", "json").stdout)
    assert plan["changes"] and not [r for r in plan["refusals"] if r["name"] == "unhealthy-region"], plan
    assert sv("apply", "--yes", "--force", "min-regions").returncode == 0
