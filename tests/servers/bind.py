"""BIND 9 (``named -g``) as a primary for one zone, TSIG key from tsig-keygen, update-policy."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .process import ChildServer, free_port, require_binary, tcp_ready

ZONE_TEMPLATE = """$TTL 300
@ IN SOA ns1.{zone} hostmaster.{zone} 1 3600 600 86400 60
@ IN NS ns1.{zone}
ns1 IN A 127.0.0.1
"""


class BindServer(ChildServer):
    def __init__(self, workdir: Path, zone: str = "sv.example.", key_name: str = "svctl-key") -> None:
        super().__init__("named", workdir)
        self.zone = zone if zone.endswith(".") else zone + "."
        self.key_name = key_name
        self.port = 0
        self.secret = ""
        self.algorithm = "hmac-sha256"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def zone_file(self) -> Path:
        return self.workdir / "zone.db"

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        keygen = require_binary("tsig-keygen", "bind9-utils")
        key_text = subprocess.run([keygen, "-a", self.algorithm, self.key_name], check=True,
                                  capture_output=True, text=True).stdout
        found = re.search(r'secret\s+"([^"]+)"', key_text)
        assert found, key_text
        self.secret = found.group(1)
        (self.workdir / "tsig.key").write_text(key_text)
        d = self.workdir
        (d / "named.conf").write_text(f"""
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    allow-transfer {{ key "{self.key_name}"; }};
}};
controls {{ }};
include "{d}/tsig.key";
zone "{self.zone.rstrip('.')}" {{
    type primary;
    file "{self.zone_file}";
    update-policy {{ grant {self.key_name} zonesub ANY; }};
}};
""")

    def _fresh_zone(self) -> None:
        for jnl in self.workdir.glob("zone.db.jnl"):
            jnl.unlink()
        self.zone_file.write_text(ZONE_TEMPLATE.format(zone=self.zone))

    def start(self) -> BindServer:
        named = require_binary("named", "bind9")
        if not self.port:
            self.port = free_port()
            self._write_config()
        self._fresh_zone()
        self.spawn([named, "-c", str(self.workdir / "named.conf"), "-g", "-4"], self._ready)
        return self

    def _ready(self) -> bool:
        return tcp_ready(self.port) and "running" in self.tail(5)

    def reset(self) -> None:
        """A fresh zone: stop, rewrite the zone file, drop the journal, start (~0.2 s)."""
        self.stop()
        self.start()
