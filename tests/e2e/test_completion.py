"""TAB completion (issue 12, section 5): kinds, document names, regions, traffic policies, runbook
names and guardrail names, for both `streamverse ctl` and `streamverse-ctl`, through the installed
scripts as bash's completion function calls them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .test_cli import EXE

CTL = str(Path(str(EXE)).parent / "streamverse-ctl")


def tab(line: str, inventory: Path, cwd: Path, prog: str = "streamverse") -> list[str]:
    """What bash completes for the last word of ``line`` (a trailing space: a new word)."""
    words = line.split() + ([""] if line.endswith(" ") else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMVERSE_", "_STREAMVERSE"))}
    var = "_STREAMVERSE_COMPLETE" if prog == "streamverse" else "_STREAMVERSE_CTL_COMPLETE"
    env.update({var: "complete_bash", "COMP_WORDS": " ".join(words), "COMP_CWORD": str(len(words) - 1),
                "STREAMVERSE_INVENTORY": str(inventory)})
    out = subprocess.run([str(EXE) if prog == "streamverse" else CTL], env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    return out.stdout.split()


REGIONS = ["us-east", "us-west", "eu-west", "ap-pacific", "sa-east", "me-central"]


@pytest.mark.parametrize("prog", ["streamverse", "streamverse-ctl"])
def test_tab_completes_kinds_names_regions_policies_runbooks_guardrails(prog: str, demo_copy: Path,
                                                                         tmp_path: Path) -> None:
    head = "streamverse ctl" if prog == "streamverse" else "streamverse-ctl"

    def t(rest: str) -> list[str]:
        return tab(f"{head} {rest}", demo_copy, tmp_path, prog)

    assert "PoP" in t("get ") and "TrafficPolicy" in t("get ")
    assert t("get po") == ["PoP"]
    assert t("get PoP l") == ["lax1", "lhr1"]
    assert t("describe pops n") == ["nyc1", "nrt1"]
    assert t("failover ") == REGIONS
    assert t("failover us-east --to eu") == ["eu-west"]
    assert t("failover us-east --to us") == ["us-west"]  # not the region being failed over
    assert t("sim fail-region m") == ["me-central"]
    assert t("dns set-weights ") == ["www", "api"]
    shipped = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "runbooks").glob("*.yaml"))
    assert t("runbook run ") == shipped
    assert t("runbook show regional-fa") == ["regional-failback", "regional-failover"]
    assert t("apply --force ") == ["change-size", "min-regions", "unhealthy-region", "adopt", "foreign-state",
                                   "capacity"]
    assert t("failover us-east --force un") == ["unhealthy-region"]
    assert t("plan --target Region/us") == ["Region/us-east", "Region/us-west"]


def test_tab_on_a_broken_inventory_completes_nothing_quietly(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.yaml").write_text("kind: [\n")
    assert tab("streamverse ctl failover ", broken, tmp_path) == []
    assert tab("streamverse ctl get PoP ", tmp_path / "missing", tmp_path) == []


def test_completion_script_names_the_program_it_was_run_as(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("_STREAMVERSE")}
    out = subprocess.run([CTL, "completion", "bash"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "_STREAMVERSE_CTL_COMPLETE=complete_bash" in out.stdout and out.stdout.rstrip().endswith("streamverse-ctl")
    out = subprocess.run([str(EXE), "ctl", "completion", "bash"], env=env, capture_output=True, text=True, timeout=60)
    assert "_STREAMVERSE_COMPLETE=complete_bash" in out.stdout and out.stdout.rstrip().endswith(" streamverse")
