"""The CI recipes in examples/ci run as written: the pull request's plan, then the merge's apply of
that saved plan, converge (issue 12, section 5).

Both files are parsed with yaml.safe_load; the `streamverse ctl ...` lines of the plan job and of
the apply job are extracted in order and run through a shell, as the CI runner would, on the sim
platform with a local state directory (the shared state backend of STREAMVERSE_STATE_URL is not
reached here). Steps that talk to GitHub or GitLab (comments, artifact transfer) are simulated:
only plan.json is carried from the plan job to the apply job.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .test_cli import ALL_CHANGES, EXE

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"
GITHUB = EXAMPLES / "github" / "streamverse.yml"
GITLAB = EXAMPLES / "gitlab" / ".gitlab-ci.yml"

PLAN_JOB = ["streamverse ctl validate", "streamverse ctl plan --out plan.json -o markdown > plan.md"]
APPLY_JOB = ["streamverse ctl show plan.json", "streamverse ctl apply plan.json --auto-approve",
             "streamverse ctl plan --detailed-exitcode"]


def ctl_lines(scripts: list[str]) -> list[str]:
    """The `streamverse ctl` command lines of shell scripts, in order (continuations joined)."""
    out = []
    for script in scripts:
        for line in script.replace("\\\n", " ").splitlines():
            line = " ".join(line.split())
            if line.startswith("streamverse ctl "):
                out.append(line)
    return out


def github_jobs() -> tuple[dict[str, Any], dict[str, list[str]]]:
    wf = yaml.safe_load(GITHUB.read_text())
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert set(triggers) == {"pull_request", "push"}
    jobs = wf["jobs"]
    assert jobs["plan"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["apply"]["if"] == "github.event_name == 'push'"
    assert wf["env"]["STREAMVERSE_STATE_URL"] == "${{ secrets.STREAMVERSE_STATE_URL }}"
    uploads = [s for s in jobs["plan"]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["with"]["path"] == "plan.json"
    comment = next(s["run"] for s in jobs["plan"]["steps"] if "gh pr comment" in s.get("run", ""))
    assert "<details>" in comment and "cat plan.md" in comment
    return wf["env"], {name: ctl_lines([s["run"] for s in jobs[name]["steps"] if "run" in s])
                       for name in ("plan", "apply")}


def gitlab_jobs() -> tuple[dict[str, Any], dict[str, list[str]]]:
    ci = yaml.safe_load(GITLAB.read_text())
    assert ci["stages"] == ["plan", "apply"]
    assert ci["plan"]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert ci["apply"]["rules"][0]["if"] == "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
    assert "plan.json" in ci["plan"]["artifacts"]["paths"]
    assert any("<details>" in s and "/notes" in s for s in ci["plan"]["script"])
    return ci["variables"], {name: ctl_lines(ci[name]["script"]) for name in ("plan", "apply")}


@pytest.mark.parametrize("recipe", [github_jobs, gitlab_jobs], ids=["github", "gitlab"])
def test_pull_request_plan_then_merge_apply_converge(recipe: Any, inventories_copy: Path, tmp_path: Path) -> None:
    variables, jobs = recipe()
    assert jobs == {"plan": PLAN_JOB, "apply": APPLY_JOB}, jobs
    assert EXE, "the streamverse console script is not installed (pip install -e .)"

    checkout = tmp_path / "checkout"  # the repository as the runner checks it out
    checkout.mkdir()
    shutil.copytree(inventories_copy, checkout / "inventories")
    state = tmp_path / "state"
    state.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVERSE_")}
    env.update({k: str(v) for k, v in variables.items() if k != "STREAMVERSE_STATE_URL"})
    env.update(STREAMVERSE_INVENTORY="inventories/demo", STREAMVERSE_PLATFORM="sim", STREAMVERSE_STATE_DIR=str(state),
               STREAMVERSE_USER="ci", PATH=f"{Path(EXE).parent}{os.pathsep}{env.get('PATH', '')}", CI="true",
               NO_COLOR="1", COLUMNS="200")

    def run(line: str) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["bash", "-eo", "pipefail", "-c", line], cwd=checkout, env=env, capture_output=True,
                             text=True, timeout=180, stdin=subprocess.DEVNULL)
        assert "Traceback" not in out.stderr, out.stderr
        return out

    # the pull request
    for line in jobs["plan"]:
        out = run(line)
        assert out.returncode == 0, (line, out.stdout, out.stderr)
    comment = (checkout / "plan.md").read_text()
    assert comment.startswith("### StreamVerse plan `") and f"**{ALL_CHANGES}** to create" in comment
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    shutil.move(checkout / "plan.json", artifact / "plan.json")
    (checkout / "plan.md").unlink()

    # the merge: a fresh job that downloaded the artifact
    shutil.copy(artifact / "plan.json", checkout / "plan.json")
    show, apply, check = (run(line) for line in jobs["apply"])
    assert show.returncode == 0 and f"Plan: {ALL_CHANGES} to create, 0 to update, 0 to delete." in show.stdout
    plan_id = comment.split("`")[1]
    assert f"Saved plan {plan_id}" in show.stdout
    assert apply.returncode == 0, (apply.stdout, apply.stderr)
    assert f"Applied {ALL_CHANGES} change(s)" in apply.stdout
    assert check.returncode == 0 and "No changes." in check.stdout, (check.stdout, check.stderr)


def test_the_merge_refuses_a_plan_the_state_no_longer_gives(inventories_copy: Path, tmp_path: Path) -> None:
    """Two pull requests planned against the same state: after the first one's apply, the second
    one's saved plan is refused by its apply job (exit 1, nothing written) instead of undoing it."""
    _, jobs = github_jobs()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVERSE_")}
    state = tmp_path / "state"
    state.mkdir()
    env.update(STREAMVERSE_INVENTORY=str(inventories_copy / "demo"), STREAMVERSE_PLATFORM="sim",
               STREAMVERSE_STATE_DIR=str(state), PATH=f"{Path(str(EXE)).parent}{os.pathsep}{env.get('PATH', '')}",
               CI="true", NO_COLOR="1")
    first, second = tmp_path / "first", tmp_path / "second"
    for d in (first, second):
        d.mkdir()
        subprocess.run(["bash", "-c", jobs["plan"][1]], cwd=d, env=env, check=True, capture_output=True, timeout=180)
    apply_line = jobs["apply"][1]
    ok = subprocess.run(["bash", "-c", apply_line], cwd=first, env=env, capture_output=True, text=True, timeout=180)
    assert ok.returncode == 0, ok.stderr
    late = subprocess.run(["bash", "-c", apply_line], cwd=second, env=env, capture_output=True, text=True, timeout=180)
    assert late.returncode == 1 and "Traceback" not in late.stderr
    assert "is not what would be applied now" in late.stderr and "run plan again" in late.stderr
