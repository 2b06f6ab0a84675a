"""Automatic remediation on a real PowerDNS: a region's real HTTP health check fails, and the
controller fails it over once (issue 9 section 3). DNS is PowerDNS (LUA records with ifurlup
checks), the rest the sim platform.

us-east's endpoint is 127.0.0.2 and the other regions' 127.0.0.1: two HTTP servers on one port,
one per address, so the test can fail exactly one region's check by switching its server to 503.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.inventory import demo_on_powerdns

from .conftest import CLI

pytestmark = [pytest.mark.servers, pytest.mark.slow]


class Endpoint:
    """An HTTP health endpoint on one loopback address: 200, or 503 once failed."""

    def __init__(self, address: str, port: int = 0) -> None:
        self.ok = True
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if owner.ok else 503)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if owner.ok else b"no")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((address, port), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoints() -> Iterator[tuple[Endpoint, Endpoint]]:
    others = Endpoint("127.0.0.1")
    east = Endpoint("127.0.0.2", others.port)
    yield others, east
    east.close()
    others.close()


def test_a_failing_health_check_on_powerdns_fails_the_region_over_once(
        pdns, endpoints: tuple[Endpoint, Endpoint], demo_copy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    others, east = endpoints
    demo_on_powerdns(demo_copy, pdns, patches=f"""\
    - target: {{kind: TrafficPolicy, name: "*"}}
      merge: {{spec: {{healthCheck: {{protocol: HTTP, port: {others.port}, path: /healthz}}}}}}
    - target: {{kind: Region, name: "*"}}
      merge: {{spec: {{endpoints: [127.0.0.1]}}}}
    - target: {{kind: Region, name: us-east}}
      merge: {{spec: {{endpoints: [127.0.0.2]}}}}
""")
    policies = demo_copy.parent / "base" / "policies.yaml"
    automatic = "  mode: automatic\n  unhealthyObservations: 2\n  cooldown: 1h\n"
    policies.write_text(policies.read_text().replace("  mode: manual\n", automatic, 1))
    sv = CLI(tmp_path / "state", demo_copy)
    sv.env["PDNS_API_KEY"] = pdns.api_key
    sv("apply", "--yes", "-o", "json", timeout=300)

    def reconcile(n: int) -> list[dict]:  # type: ignore[type-arg]
        p = sv("reconcile", "--apply", "-n", str(n), "--interval", "200ms", "-o", "json", timeout=600)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def weights() -> dict[str, int]:
        from streamverse_ctl.engine.workspace import Workspace
        from streamverse_ctl.runbook.probes import dns_weights

        os.environ["PDNS_API_KEY"] = pdns.api_key
        ws = Workspace(demo_copy, state_dir=sv.state)
        try:
            return dns_weights(ws, "www")
        finally:
            ws.close()

    assert all(not t["remediation"] for t in reconcile(2))  # all healthy: nothing observed, nothing done
    east.ok = False  # us-east's real health check now fails
    ticks = reconcile(4)
    items = [i for t in ticks for i in t["remediation"]]
    assert [(i["action"], i["region"], i.get("result")) for i in items if i["action"] != "observe"] == [
        ("failover", "us-east", "ok")], items
    after = weights()
    assert after["us-east"] == 0 and sum(after.values()) == 100
    again = reconcile(2)  # still down, already drained: not failed over again
    assert all(i["action"] != "failover" for t in again for i in t["remediation"])
    runs = [r for r in sv.json("runbook", "history") if r["ref"] == "regional-failover"]
    assert len(runs) == 1 and runs[0]["status"] == "done"
