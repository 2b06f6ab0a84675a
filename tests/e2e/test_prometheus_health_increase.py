"""Prometheus says ap-pacific is down (tests/e2e/test_prometheus_health.py has 0 -> >0): raising its
weight from 15 to 25 is refused too (issue 8 item 5.4), lowering it is allowed. Only us-east and
eu-west have healthy probes in the recorded data, so ``min-regions`` is forced throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.servers]

SV = str(Path(sys.executable).parent / "streamverse")


def test_raising_a_down_regions_weight_is_refused_lowering_it_is_not(prometheus, demo_copy: Path,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path) -> None:
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
    (tmp_path / "state").mkdir()  # an explicit state dir must exist (a typo never makes a new store)
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "STREAMVERSE_INVENTORY": str(demo_copy),
           "STREAMVERSE_METRICS_AT": str(prometheus.data.end), "COLUMNS": "200"}

    def sv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env=env, timeout=120,
                              stdin=subprocess.DEVNULL)

    def weights(**w: int) -> None:
        inv.write_text(base + f"""\
    - target: {{kind: TrafficPolicy, name: www}}
      merge: {{spec: {{weights: {json.dumps(w)}}}}}
""")

    # only us-east and eu-west report healthy probes: min-regions is forced throughout
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
