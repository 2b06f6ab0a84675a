"""Knot DNS (``knotd -c CONF``) as a primary for one zone: TSIG key, an ACL allowing update and transfer.

Knot writes updates back into its zone file (``zonefile-sync: 0``) and keeps a journal in its
database folder, so a fresh start rewrites the zone file and drops the database.
"""

from __future__ import annotations

import base64
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .bind import ZONE_TEMPLATE
from .process import ChildServer, free_port, require_binary, start_or_fail, tcp_ready


class KnotServer(ChildServer):
    def __init__(self, workdir: Path, zone: str = "sv.example.", key_name: str = "svctl-key") -> None:
        super().__init__("knotd", workdir)
        self.zone = zone if zone.endswith(".") else zone + "."
        self.key_name = key_name
        self.port = 0
        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.algorithm = "hmac-sha256"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def zone_file(self) -> Path:
        return self.workdir / "zone.db"

    def _write_config(self) -> None:
        d = self.workdir
        d.mkdir(parents=True, exist_ok=True)
        (d / "knot.conf").write_text(f"""
server:
    listen: 127.0.0.1@{self.port}
    rundir: {d}
    pidfile: {d}/knot.pid
log:
  - target: stderr
    any: info
database:
    storage: {d}/db
key:
  - id: {self.key_name}
    algorithm: {self.algorithm}
    secret: {self.secret}
acl:
  - id: svctl
    key: {self.key_name}
    action: [update, transfer]
template:
  - id: default
    storage: {d}
    zonefile-sync: 0
    journal-content: changes
zone:
  - domain: {self.zone}
    file: {self.zone_file}
    acl: svctl
""")

    def _fresh_zone(self) -> None:
        shutil.rmtree(self.workdir / "db", ignore_errors=True)
        (self.workdir / "db").mkdir()  # knotd does not create it: updates would fail ("not exists")
        self.zone_file.write_text(ZONE_TEMPLATE.format(zone=self.zone))

    def start(self) -> KnotServer:
        knotd = require_binary("knotd", "knot")
        if not self.port:
            self.port = free_port()
            self._write_config()
        self._fresh_zone()
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.spawn([knotd, "-c", str(self.workdir / "knot.conf")], self._ready)
        return self

    def _ready(self) -> bool:
        """This start's log says the server started (the log file is kept across restarts)."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_start)
            started = b"server started" in log.read()
        return started and tcp_ready(self.port)

    def reset(self) -> None:
        """A fresh zone: stop, rewrite the zone file, drop the journal, start (~0.05 s)."""
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def knot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnotServer]:
    server = KnotServer(tmp_path_factory.mktemp("knot"))
    start_or_fail(server.start)
    yield server
    server.stop()


@pytest.fixture
def knot(knot_server: KnotServer) -> KnotServer:
    """Knot DNS serving a fresh ``sv.example.`` (SOA, NS, ns1 A only): the second RFC 2136 server."""
    knot_server.reset()
    return knot_server
