"""Region health from the SLO's Prometheus drives the guardrails: a region whose ingress probes fail
(or report nothing) never receives traffic. Prometheus serves deterministic backfilled data, so
queries are evaluated at the data's time via STREAMVERSE_METRICS_AT (the rehearsal/replay knob)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.servers]

SV = str(Path(sys.executable).parent / "streamverse")


def test_prometheus_health_refuses_traffic_to_a_failing_region(prometheus, demo_copy: Path, tmp_path: Path) -> None:
    (demo_copy / "providers.yaml").write_text("""\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {name: platform}
spec:
  type: sim
  serves: {types: ["*"]}
""")
    inv = demo_copy / "inventory.yaml"
    inv.write_text(inv.read_text() + f"""\
  patches:
    - target: {{kind: SLO, name: platform}}
      merge: {{spec: {{prometheusUrl: "{prometheus.url}"}}}}
""")
    (tmp_path / "state").mkdir()  # an explicit state location must exist
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "STREAMVERSE_INVENTORY": str(demo_copy),
           "STREAMVERSE_METRICS_AT": str(prometheus.data.end), "COLUMNS": "200"}

    def sv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env=env, timeout=120,
                              stdin=subprocess.DEVNULL)

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

    env["STREAMVERSE_PLATFORM"] = "sim"  # the sim platform's own health instead: everything is up
    assert json.loads(sv("plan", "-o", "json").stdout)["safe"]
