"""Shared fixtures. Other test packages may add lines here (e.g. pytest_plugins); keep additions small."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.servers.fixtures", "tests.servers.fixtures_k8s_prom", "tests.servers.hls"]
pytest_plugins.append("tests.servers.knot")  # Knot DNS: the second real RFC 2136 server

REPO = Path(__file__).resolve().parent.parent

# Property tests never fail for the machine's speed: no per-example deadline, and the health checks
# that time data generation are off (a busy 2-core CI runner trips them; they say nothing about the
# code). In CI the same examples are drawn every run, so a red CI is reproducible, never luck; locally
# they explore new ones. A test that sets its own suppress_health_check must include these too.
BUSY_MACHINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
settings.register_profile("local", deadline=None, suppress_health_check=BUSY_MACHINE)
settings.register_profile("ci", settings.get_profile("local"), derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")


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
