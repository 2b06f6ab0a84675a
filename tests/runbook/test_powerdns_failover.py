"""A failover and failback against a real PowerDNS (LUA records), the rest on the sim platform."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.servers.inventory import demo_on_powerdns

from .conftest import CLI

pytestmark = [pytest.mark.servers, pytest.mark.slow]


def _inventory(demo: Path, pdns, health_port: int) -> None:  # type: ignore[no-untyped-def]
    demo_on_powerdns(demo, pdns, patches=f"""\
    - target: {{kind: TrafficPolicy, name: "*"}}
      merge: {{spec: {{healthCheck: {{protocol: HTTP, port: {health_port}, path: /healthz}}}}}}
    - target: {{kind: Region, name: "*"}}
      merge: {{spec: {{endpoints: [127.0.0.1]}}}}
""")


def test_failover_and_failback_against_powerdns(pdns, health_endpoint, demo_copy: Path, tmp_path: Path) -> None:
    _inventory(demo_copy, pdns, health_endpoint.port)
    sv = CLI(tmp_path / "state", demo_copy)
    sv.env["PDNS_API_KEY"] = pdns.api_key
    sv("apply", "--yes", "-o", "json")
    from streamverse_ctl.engine.workspace import Workspace
    from streamverse_ctl.runbook.probes import dns_weights

    def weights() -> dict[str, int]:
        os.environ["PDNS_API_KEY"] = pdns.api_key
        ws = Workspace(demo_copy, state_dir=sv.state)
        try:
            return dns_weights(ws, "www")
        finally:
            ws.close()

    assert weights()["us-east"] == 30
    sv("failover", "us-east", "--yes", timeout=300)
    after = weights()
    assert after["us-east"] == 0 and sum(after.values()) == 100
    assert sv("plan", "-o", "json").stdout and '"changes": []' in sv("plan", "-o", "json").stdout
    sv("failback", "us-east", "--interval", "0s", "--yes", timeout=300)
    assert weights() == {"ap-pacific": 15, "eu-west": 20, "me-central": 7, "sa-east": 8, "us-east": 30,
                         "us-west": 20}
