"""Shared fixtures. Other test packages may add lines here (e.g. pytest_plugins); keep additions small."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["tests.servers.fixtures", "tests.servers.fixtures_k8s_prom"]

REPO = Path(__file__).resolve().parent.parent

# In CI the property tests draw the same examples every run (a red CI is reproducible, never luck);
# locally they explore new ones. Either way no example is timed (deadline=None in the tests).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session", autouse=True)
def _private_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests (and the CLI processes they start) use their own YAML parse cache, not the user's."""
    os.environ["STREAMVERSE_CACHE_DIR"] = str(tmp_path_factory.mktemp("parse-cache"))
INVENTORIES = REPO / "inventories"


@pytest.fixture
def inventories_copy(tmp_path: Path) -> Path:
    """A private copy of inventories/base and inventories/demo (demo extends ../base): mutate freely."""
    dst = tmp_path / "inventories"
    for name in ("base", "demo"):
        shutil.copytree(INVENTORIES / name, dst / name)
    return dst


@pytest.fixture
def demo_copy(inventories_copy: Path) -> Path:
    return inventories_copy / "demo"
