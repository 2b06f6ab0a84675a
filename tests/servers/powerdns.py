"""PowerDNS Authoritative + gsqlite3 with the HTTP API and LUA records, on loopback ports."""

from __future__ import annotations

import json
import secrets
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .process import ChildServer, free_port, require_binary, tcp_ready

SCHEMA = Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql")


class PowerDNSServer(ChildServer):
    def __init__(self, workdir: Path) -> None:
        super().__init__("pdns", workdir)
        self.dns_port = 0
        self.api_port = 0
        self.api_key = secrets.token_hex(16)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> PowerDNSServer:
        binary = require_binary("pdns_server", "pdns-server pdns-backend-sqlite3")
        if not SCHEMA.exists():
            raise RuntimeError(f"{SCHEMA} missing: apt-get install pdns-backend-sqlite3")
        if not self.dns_port:
            self.dns_port, self.api_port = free_port(), free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        db = self.workdir / "pdns.sqlite3"
        if not db.exists():
            with sqlite3.connect(db) as conn:
                conn.executescript(SCHEMA.read_text())
        (self.workdir / "pdns.conf").write_text("\n".join([
            "launch=gsqlite3", f"gsqlite3-database={db}", f"local-address=127.0.0.1:{self.dns_port}",
            "daemon=no", "guardian=no", "disable-syslog=yes", "write-pid=no", f"socket-dir={self.workdir}",
            "api=yes", f"api-key={self.api_key}", "webserver=yes", "webserver-address=127.0.0.1",
            f"webserver-port={self.api_port}", "webserver-allow-from=127.0.0.0/8",
            "enable-lua-records=yes", "edns-subnet-processing=yes", "lua-health-checks-interval=1",
            "cache-ttl=0", "negquery-cache-ttl=0", "query-cache-ttl=0", "zone-cache-refresh-interval=0",
            "loglevel=4", "",
        ]))
        self.spawn([binary, f"--config-dir={self.workdir}"],
                   lambda: tcp_ready(self.api_port) and tcp_ready(self.dns_port))
        return self

    def api(self, method: str, path: str, body: Any = None) -> Any:
        req = urllib.request.Request(self.api_url + "/api/v1/servers/localhost" + path, method=method,
                                     headers={"X-API-Key": self.api_key, "Content-Type": "application/json"},
                                     data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = resp.read()
        return json.loads(data) if data else None

    def create_zone(self, zone: str) -> None:
        self.api("POST", "/zones", {"name": zone, "kind": "Native", "nameservers": [f"ns1.{zone}"]})

    def reset(self) -> None:
        """Delete every zone (fast: no restart)."""
        for z in self.api("GET", "/zones"):
            try:
                self.api("DELETE", f"/zones/{z['id']}")
            except urllib.error.HTTPError:
                pass
