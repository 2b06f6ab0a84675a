"""Fixtures for the Kubernetes (kmock) and Prometheus servers (loaded via ``pytest_plugins``).

Both are session-scoped. kmock has no Namespace resource and no reset: every test gets its own
namespace instead (any name works on kmock; a real cluster would need it created). Prometheus
serves fixed backfilled data that nothing changes, so it needs no reset.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .kube import KmockServer
from .process import ServerMissing, require_binary, start_or_fail
from .prometheus import PrometheusServer


@dataclass
class Kube:
    """One kmock API server and the namespace this test owns on it."""

    server: KmockServer
    namespace: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def kmock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmockServer]:
    server = KmockServer(tmp_path_factory.mktemp("kmock"))
    start_or_fail(server.start)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kmock_server_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmockServer]:
    """A second, independent emulator: a second region's cluster."""
    server = KmockServer(tmp_path_factory.mktemp("kmock-b"), name="kmock-b")
    start_or_fail(server.start)
    yield server
    server.stop()


@pytest.fixture
def kube(kmock_server: KmockServer) -> Kube:
    if not kmock_server.running:
        kmock_server.start()
    return Kube(kmock_server, f"sv-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool (Debian's prometheus package): a missing one fails the test, never skips it."""
    try:
        return require_binary("promtool", "prometheus")
    except ServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"))
    start_or_fail(server.start)
    yield server
    server.stop()


@pytest.fixture
def prometheus(prometheus_server: PrometheusServer) -> PrometheusServer:
    if not prometheus_server.running:
        prometheus_server.start()
    return prometheus_server
