"""End to end: an untrusted checkout (inventory, ./plugins, runbooks) runs no code and reads no file outside it.

Each test runs the installed ``streamverse`` script in a working directory that holds a hostile
checkout: a ``./plugins/evil.py`` that writes a marker file when imported, inventories that point
``extends`` / ``fromFile`` outside themselves, names that are paths.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "streamverse"
EXE = str(BIN) if BIN.exists() else shutil.which("streamverse")
REPO = Path(__file__).resolve().parents[2]

EVIL = """\
from pathlib import Path
Path({marker!r}).write_text("plugin code ran")
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMVERSE_", "_STREAMVERSE"))}
    env.update(STREAMVERSE_STATE_DIR=str(tmp_path / "state"), COLUMNS="250", NO_COLOR="1", CI="true")
    env.update(extra)
    return env


def ctl(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert EXE, "the streamverse console script is not installed (pip install -e .)"
    return subprocess.run([EXE, "ctl", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def checkout(inventories_copy: Path, tmp_path: Path) -> Path:
    """A checkout (the working directory): inventories/{base,demo} and ./plugins/evil.py."""
    root = inventories_copy.parent
    (root / "plugins").mkdir()
    (root / "plugins" / "evil.py").write_text(EVIL.format(marker=str(tmp_path / "MARKER")), encoding="utf-8")
    return root


@pytest.mark.parametrize("args", [
    ("--help",),
    ("validate", "-i", "inventories/demo"),
    ("plan", "-i", "inventories/demo"),
    ("completion", "bash"),
    ("plugins", "list"),
])
def test_plugins_in_the_working_directory_do_not_run(checkout: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    out = ctl(checkout, *args, env=_env(tmp_path))
    assert out.returncode in (0, 2), out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "MARKER").exists(), f"./plugins/evil.py ran for ctl {' '.join(args)}"


def test_shell_completion_does_not_run_working_directory_plugins(checkout: Path, tmp_path: Path) -> None:
    env = _env(tmp_path, _STREAMVERSE_COMPLETE="complete_bash", COMP_WORDS="streamverse ctl pl", COMP_CWORD="2")
    out = subprocess.run([EXE or "streamverse"], cwd=checkout, env=env, capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert "plan" in out.stdout  # completion works
    assert not (tmp_path / "MARKER").exists()


def test_plugins_list_says_where_it_searched_and_how_to_enable_plugins(checkout: Path, tmp_path: Path) -> None:
    out = ctl(checkout, "plugins", "list", env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "plugin directories searched: none (no --plugin-dir given, STREAMVERSE_PLUGIN_PATH unset)" in out.stdout
    assert "exists but is not loaded" in out.stdout and "--plugin-dir ./plugins" in out.stdout
    data = json.loads(ctl(checkout, "plugins", "list", "-o", "json", env=_env(tmp_path)).stdout)
    assert data["pluginDirs"] == [] and data["notLoaded"]["dir"] == str(checkout / "plugins")
    # named, it loads (and is no longer reported as not loaded)
    named = json.loads(ctl(checkout, "--plugin-dir", "plugins", "plugins", "list", "-o", "json",
                           env=_env(tmp_path)).stdout)
    assert (tmp_path / "MARKER").exists()
    assert named["pluginDirs"] == [str((checkout / "plugins").resolve())] and named["notLoaded"] is None


def test_a_named_plugin_directory_that_does_not_exist_is_reported(checkout: Path, tmp_path: Path) -> None:
    out = ctl(checkout, "plugins", "list", "-o", "json", env=_env(tmp_path, STREAMVERSE_PLUGIN_PATH="nowhere"))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["searched"] == ["nowhere"]
    assert data["errors"] == ["nowhere: plugin directory does not exist"]


def test_the_example_plugin_verb_works_with_plugin_dir(checkout: Path, tmp_path: Path) -> None:
    out = ctl(checkout, "--plugin-dir", str(REPO / "plugins"), "maintenance-windows", "-i", "inventories/demo",
              "-o", "json", env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["windows"] == []
