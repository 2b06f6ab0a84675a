"""RFC 2136 failover through the whole engine on a real BIND 9 (issue 8 item 5.1): the primary's
region answers 503 and the secondary's 200 on real loopback HTTP endpoints; plan/apply and
reconcile publish the SECONDARY's answer (the zero-serving guardrail counts a failover pair with
a healthy SECONDARY as serving), and switch back when the primary recovers."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamverse_ctl.engine.apply import apply_plan
from streamverse_ctl.engine.reconcile import reconcile
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.providers.dnsverify import query
from tests.unit.helpers import doc, failover_policy, region, write

pytestmark = pytest.mark.servers
Z = "sv.example."
PRIMARY_IP, SECONDARY_IP = "127.0.0.2", "127.0.0.3"


class Endpoints:
    """One HTTP server per loopback address, all on the same port (the policy's health check port)."""

    def __init__(self, addresses: list[str]) -> None:
        self.status = {a: 200 for a in addresses}
        self.servers: list[http.server.ThreadingHTTPServer] = []
        owner = self
        port = 0
        for address in addresses:
            class Handler(http.server.BaseHTTPRequestHandler):
                bound = address

                def do_GET(self) -> None:
                    self.send_response(owner.status[self.bound])
                    self.send_header("Content-Length", "0")
                    self.end_headers()

                def log_message(self, *args: object) -> None:
                    pass

            server = http.server.ThreadingHTTPServer((address, port), Handler)
            server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            port = int(server.server_address[1])
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)
        self.port = port

    def close(self) -> None:
        for s in self.servers:
            s.shutdown()
            s.server_close()


@pytest.fixture
def endpoints() -> Iterator[Endpoints]:
    e = Endpoints([PRIMARY_IP, SECONDARY_IP])
    yield e
    e.close()


def _inventory(directory: Path, bind: Any, port: int) -> Path:
    provider = doc("Provider", "bind", {
        "type": "rfc2136", "serves": {"types": ["dns.*"], "zones": [Z]},
        "settings": {"server": bind.address, "zone": Z, "tsigKeyName": bind.key_name,
                     "tsigSecret": {"fromEnv": "TEST_TSIG_SECRET"}, "nameservers": [bind.address],
                     "timeout": 2, "probeTimeout": 1}})
    policy = doc("TrafficPolicy", "api", {
        "zone": Z, "record": "api", "type": "A", "ttl": 30, "routing": "failover",
        "failover": {"primary": "us-east", "secondary": "eu-west"},
        "healthCheck": {"protocol": "HTTP", "path": "/healthz", "port": port, "interval": 10,
                        "failureThreshold": 1}})
    return write(directory, {
        "regions.yaml": "---\n".join([region("us-east", "eu-west", PRIMARY_IP),
                                      region("eu-west", "us-east", SECONDARY_IP)]),
        "policies.yaml": failover_policy(1), "dns.yaml": policy,
        "providers.yaml": provider + "---\n" + doc("Provider", "sim", {
            "type": "sim", "serves": {"types": ["platform.*", "cdn.*", "transcode.*"]}})})


def _apply(inv: Path, state: Path) -> list[str]:
    ws = Workspace(inv, state_dir=state)
    try:
        plan = ws.plan()
        refusals = [f"[{r.name}] {r.message}" for r in plan.refusals]
        if not refusals and plan.changes:
            result = apply_plan(ws, plan, verify_timeout=5)
            assert all(v.ok for v in result.verify), result.verify
        return refusals
    finally:
        ws.close()


def _published(bind: Any) -> list[str]:
    return sorted(query(bind.address, f"api.{Z}", "A"))


def test_apply_publishes_the_secondary_when_the_primary_fails_and_switches_back(
        bind: Any, endpoints: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TSIG_SECRET", bind.secret)
    inv, state = _inventory(tmp_path / "inv", bind, endpoints.port), tmp_path / "state"
    state.mkdir()
    assert _apply(inv, state) == []
    assert _published(bind) == [PRIMARY_IP]

    endpoints.status[PRIMARY_IP] = 503  # the primary's region fails; the secondary answers 200
    assert _apply(inv, state) == []  # not refused by zero-serving: the SECONDARY serves
    assert _published(bind) == [SECONDARY_IP]
    ws = Workspace(inv, state_dir=state)
    try:
        assert ws.health() == {"us-east": False, "eu-west": True}
        assert ws.plan().empty  # converged on the secondary
    finally:
        ws.close()

    endpoints.status[PRIMARY_IP] = 200  # recovers: back to the primary
    assert _apply(inv, state) == []
    assert _published(bind) == [PRIMARY_IP]


def test_reconcile_fails_over_and_back(bind: Any, endpoints: Endpoints, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TSIG_SECRET", bind.secret)
    inv, state = _inventory(tmp_path / "inv", bind, endpoints.port), tmp_path / "state"
    state.mkdir()
    assert _apply(inv, state) == []
    endpoints.status[PRIMARY_IP] = 503
    ticks = list(reconcile(inv, state_dir=state, apply=True, iterations=1, interval=0))
    assert [(t.status, t.refusals) for t in ticks] == [("applied", [])]
    assert _published(bind) == [SECONDARY_IP]
    endpoints.status[PRIMARY_IP] = 200
    ticks = list(reconcile(inv, state_dir=state, apply=True, iterations=1, interval=0))
    assert [(t.status, t.refusals) for t in ticks] == [("applied", [])]
    assert _published(bind) == [PRIMARY_IP]
