"""constraints.txt pins what scripts/setup.sh installs, so a release elsewhere cannot turn CI red."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: '{line}' is not pinned with =="
            pins[_norm(name)] = version.strip()
    return pins


def test_every_declared_dependency_is_pinned_and_installed_at_its_pin() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pins = _pins()
    for requirement in declared:
        name = _norm(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])
        assert name in pins, f"{name} is a dependency but constraints.txt does not pin it (run scripts/lock.sh)"
        assert metadata.version(name) == pins[name], (
            f"{name} {metadata.version(name)} is installed, constraints.txt pins {pins[name]} (rerun scripts/setup.sh)")


def test_the_build_backend_and_pip_are_pinned_too() -> None:
    pins = _pins()
    assert {"pip", "setuptools", "wheel"} <= set(pins)
    assert "-c \"$CONSTRAINTS\"" in (REPO / "scripts" / "setup.sh").read_text()
