"""Fixtures of the end-to-end tests: the installed CLI on a private copy of the demo inventory."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_cli import CLI


@pytest.fixture
def cli(inventories_copy: Path, tmp_path: Path) -> CLI:
    return CLI(inventories_copy / "demo", tmp_path / "state", tmp_path)


@pytest.fixture
def applied(cli: CLI) -> CLI:
    cli.ok("apply", "--platform", "sim", "--auto-approve")
    return cli
