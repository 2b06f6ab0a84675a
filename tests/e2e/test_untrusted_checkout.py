"""End to end: an untrusted checkout (inventory, ./plugins, runbooks) runs no code and reads no file outside it.

Each test runs the installed ``streamverse`` script in a working directory that holds a hostile
checkout: a ``./plugins/evil.py`` that writes a marker file when imported, inventories that point
``extends`` / ``fromFile`` outside themselves, names that are paths.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
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
    (tmp_path / "state").mkdir(exist_ok=True)  # an explicit state dir must exist
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


# ----- files outside the checkout -------------------------------------------------------------------
class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers))
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


POWERDNS = """\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: pdns}}
spec:
  type: powerdns
  serves: {{types: ["dns.*"]}}
  settings:
    apiUrl: {url}
    zone: streamverse.example.
    apiKey: {{fromFile: {path}}}
"""


@pytest.mark.parametrize("how", ["absolute", "symlink"])
def test_plan_never_reads_or_sends_a_file_outside_the_checkout(checkout: Path, tmp_path: Path, how: str,
                                                              listener: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = listener
    creds = tmp_path / "home" / ".aws" / "credentials"
    creds.parent.mkdir(parents=True)
    creds.write_text("aws_secret_access_key=AKIA-E2E-NEVER-SENT\n")
    path = str(creds)
    if how == "symlink":
        (checkout / "inventories" / "demo" / "pdns.key").symlink_to(creds)
        path = "pdns.key"
    (checkout / "inventories" / "demo" / "pdns.yaml").write_text(POWERDNS.format(url=url, path=path))
    out = ctl(checkout, "plan", "-i", "inventories/demo", env=_env(tmp_path))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "inventories/demo/pdns.yaml:10: Provider/pdns: spec.settings.apiKey.fromFile:" in out.stderr
    assert "is outside the inventory root and the secrets directories" in out.stderr
    assert "AKIA" not in out.stdout + out.stderr
    assert seen == []  # nothing reached the inventory's apiUrl
    # named as a secrets directory, the same file is allowed (plan then talks to the server)
    allowed = ctl(checkout, "--secrets-dir", str(creds.parent), "validate", "-i", "inventories/demo",
                  env=_env(tmp_path))
    assert allowed.returncode == 0, allowed.stderr


def test_extends_etc_is_a_validation_problem_with_the_way_out(checkout: Path, tmp_path: Path) -> None:
    inv = checkout / "inventories" / "demo" / "inventory.yaml"
    inv.write_text(inv.read_text().replace("extends: ../base", "extends: /etc"))
    out = ctl(checkout, "validate", "-i", "inventories/demo", env=_env(tmp_path))
    assert out.returncode == 1
    assert "inventories/demo/inventory.yaml:7: Inventory/demo: spec.extends: extends leads outside the inventory " \
           "root inventories (to /etc)" in out.stderr, out.stderr
    assert "--inventory-root" in out.stderr and "Traceback" not in out.stderr
    # an inventories/ copied anywhere keeps working with no flag (the root is the parent of -i)
    inv.write_text(inv.read_text().replace("extends: /etc", "extends: ../base"))
    assert ctl(checkout / "inventories", "validate", "-i", "demo", env=_env(tmp_path)).returncode == 0


def test_a_pop_named_like_a_path_is_refused_before_any_runbook_writes(checkout: Path, tmp_path: Path) -> None:
    pops = checkout / "inventories" / "demo" / "pops.yaml"
    pops.write_text(pops.read_text().replace("name: nyc1", "name: ../../../tmp/x", 1))
    out = ctl(checkout, "validate", "-i", "inventories/demo", env=_env(tmp_path))
    assert out.returncode == 1
    assert "metadata.name: '../../../tmp/x' is not a DNS label" in out.stderr, out.stderr
    run = ctl(checkout, "runbook", "run", "viral-content", "-i", "inventories/demo", "--set", "video=clip1", "--yes",
              env=_env(tmp_path))
    assert run.returncode == 1 and "is not a DNS label" in run.stderr
    assert not list(tmp_path.rglob("nginx.conf"))


def test_inventory_root_flag_and_env_allow_a_base_outside_the_parent(checkout: Path, tmp_path: Path) -> None:
    shutil.copytree(checkout / "inventories" / "base", tmp_path / "shared-base")
    inv = checkout / "inventories" / "demo" / "inventory.yaml"
    inv.write_text(inv.read_text().replace("extends: ../base", "extends: ../../shared-base"))
    refused = ctl(checkout, "validate", "-i", "inventories/demo", env=_env(tmp_path))
    assert refused.returncode == 1 and "extends leads outside the inventory root" in refused.stderr
    flag = ctl(checkout, "--inventory-root", str(tmp_path), "validate", "-i", "inventories/demo", env=_env(tmp_path))
    assert flag.returncode == 0, flag.stderr
    env = ctl(checkout, "validate", "-i", "inventories/demo",
              env=_env(tmp_path, STREAMVERSE_INVENTORY_ROOT=str(tmp_path)))
    assert env.returncode == 0, env.stderr
