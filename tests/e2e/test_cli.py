"""End to end: the installed `streamverse` console script, run as a user would, against the sim platform.

Exit codes: 0 ok, 1 error, 2 changes pending (plan --detailed-exitcode), 3 guardrail or lock.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent / "streamverse"
EXE = str(BIN) if BIN.exists() else shutil.which("streamverse")
WWW_US_EAST = "dns.record/www.streamverse.example./A/us-east"
ALL_CHANGES = 73  # the demo inventory compiles to 73 resources


class CLI:
    def __init__(self, inventory: Path, state: Path, cwd: Path) -> None:
        self.inventory, self.state, self.cwd = inventory, state, cwd
        state.mkdir(parents=True, exist_ok=True)  # an explicit state location must exist (like `mktemp -d`)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVERSE_")}
        self.env.update(STREAMVERSE_STATE_DIR=str(state), STREAMVERSE_USER="e2e-tester", COLUMNS="250",
                        NO_COLOR="1", CI="true")

    def cmd(self, *args: str, inv: bool = True) -> list[str]:
        assert EXE, "the streamverse console script is not installed (pip install -e .)"
        extra = ["-i", str(self.inventory)] if inv else []
        return [EXE, "ctl", *args, *extra]

    def __call__(self, *args: str, inv: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cmd(*args, inv=inv), cwd=self.cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        out = self(*args)
        assert out.returncode == 0, f"{args} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
        assert "Traceback" not in out.stderr
        return out

    def json(self, *args: str) -> object:
        return json.loads(self.ok(*args, "-o", "json").stdout)


def no_traceback(out: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in out.stderr + out.stdout
    assert "internal error" not in out.stderr


def test_help() -> None:
    out = subprocess.run([EXE or "streamverse", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "ctl" in out.stdout
    out = subprocess.run([EXE or "streamverse", "ctl", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for verb in ("validate", "plan", "apply", "diff", "state", "sim"):
        assert re.search(rf"^\s+{verb}\b", out.stdout, re.M), verb
    out = subprocess.run([EXE or "streamverse", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("streamverse-ctl ")


def test_validate_plan_apply_converges(cli: CLI) -> None:
    out = cli.ok("validate")
    assert "is valid: 31 documents" in out.stdout
    out = cli.ok("plan", "--platform", "sim")
    assert f"Plan: {ALL_CHANGES} to create, 0 to update, 0 to delete." in out.stdout
    assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 2
    out = cli.ok("apply", "--platform", "sim", "--auto-approve")
    assert f"Applied {ALL_CHANGES} change(s)" in out.stdout
    out = cli("plan", "--platform", "sim", "--detailed-exitcode")
    assert out.returncode == 0 and "No changes." in out.stdout
    # the audit log recorded the apply, as the user who ran it
    audit = cli.json("state", "audit")
    assert isinstance(audit, list)
    finish = [e for e in audit if e["action"] == "apply.finish"]
    assert finish and finish[-1]["result"] == "ok" and finish[-1]["who"] == "e2e-tester"


def test_apply_without_approval_and_no_terminal_changes_nothing(cli: CLI) -> None:
    out = cli("apply", "--platform", "sim")
    assert out.returncode == 1 and "--auto-approve" in out.stderr
    assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 2


def test_drift_is_shown_by_diff_and_reverted_by_plan(applied: CLI) -> None:
    cli = applied
    cli.ok("sim", "drift", WWW_US_EAST, "weight=99")
    out = cli("diff", "--platform", "sim", "--detailed-exitcode")
    assert out.returncode == 2, out.stdout + out.stderr
    assert WWW_US_EAST in out.stdout and "99" in out.stdout
    drift = cli.json("diff", "--platform", "sim")
    assert isinstance(drift, dict)
    [d] = drift["drift"]
    assert d["id"] == WWW_US_EAST and d["kind"] == "changed"
    assert {"path": "weight", "applied": 30, "actual": 99} in d["fields"]
    out = cli("plan", "--platform", "sim", "--detailed-exitcode", "-o", "json")
    assert out.returncode == 2
    plan = json.loads(out.stdout)
    [change] = plan["changes"]
    assert change["id"] == WWW_US_EAST and change["action"] == "update"
    assert change["fields"] == [{"path": "weight", "before": 99, "after": 30}]
    assert "outside StreamVerse Control" in change["reason"]
    cli.ok("apply", "--platform", "sim", "--auto-approve")
    assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 0
    assert cli("diff", "--platform", "sim", "--detailed-exitcode").returncode == 0


def test_deleted_out_of_band_is_recreated(applied: CLI) -> None:
    cli = applied
    cli.ok("sim", "drift", "cdn.pop/nyc1", "--delete")
    plan = cli.json("plan", "--platform", "sim")
    assert isinstance(plan, dict)
    assert [(c["action"], c["id"]) for c in plan["changes"]] == [("create", "cdn.pop/nyc1")]


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_lock_held_by_another_process_refuses_with_owner(cli: CLI) -> None:
    env = {**cli.env, "STREAMVERSE_USER": "holder-hank"}
    holder = subprocess.Popen(cli.cmd("state", "lock", "--hold", "60"), cwd=cli.cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (cli.json("state", "lock") or {}).get("lock") is not None,  # type: ignore[union-attr]
                 "the holder to take the lock")
        out = cli("apply", "--platform", "sim", "--auto-approve")
        assert out.returncode == 3, out.stdout + out.stderr
        assert "holder-hank@" in out.stderr and f"pid {holder.pid}" in out.stderr
        no_traceback(out)
        assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 2  # nothing was applied
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: its lock is stale and taken over on this host
    cli.ok("apply", "--platform", "sim", "--auto-approve")


def test_guardrail_refuses_deleting_too_many_pops(applied: CLI) -> None:
    cli = applied
    pops = cli.inventory / "pops.yaml"
    docs = pops.read_text().split("---\n")
    pops.write_text("---\n".join(docs[:7]))  # 5 of 12 PoPs removed: 42 % > 30 %
    out = cli("apply", "--platform", "sim", "--auto-approve")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "change-size" in out.stderr and "5 deletes of 12 existing cdn.pop" in out.stderr
    assert "--force change-size" in out.stderr
    no_traceback(out)
    assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 2  # nothing deleted
    out = cli("apply", "--platform", "sim", "--auto-approve", "--force", "zero-serving")
    assert out.returncode == 1 and "cannot be forced" in out.stderr + out.stdout
    cli.ok("apply", "--platform", "sim", "--auto-approve", "--force", "change-size")
    assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 0


def test_guardrail_refuses_weights_below_min_regions_serving(applied: CLI) -> None:
    cli = applied
    dns = cli.inventory.parent / "base" / "dns.yaml"
    dns.write_text(dns.read_text().replace(
        "weights: {us-east: 30, us-west: 20, eu-west: 20, ap-pacific: 15, sa-east: 8, me-central: 7}",
        "weights: {us-east: 50, us-west: 50, eu-west: 0, ap-pacific: 0, sa-east: 0, me-central: 0}"))
    out = cli("apply", "--platform", "sim", "--auto-approve")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "min-regions" in out.stderr and "minRegionsServing is 3" in out.stderr
    assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 2  # nothing was applied


def test_saved_plan_is_refused_when_actual_state_changed(applied: CLI) -> None:
    cli = applied
    cli.ok("sim", "drift", WWW_US_EAST, "weight=5")
    plan_file = cli.cwd / "plan.json"
    out = cli("plan", "--platform", "sim", "--out", str(plan_file))
    assert out.returncode == 0 and plan_file.exists()
    cli.ok("sim", "drift", WWW_US_EAST, "weight=6")  # actual state moves on after the plan was saved
    out = subprocess.run([EXE or "", "ctl", "apply", str(plan_file), "--auto-approve", "-i", str(cli.inventory)],
                         cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "plan again" in out.stderr
    no_traceback(out)
    # a fresh saved plan applies
    cli.ok("plan", "--platform", "sim", "--out", str(plan_file))
    out = subprocess.run([EXE or "", "ctl", "apply", str(plan_file), "--auto-approve", "-i", str(cli.inventory)],
                         cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 0


def test_plan_json_has_the_documented_keys(cli: CLI) -> None:
    plan = cli.json("plan", "--platform", "sim")
    assert isinstance(plan, dict)
    assert plan["format_version"] == 1
    for key in ("id", "created_at", "inventory", "platform", "targets", "fingerprint", "summary", "changes",
                "refusals", "overrides", "unmanaged", "safe"):
        assert key in plan, key
    assert plan["summary"] == {"create": ALL_CHANGES, "update": 0, "delete": 0} and plan["safe"] is True
    change = plan["changes"][0]
    for key in ("id", "action", "type", "name", "provider", "before", "after", "fields", "reason", "origin"):
        assert key in change, key
    assert change["type"] == "platform.region"  # capacity first
    assert plan["changes"][-1]["type"] == "dns.record"  # traffic last
    assert re.match(r"Region/\S+ \(.*regions\.yaml:\d+\)", change["origin"])


def test_plan_markdown(cli: CLI) -> None:
    out = cli.ok("plan", "--platform", "sim", "-o", "markdown")
    assert out.stdout.startswith("### StreamVerse plan `")
    assert f"**{ALL_CHANGES}** to create" in out.stdout
    assert "| `+` | `platform.region/us-east` | sim |" in out.stdout


def test_target_limits_the_plan(cli: CLI) -> None:
    plan = cli.json("plan", "--platform", "sim", "--target", "TrafficPolicy/www")
    assert isinstance(plan, dict)
    ids = [c["id"] for c in plan["changes"]]
    assert ids and all(i.startswith(("dns.record/www.", "dns.healthcheck/www/")) for i in ids), ids
    plan = cli.json("plan", "--platform", "sim", "--target", "cdn.pop/*", "--target", "Region/us-east")
    assert isinstance(plan, dict)
    assert sorted({c["type"] for c in plan["changes"]}) == ["cdn.pop", "platform.region"]
    assert plan["targets"] == ["cdn.pop/*", "Region/us-east"]
    cli.ok("apply", "--platform", "sim", "--auto-approve", "--target", "TrafficPolicy/api")
    plan = cli.json("plan", "--platform", "sim")
    assert isinstance(plan, dict)
    assert not any(c["id"].startswith("dns.record/api.") for c in plan["changes"])
    assert plan["summary"]["create"] < ALL_CHANGES


def test_bad_inventory_gives_file_line_and_exit_1(cli: CLI) -> None:
    pops = cli.inventory / "pops.yaml"
    text = pops.read_text().replace("cacheTb: 200", "cacheTb: lots", 1).replace("city: Ashburn", "cty: Ashburn")
    pops.write_text(text)
    lines = text.splitlines()
    lots = next(i for i, t in enumerate(lines, 1) if "cacheTb: lots" in t)
    cty = next(i for i, t in enumerate(lines, 1) if "cty: Ashburn" in t)
    for verb in (("validate",), ("plan", "--platform", "sim"), ("apply", "--platform", "sim", "--auto-approve")):
        out = cli(*verb)
        assert out.returncode == 1, verb
        no_traceback(out)
        assert re.search(rf"pops\.yaml:{lots}: PoP/nyc1: spec\.cacheTb:", out.stderr), out.stderr
        assert re.search(rf"pops\.yaml:{cty}: PoP/iad1: spec\.cty: unknown field", out.stderr), out.stderr
    (cli.inventory / "broken.yaml").write_text("kind: PoP\nspec: [unclosed\n")
    out = cli("validate")
    assert out.returncode == 1 and re.search(r"broken\.yaml:\d+: invalid YAML", out.stderr)
    no_traceback(out)


def test_missing_inventory_directory(cli: CLI) -> None:
    out = subprocess.run([EXE or "", "ctl", "validate", "-i", str(cli.cwd / "nowhere")], cwd=cli.cwd,
                         env=cli.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "inventory directory not found" in out.stderr
    no_traceback(out)


def test_kill_9_mid_apply_then_rerun_converges_without_repeating(cli: CLI) -> None:
    # make the first apply slow: the sim platform takes 0.5 s per write, so the ~37 s apply is still running
    # when the poll below (two CLI processes per round, slow on a loaded machine) sees 8 changes done
    cli.ok("sim", "faults", "--write-delay", "0.5")
    proc = subprocess.Popen(cli.cmd("apply", "--platform", "sim", "--auto-approve"), cwd=cli.cwd, env=cli.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    def first_run() -> dict | None:  # type: ignore[type-arg]
        runs = cli.json("state", "journal")
        assert isinstance(runs, list)
        return runs[-1] if runs else None

    def done_items(run_id: str) -> list[str]:
        data = cli.json("state", "journal", run_id)
        assert isinstance(data, dict)
        return [i["item"] for i in data["items"] if i["status"] == "done"]

    try:
        wait_for(lambda: first_run() is not None and len(done_items(first_run()["id"])) >= 8,  # type: ignore[index]
                 "the first apply to finish a few changes")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    run = first_run()
    assert run is not None and run["status"] == "running"  # it never got to say otherwise
    done_before = set(done_items(run["id"]))
    assert 8 <= len(done_before) < ALL_CHANGES
    cli.ok("sim", "faults", "--write-delay", "0")
    # the lock of the killed process is stale: the next apply takes over, re-plans from actual state
    out = cli.ok("apply", "--platform", "sim", "--auto-approve")
    assert "interrupted" in out.stdout
    runs = cli.json("state", "journal")
    assert isinstance(runs, list)
    by_id = {r["id"]: r for r in runs}
    assert by_id[run["id"]]["status"] == "interrupted"
    [second] = [r for r in runs if r["id"] != run["id"]]
    data = cli.json("state", "journal", second["id"])
    assert isinstance(data, dict)
    redone = {i["item"] for i in data["items"]}
    assert not (redone & done_before), "finished changes were applied again"
    assert len(redone) + len(done_before) in (ALL_CHANGES, ALL_CHANGES - 1)  # one may have landed uncommitted
    assert all(i["status"] == "done" for i in data["items"])
    audit = cli.json("state", "audit", "-n", "200")
    assert isinstance(audit, list)
    actions = [e["action"] for e in audit]
    assert "apply.interrupted" in actions and "lock.takeover" in actions
    interrupted = next(e for e in audit if e["action"] == "apply.interrupted")
    assert interrupted["detail"]["done"] == len(done_before)
    assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 0
