"""pytest fixtures for real servers on 127.0.0.1 (loaded via ``pytest_plugins`` in tests/conftest.py).

Servers are session-scoped and reset between tests (moto: POST /moto-api/reset; PowerDNS: delete
every zone; BIND: restart on a fresh zone file, ~0.1 s). A missing server binary FAILS the test
with the install hint: these tests must run in CI, never be skipped.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .bind import BindServer
from .faultproxy import FaultProxy
from .motoserver import MotoServer
from .postgres import PostgresServer
from .powerdns import PowerDNSServer
from .process import start_or_fail

ZONE = "sv.example."



@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    start_or_fail(server.start)
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """A clean moto server and fake AWS credentials in the environment."""
    if not moto_server.running:
        moto_server.start()
    moto_server.reset()
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ROUTE_53", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    return moto_server


@pytest.fixture(scope="session")
def bind_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BindServer]:
    server = BindServer(tmp_path_factory.mktemp("bind"), zone=ZONE)
    start_or_fail(server.start)
    yield server
    server.stop()


@pytest.fixture
def bind(bind_server: BindServer) -> BindServer:
    """BIND 9 serving a fresh ``sv.example.`` (SOA, NS, ns1 A only)."""
    bind_server.reset()
    return bind_server


@pytest.fixture(scope="session")
def pdns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PowerDNSServer]:
    server = PowerDNSServer(tmp_path_factory.mktemp("pdns"))
    start_or_fail(server.start)
    yield server
    server.stop()


@pytest.fixture
def pdns(pdns_server: PowerDNSServer) -> PowerDNSServer:
    """PowerDNS with LUA records and one empty zone ``sv.example.``."""
    if not pdns_server.running:
        pdns_server.start()
    pdns_server.reset()
    pdns_server.create_zone(ZONE)
    return pdns_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """PostgreSQL 15 on a free loopback port for the session; tests take a fresh database each."""
    server = PostgresServer()
    start_or_fail(server.start)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database (no password: the test cluster trusts loopback)."""
    return postgres_server.new_database()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[int], FaultProxy]]:
    """Factory: ``fault_proxy(upstream_port)`` -> a started proxy, stopped after the test."""
    proxies: list[FaultProxy] = []

    def make(port: int) -> FaultProxy:
        proxy = FaultProxy(port).start()
        proxies.append(proxy)
        return proxy

    yield make
    for p in proxies:
        p.stop()


class HealthEndpoint:
    """An HTTP server whose answer per path is switched by the test (200 healthy, 503 not)."""

    def __init__(self) -> None:
        self.healthy: dict[str, bool] = {}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = owner.healthy.get(self.path, True)
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"no")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set(self, path: str, healthy: bool) -> None:
        self.healthy[path] = healthy

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def health_endpoint() -> Iterator[HealthEndpoint]:
    endpoint = HealthEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def tmp_state(tmp_path: Path) -> Path:
    return tmp_path / "state"
