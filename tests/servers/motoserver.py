"""moto_server on a free loopback port (Route 53 API; no DNS server)."""

from __future__ import annotations

import shutil
import sys
import urllib.request
from pathlib import Path

from .process import ChildServer, ServerMissing, free_port, tcp_ready


class MotoServer(ChildServer):
    def __init__(self, workdir: Path) -> None:
        super().__init__("moto", workdir)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        exe = Path(sys.executable).with_name("moto_server")
        binary = str(exe) if exe.exists() else shutil.which("moto_server")
        if not binary:
            raise ServerMissing("moto_server is not installed (pip install 'moto[server]')")
        self.port = free_port()
        self.spawn([binary, "-H", "127.0.0.1", "-p", str(self.port)], lambda: tcp_ready(self.port), 30)
        return self

    def reset(self) -> None:
        req = urllib.request.Request(self.url + "/moto-api/reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=10).read()
