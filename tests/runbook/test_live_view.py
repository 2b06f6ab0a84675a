"""The live view of a runbook run (rich Live, forced on with TTY_COMPATIBLE=1 since tests have no terminal)."""

from __future__ import annotations

import re

from .conftest import CLI

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_gradual_failover_live_view_ends_on_the_final_weights(sv: CLI) -> None:
    sv.env = {**sv.env, "TTY_COMPATIBLE": "1"}  # the live view, as on a terminal
    p = sv("failover", "us-east", "--gradual", "--step", "10", "--interval", "0s", "--yes")
    out = ANSI.sub("", p.stdout)
    assert "DNS weights and health" in out
    rows = re.findall(r"│ us-east\s+│ (\S+)\s+│", out)
    assert rows, out[-2000:]
    # the last frame drawn is the state after the run: us-east carries nothing (it was 30, then stepped down)
    assert rows[-1] == "0", rows
    assert sv.www()["us-east"] == 0
