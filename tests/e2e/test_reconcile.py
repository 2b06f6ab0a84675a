"""`streamverse ctl reconcile`: the controller loop, run as an operator would run it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SV = str(Path(sys.executable).parent / "streamverse")
WWW = "dns.record/www.streamverse.example./A/{}"


def _cli(demo: Path, state: Path):  # type: ignore[no-untyped-def]
    state.mkdir(exist_ok=True)  # an explicit --state-dir must exist (a missing one is refused)
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(state), "STREAMVERSE_INVENTORY": str(demo), "COLUMNS": "200"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env=env, timeout=120,
                              stdin=subprocess.DEVNULL)

    return run, env


def ticks(p: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def test_reports_without_apply_then_converges_and_repairs_drift(demo_copy: Path, tmp_path: Path) -> None:
    sv, _ = _cli(demo_copy, tmp_path / "state")
    first = ticks(sv("reconcile", "-n", "1", "-o", "json"))
    assert first[0]["status"] == "pending" and first[0]["changes"] == 73
    assert json.loads(sv("sim", "status", "-o", "json").stdout)["resources"] == {}  # report-only wrote nothing

    run = ticks(sv("reconcile", "--apply", "-n", "2", "--interval", "100ms", "-o", "json"))
    assert [t["status"] for t in run] == ["applied", "in-sync"] and run[0]["applied"] == 73

    sv("sim", "drift", WWW.format("us-west"), "weight=5")
    again = ticks(sv("reconcile", "--apply", "-n", "1", "-o", "json"))
    assert again[0]["status"] == "applied" and again[0]["drift"] == 1 and again[0]["applied"] == 1
    assert sv("diff", "--detailed-exitcode").returncode == 0


def test_never_forces_a_guardrail(demo_copy: Path, tmp_path: Path) -> None:
    sv, _ = _cli(demo_copy, tmp_path / "state")
    assert sv("apply", "--yes").returncode == 0
    for region in ("us-east", "us-west", "eu-west", "ap-pacific"):  # a large out-of-band change
        sv("sim", "drift", WWW.format(region), "weight=0")
    p = sv("reconcile", "--apply", "-n", "1")
    assert p.returncode == 1 and "refused" in p.stdout and "[change-size]" in p.stdout
    assert sv("diff", "--detailed-exitcode").returncode == 2  # left for a human
    audit = json.loads(sv("state", "audit", "-o", "json").stdout)
    assert any(e["action"] == "reconcile" and e["result"] == "refused" for e in audit)


def test_sigterm_stops_the_loop_cleanly(demo_copy: Path, tmp_path: Path) -> None:
    _, env = _cli(demo_copy, tmp_path / "state")
    proc = subprocess.Popen([SV, "ctl", "reconcile", "--interval", "1s", "-o", "json"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    line = proc.stdout.readline()  # wait for the first iteration
    assert json.loads(line)["iteration"] == 1 and time.monotonic() < deadline
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
