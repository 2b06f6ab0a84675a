"""Plugins from a named plugin directory: listed with their origin, their kind validates, broken plugins
are reported.

These run the installed CLI in a subprocess: plugin discovery happens once per process. The shipped
./plugins directory is named with STREAMVERSE_PLUGIN_PATH (it is never loaded implicitly).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "example_maintenance_window.py"

WINDOW = """\
apiVersion: streamverse.io/v1
kind: MaintenanceWindow
metadata: {name: fra-power}
spec:
  regions: [eu-west]
  pops: [fra1]
  start: "2025-03-02T01:00:00Z"
  duration: 3h
  reason: Colocation power work in Frankfurt
  ticket: CHG-1234
"""


def _ctl() -> list[str]:
    exe = Path(sys.executable).with_name("streamverse")
    return [str(exe), "ctl"] if exe.exists() else [sys.executable, "-m", "streamverse_ctl", "ctl"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVERSE_")}
    env["COLUMNS"] = "250"  # rich wraps long paths at the default 80 columns
    env["STREAMVERSE_PLUGIN_PATH"] = str(REPO / "plugins")
    env.update(extra)
    return env


def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_ctl(), *args], cwd=cwd, env=env or _env(), capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def window_inventory(tmp_path: Path) -> Path:
    """A copy of base + demo with a MaintenanceWindow document added to the demo overlay."""
    inv = tmp_path / "inventories"
    for name in ("base", "demo"):
        shutil.copytree(REPO / "inventories" / name, inv / name)
    (inv / "demo" / "maintenance.yaml").write_text(WINDOW, encoding="utf-8")
    return inv / "demo"


def _entries(data: dict[str, Any], registry: str) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in data["entries"] if e["registry"] == registry}


def test_plugins_list_shows_the_example_plugin_with_its_file_as_origin() -> None:
    out = run("plugins", "list", "-o", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["errors"] == []
    assert str(REPO / "plugins") in data["pluginDirs"]
    added = {("kinds", "MaintenanceWindow"), ("actions", "maintenance-window-open"),
             ("verbs", "maintenance-windows")}
    for registry, name in added:
        entry = _entries(data, registry)[name]
        assert entry["origin"] == str(PLUGIN), entry
        assert entry["loaded"] is True
        assert entry["target"].startswith("streamverse_plugin_example_maintenance_window:")
    builtin = _entries(data, "kinds")["PoP"]
    assert builtin["origin"] == "builtin"
    assert builtin["target"] == "streamverse_ctl.inventory.models:PoPSpec"
    assert _entries(data, "providers")["sim"]["origin"] == "builtin"


def test_plugins_list_table_and_yaml_and_load() -> None:
    table = run("plugins", "list")
    assert table.returncode == 0, table.stderr
    assert "MaintenanceWindow" in table.stdout and "plugins/example_maintenance_window.py" in table.stdout
    loaded = run("plugins", "list", "-o", "json", "--load", "-r", "kinds")
    assert loaded.returncode == 0, loaded.stderr
    kinds = json.loads(loaded.stdout)["entries"]
    assert {e["registry"] for e in kinds} == {"kinds"}
    assert all(e["loaded"] and e["error"] is None for e in kinds)
    yml = run("plugins", "list", "-o", "yaml", "-r", "verbs")
    assert yml.returncode == 0 and "maintenance-windows" in yml.stdout
    bad = run("plugins", "list", "-r", "widgets")
    assert bad.returncode != 0 and "unknown registry widgets" in (bad.stderr + bad.stdout)


def test_maintenance_window_validates_with_the_plugin_and_is_unknown_without(
        window_inventory: Path, tmp_path: Path) -> None:
    out = run("validate", "-i", str(window_inventory), "-o", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["documents"]["MaintenanceWindow"] == 1
    (tmp_path / "state").mkdir()  # an explicit --state-dir must exist
    plan = run("plan", "-i", str(window_inventory), "--state-dir", str(tmp_path / "state"), "-o", "json")
    assert plan.returncode == 0, plan.stderr  # the kind compiles to no resource, so plan is unaffected
    # without the plugin directory named, the kind does not exist (even from the repository root)
    unnamed = _env()
    del unnamed["STREAMVERSE_PLUGIN_PATH"]
    elsewhere = run("validate", "-i", str(window_inventory), env=unnamed)
    assert elsewhere.returncode == 1
    assert "unknown kind 'MaintenanceWindow'" in elsewhere.stderr
    # --plugin-dir names it just as well
    flag = run("--plugin-dir", str(REPO / "plugins"), "validate", "-i", str(window_inventory), cwd=tmp_path,
               env=unnamed)
    assert flag.returncode == 0, flag.stderr


@pytest.mark.parametrize("change, message", [
    (("reason: Colocation", "reasn: Colocation"), "unknown field 'reasn'"),
    (("duration: 3h", "duration: three hours"), "is not a duration"),
    (('start: "2025-03-02T01:00:00Z"', 'start: "2025-03-02T01:00:00"'), "timezone"),
])
def test_a_broken_maintenance_window_is_reported_with_its_field(window_inventory: Path, change: tuple[str, str],
                                                                 message: str) -> None:
    path = window_inventory / "maintenance.yaml"
    path.write_text(WINDOW.replace(*change), encoding="utf-8")
    out = run("validate", "-i", str(window_inventory))
    assert out.returncode == 1
    assert message in out.stderr and "maintenance.yaml" in out.stderr, out.stderr


def test_the_plugin_verb_and_action(window_inventory: Path) -> None:
    out = run("maintenance-windows", "-i", str(window_inventory), "--at", "2025-03-02T02:30:00Z", "-o", "json")
    assert out.returncode == 0, out.stderr
    (window,) = json.loads(out.stdout)["windows"]
    assert window["name"] == "fra-power" and window["state"] == "active"
    assert window["end"] == "2025-03-02T04:00:00+00:00"
    later = run("maintenance-windows", "-i", str(window_inventory), "--at", "2025-03-02T05:00:00Z", "-o", "json")
    assert json.loads(later.stdout)["windows"][0]["state"] == "past"
    script = textwrap.dedent(f"""
        import json
        from streamverse_ctl.core.registry import actions
        action = actions.get("maintenance-window-open")
        inv = {str(window_inventory)!r}
        print(json.dumps([action(None, inventory=inv, region="eu-west", at="2025-03-02T02:00:00Z"),
                          action(None, inventory=inv, pop="lhr1", at="2025-03-02T02:00:00Z"),
                          action(None, inventory=inv, region="eu-west", at="2025-03-01T00:00:00Z")]))
    """)
    res = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=_env(), capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    inside, other_pop, before = json.loads(res.stdout)
    assert inside["open"] is True and inside["windows"] == ["fra-power"]
    assert other_pop["open"] is False
    assert before["open"] is False


def test_plugin_kinds_appear_in_the_schema() -> None:
    out = run("schema")
    assert out.returncode == 0, out.stderr
    schema = json.loads(out.stdout)
    assert "MaintenanceWindow" in schema["properties"]["kind"]["enum"]
    import yaml

    validator = jsonschema.Draft202012Validator(schema)
    doc = yaml.safe_load(WINDOW)
    assert list(validator.iter_errors(doc)) == []
    doc["spec"]["reasn"] = doc["spec"].pop("reason")
    messages = [e.message for e in validator.iter_errors(doc)]
    assert any("reasn" in m for m in messages), messages


def test_a_broken_plugin_is_reported_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "extra-plugins"
    broken.mkdir()
    (broken / "raises.py").write_text("raise RuntimeError('plugin exploded on import')\n", encoding="utf-8")
    (broken / "syntax.py").write_text("def oops(:\n", encoding="utf-8")
    (broken / "_private.py").write_text("raise SystemExit('never imported')\n", encoding="utf-8")
    env = _env(STREAMVERSE_PLUGIN_PATH=os.pathsep.join([str(broken), str(REPO / "plugins")]))
    out = run("plugins", "list", "-o", "json", env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    errors = data["errors"]
    assert len(errors) == 2, errors
    assert any(e.startswith(str(broken / "raises.py")) and "RuntimeError: plugin exploded" in e for e in errors)
    assert any(e.startswith(str(broken / "syntax.py")) and "SyntaxError" in e for e in errors)
    assert str(broken.resolve()) in data["pluginDirs"]
    assert "MaintenanceWindow" in _entries(data, "kinds")  # the good plugin still loads
    table = run("plugins", "list", env=env)
    assert table.returncode == 0 and "plugin exploded on import" in table.stdout
    # the rest of the tool keeps working
    valid = run("validate", "-i", "inventories/demo", env=env)
    assert valid.returncode == 0, valid.stderr
