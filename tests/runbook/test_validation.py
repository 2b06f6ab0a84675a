"""Runbook validation: every problem at once, with file, line and field; params typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamverse_ctl.core.errors import InputError
from streamverse_ctl.runbook import loader
from streamverse_ctl.runbook.capacity import schedule
from streamverse_ctl.runbook.params import resolve

BAD = """\
name: broken
description: every kind of mistake at once
parameters:
  region: {type: region, required: true}
  count: {type: int, default: 3, colour: red}
steps:
  - id: one
    action: dns.set_weights
    with: {policy: www, weights: {}, color: blue}
  - id: two
    action: dns.teleport
    with: {x: "{{ params.nope }}"}
  - id: one
    action: sleep
    with: {seconds: "{{ params.count + }}"}
    when: "steps.later.outputs"
  - id: later
    action: sleep
    with: {seconds: 1}
    retries: {attempts: 0}
"""


def test_every_problem_reported_with_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text(BAD)
    with pytest.raises(InputError) as err:
        loader.load(f)
    got = {(p.line, p.field, p.message.split(" (")[0]) for p in err.value.problems}
    assert (5, "parameters.count.colour", "unknown field") in got
    assert len(got) == 3  # the template syntax error is found in the same pass
    assert (20, "steps.3.retries.attempts", "Input should be greater than or equal to 1") in got
    # schema errors stop the semantic pass; fix them and the rest are all reported together
    f.write_text(BAD.replace(", colour: red", "").replace("retries: {attempts: 0}", "retries: 2"))
    with pytest.raises(InputError) as err:
        loader.load(f)
    text = str(err.value)
    assert f"{f}:9: steps.0.with.color: action 'dns.set_weights' has no argument 'color'" in text
    assert f"{f}:11: steps.1.action: unknown action 'dns.teleport'" in text
    assert f"{f}:12: steps.1.with.x: unknown parameter 'nope'" in text
    assert f"{f}:13: steps.2.id: duplicate step id 'one' (first at line 7)" in text
    assert f"{f}:15: steps.2.with.seconds: template syntax error" in text
    assert f"{f}:16: steps.2.when: step 'later' is not an earlier step" in text
    assert len(err.value.problems) == 6


def test_cli_validate_exit_1_lists_problems(tmp_path: Path, sv) -> None:
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "broken.yaml").write_text(BAD)
    p = sv("runbook", "validate", "--runbooks", str(tmp_path / "rb"), check=1)
    assert "broken.yaml:5" in p.stderr and "broken.yaml:20" in p.stderr
    shipped = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "runbooks").glob("*.yaml"))
    assert sv("runbook", "validate").stdout.startswith(f"{len(shipped)} runbook(s) valid: {', '.join(shipped)}")


def test_parameters_are_typed_and_validated() -> None:
    rb = loader.load(loader.find("regional-failover")).model
    regions = ["us-east", "us-west", "sa-east"]
    ok = resolve(rb, {"from": "us-east", "gradual": "yes", "step": "20"}, regions)
    assert ok["gradual"] is True and ok["step"] == 20 and ok["to"] is None and ok["settle_timeout"] == 120.0
    with pytest.raises(InputError) as err:
        resolve(rb, {"from": "mars", "step": "200", "gradual": "maybe", "colour": "x"}, regions)
    text = str(err.value)
    assert "unknown region 'mars'" in text and "above the maximum 100" in text
    assert "expected true or false" in text and "unknown parameter 'colour'" in text


def test_schedule_moves_the_region_step_by_step() -> None:
    now = {"a": 30, "b": 20, "c": 50}
    final = {"a": 0, "b": 35, "c": 65}
    steps = schedule(now, final, "a", 10, True)
    assert [s["a"] for s in steps] == [20, 10, 0] and steps[-1] == final
    assert all(sum(s.values()) == 100 for s in steps)
    assert schedule(now, final, "a", 10, False) == [final]
