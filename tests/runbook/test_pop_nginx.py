"""templates/pop-nginx.conf.j2 on a real nginx: the viral video's rules win over the generic *.ts/*.m3u8 ones.

Rendered with Jinja2 as Ansible's template module renders it (trim_blocks, Ansible's own regex_replace
filter), served by nginx in front of a small HTTP origin on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import jinja2
import pytest

from tests.servers.process import ChildServer, free_port, require_binary, tcp_ready

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


class Origin(http.server.BaseHTTPRequestHandler):
    """Any path: 200 with a body, and a short Cache-Control the PoP's rules must override."""

    def do_GET(self) -> None:
        body = b"\x47" * 188
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=60")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def render(**variables: object) -> str:
    from ansible.plugins.filter.core import regex_replace

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), trim_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["regex_replace"] = regex_replace
    return env.get_template("pop-nginx.conf.j2").render(**variables)


@pytest.fixture
def edge() -> Iterator[str]:
    origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    # nginx's workers run as nobody when started as root: a prefix they can reach (pytest's tmp is 0700)
    prefix = Path(tempfile.mkdtemp(prefix="sv-pop-nginx-"))
    os.chmod(prefix, 0o755)
    (prefix / "tmp").mkdir()
    port = free_port()
    conf = render(pop="t1", region="us-east", prefix=str(prefix), origin_endpoints=["127.0.0.1"],
                  origin_port=origin.server_address[1], origin_scheme="http", listen_port=port, video="clip42",
                  rate_limit_rps=1, ttl_overrides={"/videos/clip42/*": 86400, "*.m3u8": 2, "*.ts": 3600})
    (prefix / "nginx.conf").write_text(conf)
    nginx = ChildServer("nginx", prefix)
    nginx.spawn([require_binary("nginx", "nginx-light"), "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                 "-e", "stderr"], lambda: tcp_ready(port))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        nginx.stop()
        origin.shutdown()
        origin.server_close()
        shutil.rmtree(prefix, ignore_errors=True)


def test_viral_segment_gets_its_ttl_and_rate_limit_generic_keeps_1h(edge: str) -> None:
    with httpx.Client(base_url=edge) as client:
        viral = client.get("/videos/clip42/1080p/seg00042.ts")
        assert viral.status_code == 200
        assert viral.headers["cache-control"] == "max-age=86400"  # 24 h, not the generic 1 h nor the origin's 60 s
        assert "expires" in viral.headers
        generic = client.get("/videos/other/1080p/seg00042.ts")
        assert generic.status_code == 200 and generic.headers["cache-control"] == "max-age=3600"
        playlist = client.get("/videos/other/index.m3u8")
        assert playlist.headers["cache-control"] == "max-age=2"
        # the per-IP limit (1 r/s, burst 2) holds on the viral video's segments: 80 requests are not all served
        codes = [client.get("/videos/clip42/1080p/seg00042.ts").status_code for _ in range(80)]
        assert 429 in codes and set(codes) <= {200, 429}
        # and only there: other segments are not limited
        assert {client.get("/videos/other/1080p/seg00042.ts").status_code for _ in range(80)} == {200}
