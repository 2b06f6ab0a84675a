"""A PoP fleet on loopback: N Debian nginx caches (each its own prefix, ``daemon off``, cache path) in front of
an origin nginx serving a directory of HLS content, and the Ansible inventory (``ansible_connection=local``)
that lists the PoPs as hosts, as the ``nginx`` provider expects.

The origin's content is pluggable: any directory laid out as ``videos/<title>/master.m3u8`` etc.;
:func:`make_hls` writes a simple generated title (master + media playlists + MPEG-TS segments).
Each PoP starts on a bootstrap config that is not streamverse's (the provider's first apply replaces it).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .process import ChildServer, free_port, require_binary, tcp_ready

TS_PACKET = b"\x47" + b"\x1f\xff\x10" + b"\xff" * 184  # a null MPEG-TS packet (188 bytes)
RUNGS = (("360p", 640, 360, 800_000), ("720p", 1280, 720, 2_800_000))

MIME = "types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; video/iso.segment m4s; video/mp4 mp4; }"


def make_hls(root: Path, title: str, segments: int = 4, segment_bytes: int = 188 * 40,
             rungs: Sequence[tuple[str, int, int, int]] = RUNGS, seconds: int = 6) -> int:
    """Write ``videos/<title>/`` under ``root``: a master playlist, one media playlist per rung and its
    ``.ts`` segments. Returns how many objects (playlists + segments) the title has."""
    base = root / "videos" / title
    base.mkdir(parents=True, exist_ok=True)
    master = ["#EXTM3U", "#EXT-X-VERSION:3"]
    packets = max(1, segment_bytes // len(TS_PACKET))
    body = TS_PACKET * packets
    for name, w, h, bw in rungs:
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION={w}x{h}", f"{name}/index.m3u8"]
        (base / name).mkdir(exist_ok=True)
        media = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{seconds}", "#EXT-X-MEDIA-SEQUENCE:0",
                 "#EXT-X-PLAYLIST-TYPE:VOD"]
        for i in range(segments):
            (base / name / f"seg{i:05d}.ts").write_bytes(body)
            media += [f"#EXTINF:{seconds}.0,", f"seg{i:05d}.ts"]
        (base / name / "index.m3u8").write_text("\n".join([*media, "#EXT-X-ENDLIST"]) + "\n")
    (base / "master.m3u8").write_text("\n".join(master) + "\n")
    return 1 + len(rungs) * (1 + segments)


def _prefix(tag: str) -> Path:
    # nginx's workers run as nobody when started as root: a prefix they can reach (pytest's tmp is 0700)
    p = Path(tempfile.mkdtemp(prefix=f"sv-{tag}-"))
    os.chmod(p, 0o755)
    (p / "tmp").mkdir()
    return p


def _common(prefix: Path) -> str:
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temps = "\n".join(f"    {k}_temp_path {prefix}/tmp/{k};" for k in kinds)
    return (f"daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\n    access_log off;\n{temps}\n    {MIME}\n")


@dataclass
class Pop:
    name: str
    prefix: Path
    port: int
    server: ChildServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"


@dataclass
class PopFleet:
    """``n`` PoP caches and one origin; :meth:`start` then use ``pops``, ``origin_port``, ``inventory``."""

    workdir: Path
    names: Sequence[str] = ("pop1", "pop2", "pop3")
    content: Path | None = None  # the origin's document root (default: a generated title "clip42")
    pops: list[Pop] = field(default_factory=list)
    origin_port: int = 0
    inventory: Path = Path()

    def start(self) -> None:
        nginx = require_binary("nginx", "nginx")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.origin_prefix = _prefix("origin")
        if self.content is None:
            self.content = self.origin_prefix / "www"
            for title in ("clip42", "other"):
                make_hls(self.content, title)
        os.chmod(self.content, 0o755)
        self.origin_port = free_port()
        conf = self.origin_prefix / "nginx.conf"
        conf.write_text(_common(self.origin_prefix) + f"    server {{ listen 127.0.0.1:{self.origin_port}; "
                        f"root {self.content}; add_header Cache-Control max-age=60; }}\n}}\n")
        self.origin = ChildServer("origin-nginx", self.origin_prefix)
        self.origin.spawn([nginx, "-p", str(self.origin_prefix), "-c", str(conf), "-e", "stderr"],
                          lambda: tcp_ready(self.origin_port))
        hosts = {}
        for name in self.names:
            prefix, port = _prefix(f"pop-{name}"), free_port()
            (prefix / "nginx.conf").write_text(_common(prefix) + f"    server {{ listen 127.0.0.1:{port}; "
                                                                 "return 503; }\n}\n")
            server = ChildServer(f"nginx-{name}", prefix)
            server.spawn([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"],
                         lambda port=port: tcp_ready(port))  # type: ignore[misc]
            self.pops.append(Pop(name, prefix, port, server))
            hosts[name] = {"nginx_prefix": str(prefix), "edge_url": f"http://127.0.0.1:{port}",
                           "listen": f"127.0.0.1:{port}", "nginx_bin": nginx, "nginx_foreground": True,
                           "cache_max_size": "64m"}
        self.inventory = self.workdir / "pop-hosts.yaml"
        self.write_inventory(hosts)

    def write_inventory(self, hosts: dict[str, dict[str, object]]) -> None:
        self.hostvars = hosts
        self.inventory.write_text(yaml.safe_dump({"all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "hosts": hosts}}))

    def pop(self, name: str) -> Pop:
        return next(p for p in self.pops if p.name == name)

    def settings(self) -> dict[str, object]:
        """The nginx provider's settings for this fleet."""
        return {"ansibleInventory": str(self.inventory), "warmConcurrency": 8, "timeout": 5,
                "origin": {"scheme": "http", "port": self.origin_port, "endpoints": ["127.0.0.1"]}}

    def stop(self) -> None:
        for p in self.pops:
            p.server.stop()
            shutil.rmtree(p.prefix, ignore_errors=True)
        if getattr(self, "origin", None):
            self.origin.stop()
            shutil.rmtree(self.origin_prefix, ignore_errors=True)
