"""`show PLANFILE` and `-l/--selector` (issue 12, section 5), through the installed CLI on the demo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .test_cli import ALL_CHANGES, CLI, no_traceback

pytestmark = pytest.mark.slow


def change_ids(cli: CLI, *args: str) -> list[str]:
    data = cli.json("plan", "--platform", "sim", *args)
    assert isinstance(data, dict)
    return [c["id"] for c in data["changes"]]


def test_show_renders_a_saved_plan_without_inventory_state_or_providers(cli: CLI, tmp_path: Path) -> None:
    planfile = tmp_path / "plan.json"
    cli.ok("plan", "--platform", "sim", "--out", str(planfile))
    saved = json.loads(planfile.read_text())
    # nothing but the file is left: no inventory, no state backend (show must read neither)
    shutil.rmtree(cli.inventory.parent)
    shutil.rmtree(cli.state)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli.cwd = elsewhere

    out = cli("show", str(planfile), inv=False)
    assert out.returncode == 0, out.stderr
    no_traceback(out)
    assert f"Saved plan {saved['id']}, made {saved['created_at']}" in out.stdout
    assert f"Plan: {ALL_CHANGES} to create, 0 to update, 0 to delete." in out.stdout

    out = cli("show", str(planfile), "-o", "json", inv=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == saved

    out = cli("show", str(planfile), "-o", "markdown", inv=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"### StreamVerse plan `{saved['id']}`")
    assert f"**{ALL_CHANGES}** to create" in out.stdout and "| `+` | `cdn.pop/nyc1` | sim |" in out.stdout

    import yaml

    out = cli("show", str(planfile), "-o", "yaml", inv=False)
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout)["id"] == saved["id"]


def test_show_refuses_a_modified_or_missing_plan_file(cli: CLI, tmp_path: Path) -> None:
    planfile = tmp_path / "plan.json"
    cli.ok("plan", "--platform", "sim", "--out", str(planfile))
    data = json.loads(planfile.read_text())
    data["changes"][0]["after"]["cache_tb"] = 1
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    out = cli("show", str(edited), inv=False)
    assert out.returncode == 1
    no_traceback(out)
    assert f"{edited}: plan file was modified after `plan --out` saved it" in out.stderr
    out = cli("show", str(tmp_path / "nope.json"), inv=False)
    assert out.returncode == 1 and "cannot read plan file" in out.stderr
    no_traceback(out)


def test_selector_equality_is_and_across_options_and_commas(cli: CLI) -> None:
    assert sorted(change_ids(cli, "-l", "region=us-east", "-l", "tier=core")) == ["cdn.pop/iad1", "cdn.pop/nyc1"]
    assert sorted(change_ids(cli, "--selector", "tier==core,region=eu-west")) == ["cdn.pop/fra1", "cdn.pop/lhr1"]
    assert sorted(change_ids(cli, "-l", "continent=na")) == ["platform.region/us-east", "platform.region/us-west"]


def test_selector_inequality_and_existence_as_in_kubectl(cli: CLI) -> None:
    every = change_ids(cli)
    assert len(every) == ALL_CHANGES
    # != also matches documents without the label (everything but the two North American regions)
    assert change_ids(cli, "-l", "continent!=na") == [
        c for c in every if c not in ("platform.region/us-east", "platform.region/us-west")]
    assert sorted(change_ids(cli, "-l", "continent")) == sorted(c for c in every if c.startswith("platform.region/"))
    assert change_ids(cli, "-l", "!tier") == [c for c in every if not c.startswith("cdn.pop/")]


def test_get_with_selector(cli: CLI) -> None:
    rows = cli.json("get", "pops", "--platform", "sim", "-l", "region=eu-west")
    assert isinstance(rows, list) and sorted(r["name"] for r in rows) == ["fra1", "lhr1"]
    rows = cli.json("get", "regions", "--platform", "sim", "-l", "continent!=na,continent!=eu")
    assert isinstance(rows, list) and sorted(r["name"] for r in rows) == ["ap-pacific", "me-central", "sa-east"]
    assert cli.json("get", "pops", "--platform", "sim", "-l", "region=nowhere") == []


def test_a_saved_plan_keeps_its_selection_through_the_recheck_under_the_lock(cli: CLI, tmp_path: Path) -> None:
    planfile = tmp_path / "na.json"
    cli.ok("plan", "--platform", "sim", "-l", "continent=na", "--out", str(planfile))
    assert json.loads(planfile.read_text())["targets"] == ["Region/us-east", "Region/us-west"]
    out = cli.ok("apply", str(planfile), "--auto-approve")
    assert "Applied 2 change(s)" in out.stdout
    left = change_ids(cli)
    assert len(left) == ALL_CHANGES - 2 and not any(c.startswith("platform.region/us-") for c in left)
    out = cli.ok("apply", "--platform", "sim", "-l", "region=sa-east", "--auto-approve")
    assert "Applied 2 change(s)" in out.stdout
    assert len(change_ids(cli)) == ALL_CHANGES - 4


def test_bad_selectors_are_all_named_at_once(cli: CLI, tmp_path: Path) -> None:
    out = cli("plan", "--platform", "sim", "-l", "tier in (core)", "-l", "=x,a=b=c,")
    assert out.returncode == 1
    no_traceback(out)
    err = " ".join(out.stderr.split())
    for part in ("'tier in (core)': 'tier in (core)' is not a label key", "'=x' in '=x,a=b=c,': no label key",
                 "'b=c' is not a label value", "empty requirement"):
        assert part in err, err
    out = cli("plan", "--platform", "sim", "-l", "tier=nosuch")
    assert out.returncode == 1
    no_traceback(out)
    assert "no inventory document has labels matching 'tier=nosuch'; nothing was planned" in out.stderr
    out = cli("plan", "--platform", "sim", "-l", "tier=core", "--target", "PoP/*")
    assert out.returncode == 1 and "--target and --selector cannot be combined" in " ".join(out.stderr.split())
    planfile = tmp_path / "p.json"
    cli.ok("plan", "--platform", "sim", "--out", str(planfile))
    out = cli("apply", str(planfile), "-l", "tier=core", "--auto-approve")
    assert out.returncode == 1 and "a saved plan carries its own selection" in " ".join(out.stderr.split())
    no_traceback(out)
