"""`dns clear-override` goes the way `dns set-weights` goes (issue 9 §1): it shows the plan back to the
inventory's weights, asks, runs the guardrails, applies on the sim platform, and only then forgets
the override. Before, it deleted the state row and changed nothing real."""

from __future__ import annotations

import json

import pytest

from .test_cli import CLI, no_traceback
from .test_plan_trust import sim_weight

pytestmark = pytest.mark.slow

US_WEST = "dns.record/www.streamverse.example./A/us-west"


def overrides(cli: CLI) -> list[dict]:  # type: ignore[type-arg]
    data = cli.json("dns", "overrides")
    assert isinstance(data, list)
    return data


def incident(cli: CLI) -> None:
    out = cli("dns", "set-weights", "www", "us-east=0", "us-west=50", "--platform", "sim", "--dry-run", "-o", "json")
    assert out.returncode == 2, out.stdout + out.stderr  # shown, not written
    assert any(c["id"] == "dns.record/www.streamverse.example./A/us-east" for c in json.loads(out.stdout)["changes"])
    assert sim_weight(cli) == 30 and overrides(cli) == []
    cli.ok("dns", "set-weights", "www", "us-east=0", "us-west=50", "--platform", "sim", "--yes", "-m", "incident")
    assert sim_weight(cli) == 0 and sim_weight(cli, US_WEST) == 50


def test_clear_override_plans_asks_applies_then_forgets(applied: CLI) -> None:
    cli = applied
    incident(cli)

    out = cli("dns", "clear-override", "www", "--platform", "sim")  # no terminal, no --yes: nothing written
    assert out.returncode == 1 and "--auto-approve" in out.stderr, out.stdout + out.stderr
    assert "weight" in out.stdout and "30" in out.stdout  # the plan back to the inventory was shown
    out = cli("dns", "clear-override", "www", "--platform", "sim", "--dry-run")
    assert out.returncode == 2 and "nothing was written" in out.stdout, out.stdout + out.stderr
    no_traceback(out)
    assert sim_weight(cli) == 0 and len(overrides(cli)) == 1  # still in force

    out = cli.ok("dns", "clear-override", "www", "--platform", "sim", "--yes")
    assert "Applied 2 change(s)" in out.stdout and "cleared" in out.stdout
    assert sim_weight(cli) == 30 and sim_weight(cli, US_WEST) == 20  # the sim store serves the inventory again
    assert overrides(cli) == []
    assert cli("plan", "--platform", "sim", "--detailed-exitcode").returncode == 0
    audit = cli.json("state", "audit", "-n", "20")
    assert isinstance(audit, list)
    actions = [e["action"] for e in audit]
    assert "override.clear" in actions and "apply.finish" in actions

    out = cli.ok("dns", "clear-override", "www", "--platform", "sim", "--yes")
    assert "no override" in out.stdout


def test_clear_override_refused_by_guardrail_keeps_the_override(applied: CLI) -> None:
    cli = applied
    incident(cli)
    cli.ok("sim", "fail-region", "us-east")  # clearing would give the down region its 30 back

    out = cli("dns", "clear-override", "www", "--platform", "sim", "--yes")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "unhealthy-region" in out.stderr and "--force unhealthy-region" in out.stderr
    no_traceback(out)
    assert sim_weight(cli) == 0  # nothing written on the sim store
    [kept] = overrides(cli)
    assert kept["reason"] == "incident" and kept["merge"]["weights"]["us-east"] == 0
    audit = cli.json("state", "audit", "-n", "5")
    assert isinstance(audit, list)
    assert any(e["action"] == "apply" and e["result"] == "refused" for e in audit)
    assert cli("dns", "clear-override", "www", "--platform", "sim", "--dry-run").returncode == 3

    out = cli.ok("dns", "clear-override", "www", "--platform", "sim", "--yes", "--force", "unhealthy-region")
    assert sim_weight(cli) == 30 and overrides(cli) == []
    assert json.loads(cli.ok("dns", "overrides", "-o", "json").stdout) == []
