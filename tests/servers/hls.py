"""Real HLS/DASH content, made by the product's own transcode path, and an HTTP origin serving it.

``hls_content`` (session): a 4-second ``testsrc`` clip (with a sine tone) transcoded by
``compiler/transcode_jobs.py`` + ``providers/ffmpeg.py`` (what ``streamverse ctl transcode jobs
--run`` does) along :data:`TEST_LADDER` (small rungs: 2 s segments so every rendition has two),
in a temp dir made once per session. Layout: ``<root>/videos/clip42/master.m3u8``,
``<rung>/index.m3u8``, ``<rung>/seg_00000.ts`` (``.m4s`` + ``init.mp4`` for hevc),
``dash/manifest.mpd``.

``hls_origin`` (session): a threaded HTTP/1.1 origin on 127.0.0.1 serving that root with the MIME
types players and caches expect (``.m3u8`` application/vnd.apple.mpegurl, ``.ts`` video/mp2t,
``.m4s``/``.mp4`` video/iso.segment / video/mp4, ``.mpd`` application/dash+xml), Content-Length,
``Cache-Control: max-age=60`` and a request counter per path (to tell cache hits from misses).

ffmpeg missing is a failure, never a skip (``apt-get install ffmpeg``).
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .process import ServerMissing, require_binary, start_or_fail

VIDEO = "clip42"
TEST_LADDER = {
    "codecs": ["h264", "hevc"], "formats": ["hls", "dash"], "segmentSeconds": 2,
    "rungs": [
        {"name": "360p", "width": 640, "height": 360, "bitrateKbps": 800, "codec": "h264"},
        {"name": "180p", "width": 320, "height": 180, "bitrateKbps": 300, "codec": "h264"},
        {"name": "180p-hevc", "width": 320, "height": 180, "bitrateKbps": 200, "codec": "hevc"},
    ],
}
MIME = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".m4s": "video/iso.segment",
        ".mp4": "video/mp4", ".mpd": "application/dash+xml"}


@dataclass(frozen=True)
class HlsContent:
    root: Path  # the document root: videos/<video>/...
    video: str
    ladder: dict[str, object]

    @property
    def video_dir(self) -> Path:
        return self.root / "videos" / self.video

    @property
    def master_path(self) -> str:
        return f"/videos/{self.video}/master.m3u8"


def make_clip(path: Path, seconds: int = 4, size: str = "640x360") -> Path:
    ffmpeg = require_binary("ffmpeg", "ffmpeg")
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc=size={size}:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
                    str(path)], check=True, capture_output=True)
    return path


def transcode(root: Path, source: Path, ladder: dict[str, object], video: str = VIDEO) -> HlsContent:
    """The product's path: compiler/transcode_jobs.build + providers/ffmpeg.run (CPU encoders)."""
    from streamverse_ctl.compiler import transcode_jobs as tj
    from streamverse_ctl.inventory import models as m
    from streamverse_ctl.providers import ffmpeg

    spec = m.EncodingLadderSpec.model_validate(ladder)
    jobs = tj.build(video, "test", spec, str(source), str(root / "videos" / video), encoder="cpu",
                    audio=ffmpeg.has_audio(str(source)))
    ffmpeg.run(jobs, timeout=300)
    return HlsContent(root, video, ladder)


class HlsOrigin:
    """HTTP origin for a document root, with correct MIME types and per-path request counts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: Counter[str] = Counter()
        owner = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME}

            def __init__(self, *args: object, **kw: object) -> None:
                super().__init__(*args, directory=str(owner.root), **kw)  # type: ignore[arg-type]

            def end_headers(self) -> None:
                self.send_header("Cache-Control", "max-age=60")
                super().end_headers()

            def send_head(self):  # type: ignore[no-untyped-def]
                owner.requests[self.path.split("?", 1)[0]] += 1
                return super().send_head()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="hls-origin", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def hls_content() -> Iterator[HlsContent]:
    # a temp dir nginx workers (user nobody) could also read: pytest's tmp is 0700
    root = Path(tempfile.mkdtemp(prefix="sv-hls-"))
    os.chmod(root, 0o755)
    made: list[HlsContent] = []

    def make() -> None:
        try:
            clip = make_clip(root / "source.mp4")
        except FileNotFoundError as exc:  # pragma: no cover - require_binary found it
            raise ServerMissing(str(exc)) from exc
        made.append(transcode(root / "www", clip, TEST_LADDER))

    start_or_fail(make)
    for dirpath, _dirs, _files in os.walk(root):
        os.chmod(dirpath, 0o755)
    yield made[0]
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def hls_origin(hls_content: HlsContent) -> Iterator[HlsOrigin]:
    origin = HlsOrigin(hls_content.root)
    yield origin
    origin.close()


def parse_master(text: str) -> list[dict[str, str]]:
    """A master playlist's variants: EXT-X-STREAM-INF attributes plus ``uri`` (RFC 8216 4.3.4.2).

    (No m3u8 library in the constraints: attribute lists are NAME=VALUE, comma separated, values
    optionally quoted.)"""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines and lines[0] == "#EXTM3U", "not an M3U8 playlist"
    out = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            attrs = {k: v.strip('"') for k, v in attrs.items()}
            attrs["uri"] = lines[i + 1]
            out.append(attrs)
    return out


def parse_media(text: str) -> list[tuple[float, str]]:
    """A media playlist's segments: (EXTINF duration, URI)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return [(float(line.split(":", 1)[1].split(",", 1)[0]), lines[i + 1])
            for i, line in enumerate(lines) if line.startswith("#EXTINF:")]
