"""The collector pause around loading, compiling and reading gives the collector back afterwards.

A long-running controller plans again and again: if a pause leaked, cycles would never be
collected and its memory would grow without bound."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from streamverse_ctl.core.errors import InputError
from streamverse_ctl.core.gcpause import paused_gc
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]


def test_pause_restores_the_collector_after_errors_and_nesting() -> None:
    assert gc.isenabled()
    with pytest.raises(ValueError), paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause does not end the outer one
        raise ValueError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # never switched on by a pause if it was off
    finally:
        gc.enable()


def test_a_plan_leaves_the_collector_on(tmp_path: Path) -> None:
    ws = Workspace(REPO / "inventories" / "demo", state_dir=tmp_path, platform="sim")
    try:
        ws.plan()
    finally:
        ws.close()
    assert gc.isenabled()


def test_a_failed_load_leaves_the_collector_on(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: streamverse.io/v1\nkind: PoP\nmetadata: {name: x}\nspec: {}\n")
    with pytest.raises(InputError):
        load_inventory(tmp_path)
    assert gc.isenabled()
