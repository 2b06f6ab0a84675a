"""Run transcode jobs (compiler/transcode_jobs.py) on this machine with the local ffmpeg.

``transcode jobs VIDEO --run SRC --out DIR`` and the test suite's HLS content both come through
here: each rung's command in ladder order, then the master playlist, then the DASH packaging.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..compiler.transcode_jobs import MASTER, TranscodeJobs
from ..core.errors import PermanentError, ProviderError


@dataclass(frozen=True)
class RunReport:
    video_dir: Path
    files: list[Path]  # everything written, sorted
    seconds: dict[str, float]  # step (rung name, "package") -> wall time


def ffmpeg_binary(name: str = "ffmpeg") -> str:
    path = shutil.which(name)
    if not path:
        raise PermanentError(f"{name} is not installed (apt-get install ffmpeg)")
    return path


def has_audio(source: str, timeout: float = 30) -> bool:
    """Whether ``source`` has an audio stream (ffprobe)."""
    argv = [ffmpeg_binary("ffprobe"), "-v", "error", "-select_streams", "a", "-show_entries", "stream=index",
            "-of", "csv=p=0", source]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise ProviderError(f"ffprobe cannot read {source}: {proc.stderr.strip()[-500:]}")
    return bool(proc.stdout.strip())


def _run(step: str, argv: list[str], timeout: float) -> float:
    t0 = time.monotonic()
    try:
        proc = subprocess.run([ffmpeg_binary(), *argv[1:]], capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProviderError(f"ffmpeg ({step}) did not finish in {timeout:g} s") from exc
    if proc.returncode != 0:
        raise ProviderError(f"ffmpeg ({step}) failed with exit code {proc.returncode}: "
                            f"{proc.stderr.strip()[-800:] or 'no message'}")
    return time.monotonic() - t0


def run(jobs: TranscodeJobs, timeout: float = 3600) -> RunReport:
    """Encode every rung, write the master playlist, package DASH. Raises on the first failure."""
    video_dir = Path(jobs.video_dir)
    seconds: dict[str, float] = {}
    for r in jobs.rungs:
        (video_dir / r.rung.name).mkdir(parents=True, exist_ok=True)
        seconds[r.rung.name] = _run(f"rung {r.rung.name}", r.argv, timeout)
    if jobs.master_playlist:
        (video_dir / MASTER).write_text(jobs.master_playlist, encoding="utf-8")
    if jobs.package_argv:
        (video_dir / "dash").mkdir(parents=True, exist_ok=True)
        seconds["package"] = _run("DASH packaging", jobs.package_argv, timeout)
    files = sorted(p for p in video_dir.rglob("*") if p.is_file())
    return RunReport(video_dir, files, seconds)
