"""Runbook tests: the installed console script against the demo inventory on the sim platform."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SV = str(Path(sys.executable).parent / "streamverse")


class CLI:
    def __init__(self, state: Path, inventory: Path) -> None:
        self.state = state
        self.inventory = inventory
        state.mkdir(parents=True, exist_ok=True)  # an explicit state location must exist (like `mktemp -d`)
        self.env = {**os.environ, "STREAMVERSE_STATE_DIR": str(state), "STREAMVERSE_INVENTORY": str(inventory),
                    "COLUMNS": "200"}
        self.env.pop("CI", None)

    def __call__(self, *args: str, check: bool | int = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env=self.env, cwd=REPO,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        want = 0 if check is True else check
        if check is not False and p.returncode != want:
            raise AssertionError(f"exit {p.returncode} (wanted {want}) for {args}\n"
                                 f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        return p

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([SV, "ctl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env, cwd=REPO, stdin=subprocess.DEVNULL)

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def status(self) -> dict[str, Any]:
        data = self.json("sim", "status")
        return {r["region"]: r for r in data["regions"]} | {"_": data}

    def www(self) -> dict[str, float]:
        return {k: round(v["share"]["www"] * 100, 1) for k, v in self.status().items() if k != "_"}


@pytest.fixture
def sv(tmp_path: Path, demo_copy: Path) -> CLI:
    cli = CLI(tmp_path / "state", demo_copy)
    cli("apply", "--yes", "-o", "json")
    return cli


@pytest.fixture
def store(sv: CLI) -> Callable[[], Any]:
    from streamverse_ctl.state.store import StateStore

    def open_store() -> StateStore:
        return StateStore(sv.state)

    return open_store
