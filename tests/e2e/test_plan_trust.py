"""What was shown and confirmed is what is applied (issue 8, items 1 and 2), through the installed CLI.

- A plan made before the lock is never applied after it: waiters plan under the lock, and any plan
  that was not made under the current hold is re-checked against the state as it is now.
- A saved plan applies exactly what it shows or nothing: an edited file, a file whose digest was
  recomputed, a plan made from another inventory or against another state are refused before any
  write, saying what differs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .test_cli import ALL_CHANGES, CLI, WWW_US_EAST, no_traceback

pytestmark = pytest.mark.slow


def sim_actual(cli: CLI) -> dict[str, dict]:  # type: ignore[type-arg]
    """What the sim platform holds now (read as any plan reads it): resource id -> spec."""
    from streamverse_ctl.engine.workspace import Workspace

    ws = Workspace(cli.inventory, state_dir=cli.state, platform="sim")
    try:
        return {r.id: dict(r.spec) for r in ws.read_actual()}
    finally:
        ws.close()


def sim_weight(cli: CLI, rid: str = WWW_US_EAST) -> int:
    return int(sim_actual(cli)[rid]["weight"])


def sim_pops(cli: CLI) -> int:
    return sum(rid.startswith("cdn.pop/") for rid in sim_actual(cli))


def test_concurrent_applies_each_plan_under_the_lock(cli: CLI) -> None:
    """Three applies started together: one applies the 73 changes, the waiters find nothing left."""
    cli.ok("sim", "faults", "--write-delay", "0.02")  # ~1.5 s of writes: the other two wait for the lock
    procs = [subprocess.Popen(cli.cmd("apply", "--platform", "sim", "--auto-approve", "--lock-timeout", "60"),
                              cwd=cli.cwd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for _ in range(3)]
    outs = [(p.wait(timeout=180), *p.communicate()) for p in procs]
    assert [rc for rc, _, _ in outs] == [0, 0, 0], outs
    applying = [o for _, o, _ in outs if f"Applied {ALL_CHANGES} change(s)" in o]
    assert len(applying) == 1, outs
    assert sum("No changes" in o for _, o, _ in outs) == 2, outs
    runs = cli.json("state", "journal")
    assert isinstance(runs, list) and len([r for r in runs if r["kind"] == "apply"]) == 1


def test_a_plan_made_before_a_failover_is_refused_not_applied(applied: CLI) -> None:
    """In process, as a waiting apply had it: plan, then a failover lands, then the old plan is applied."""
    from streamverse_ctl.core.errors import StalePlan
    from streamverse_ctl.engine import overrides as ov
    from streamverse_ctl.engine.apply import apply_plan
    from streamverse_ctl.engine.workspace import Workspace

    cli = applied
    cli.ok("sim", "drift", WWW_US_EAST, "weight=50")  # something for the early plan to "repair"
    early = Workspace(cli.inventory, state_dir=cli.state, platform="sim")
    failover = Workspace(cli.inventory, state_dir=cli.state, platform="sim")
    try:
        plan = early.plan()
        assert any(c.id == WWW_US_EAST and (c.after or {}).get("weight") == 30 for c in plan.changes)
        # meanwhile: an SRE takes us-east out (what `failover` and `dns set-weights` do)
        ov.apply_staged(failover, ["TrafficPolicy/www"], purpose="failover", verify=False, stage=lambda: ov.stage(
            failover, "TrafficPolicy", "www", ov.weights_merge(failover, "www", {"us-east": 0, "us-west": 50}),
            "incident"))
        with pytest.raises(StalePlan) as err:
            apply_plan(early, plan, verify=False)
        assert "nothing was changed" in str(err.value) and WWW_US_EAST in str(err.value)
    finally:
        early.close()
        failover.close()
    assert sim_weight(cli) == 0  # the failover stays done
    audit = cli.json("state", "audit", "-n", "20")
    assert isinstance(audit, list)
    assert any(e["result"] == "refused" and e["detail"].get("reason") == "stale plan" for e in audit), audit


def test_set_weights_then_a_waiting_apply_keeps_the_override(applied: CLI) -> None:
    cli = applied
    cli.ok("dns", "set-weights", "www", "us-east=0", "us-west=50", "-m", "incident", "--platform", "sim", "--yes")
    out = cli.ok("apply", "--platform", "sim", "--auto-approve", "--lock-timeout", "30")
    assert "No changes" in out.stdout
    assert sim_weight(cli) == 0


# ----- saved plans -------------------------------------------------------------------------------
@pytest.fixture
def saved(applied: CLI) -> tuple[CLI, Path]:
    cli = applied
    cli.ok("sim", "drift", WWW_US_EAST, "weight=15")
    plan_file = cli.cwd / "plan.json"
    cli.ok("plan", "--platform", "sim", "--out", str(plan_file))
    return cli, plan_file


def apply_file(cli: CLI, plan_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli.cmd("apply", str(plan_file), "--auto-approve", inv=False), *extra],
                          cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def edit(plan_file: Path, how: str) -> None:
    data = json.loads(plan_file.read_text())
    [change] = [c for c in data["changes"] if c["id"] == WWW_US_EAST]
    if how == "weight":
        change["after"]["weight"] = 99
    elif how == "hidden-field":
        change["after"]["ttl"] = 1  # not one of the fields the table shows
    elif how == "added-delete":
        data["changes"].append({**change, "id": "cdn.pop/nyc1", "action": "delete", "type": "cdn.pop",
                                "name": "nyc1", "after": None, "fields": []})
    plan_file.write_text(json.dumps(data, indent=2))


@pytest.mark.parametrize("how", ["weight", "hidden-field", "added-delete"])
def test_an_edited_saved_plan_is_refused(saved: tuple[CLI, Path], how: str) -> None:
    cli, plan_file = saved
    edit(plan_file, how)
    out = apply_file(cli, plan_file, "-i", str(cli.inventory))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "plan file was modified after `plan --out` saved it" in out.stderr
    no_traceback(out)
    assert sim_weight(cli) == 15  # nothing was applied


def test_a_saved_plan_with_a_recomputed_digest_is_still_refused(saved: tuple[CLI, Path]) -> None:
    """An adversary who also fixes the digest: the state backend remembers what `plan --out` saved."""
    from streamverse_ctl.engine.plan import Plan, _content_digest

    cli, plan_file = saved
    edit(plan_file, "weight")
    data = json.loads(plan_file.read_text())
    data["digest"] = _content_digest({k: data[k] for k in Plan([], "")._content()})
    plan_file.write_text(json.dumps(data))
    out = apply_file(cli, plan_file, "-i", str(cli.inventory))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "differs from the plan `plan --out` recorded" in out.stderr and "nothing was changed" in out.stderr
    assert sim_weight(cli) == 15


def test_a_refused_saved_plan_stays_refused_when_its_refusals_are_cleared(applied: CLI) -> None:
    cli = applied
    pops = cli.inventory / "pops.yaml"
    pops.write_text("---\n".join(pops.read_text().split("---\n")[:7]))  # 5 of 12 PoPs: change-size refuses
    plan_file = cli.cwd / "plan.json"
    cli("plan", "--platform", "sim", "--out", str(plan_file))
    data = json.loads(plan_file.read_text())
    assert {r["name"] for r in data["refusals"]} == {"change-size"}
    out = apply_file(cli, plan_file, "-i", str(cli.inventory))
    assert out.returncode == 3 and "change-size" in out.stderr, out.stdout + out.stderr
    data["refusals"], data["safe"] = [], True
    plan_file.write_text(json.dumps(data))
    out = apply_file(cli, plan_file, "-i", str(cli.inventory))
    assert out.returncode == 1 and "plan file was modified" in out.stderr, out.stdout + out.stderr
    assert sim_pops(cli) == 12  # the 5 PoPs dropped from the inventory were not deleted
    assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 2  # the deletes are still pending


def test_a_plan_from_another_inventory_is_refused(saved: tuple[CLI, Path]) -> None:
    cli, plan_file = saved
    other = cli.inventory.parent / "other"
    subprocess.run(["cp", "-r", str(cli.inventory), str(other)], check=True)
    pops = other / "pops.yaml"
    pops.write_text("---\n".join(pops.read_text().split("---\n")[:10]))  # 3 PoPs fewer
    made = cli("plan", "--platform", "sim", "-i", str(other), "--out", str(plan_file), inv=False)
    assert made.returncode == 0 and '"action": "delete"' in plan_file.read_text(), made.stdout + made.stderr
    out = apply_file(cli, plan_file, "-i", str(cli.inventory))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "inventory: the plan was made from" in out.stderr and str(other.resolve()) in out.stderr
    no_traceback(out)
    assert sim_pops(cli) == 12  # the plan from the other inventory would have deleted 3


def test_a_plan_saved_against_another_state_is_refused(saved: tuple[CLI, Path], tmp_path: Path) -> None:
    cli, plan_file = saved
    other_state = tmp_path / "other-state"
    other_state.mkdir()
    env = {**cli.env, "STREAMVERSE_STATE_DIR": str(other_state)}
    out = subprocess.run([*cli.cmd("apply", str(plan_file), "--auto-approve", inv=False), "-i", str(cli.inventory)],
                         cwd=cli.cwd, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "was not saved against this state" in out.stderr


def test_an_unmodified_saved_plan_applies_exactly_what_it_shows(saved: tuple[CLI, Path]) -> None:
    cli, plan_file = saved
    out = apply_file(cli, plan_file, "-i", str(cli.inventory))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Applied 1 change(s)" in out.stdout
    assert sim_weight(cli) == 30


def test_apply_json_reports_a_no_op(applied: CLI) -> None:
    data = applied.json("apply", "--platform", "sim", "--auto-approve")
    assert isinstance(data, dict) and data["applied"] == 0 and data["run_id"] == ""
