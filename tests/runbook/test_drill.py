"""`streamverse ctl drill`: a DR game day on the sim platform, its recovery time checked against its own events."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from streamverse_ctl.runbook.drill import Sample, integrate, lost_share, recovery_time

from .conftest import CLI


def s(t: float, event: str, share: float) -> Sample:
    return Sample(t, event, "", "", {}, [], share)


def test_lost_share_is_the_weight_served_to_unhealthy_regions() -> None:
    assert lost_share({"a": 30, "b": 70}, ["a"]) == 0.3
    assert lost_share({"a": 0, "b": 70}, ["a"]) == 0.0
    assert lost_share({}, ["a"]) == 0.0


def test_recovery_is_the_end_of_the_first_step_after_which_nothing_reaches_an_unhealthy_region() -> None:
    samples = [s(1, "run.start", 0.3), s(2, "step.start", 0.3), s(4, "step.wait", 0.0), s(5, "step.done", 0.0),
               s(6, "run.finish", 0.0)]
    assert recovery_time(samples, succeeded=True) == 5  # moved at 4, verified (the step ended) at 5
    assert recovery_time(samples, succeeded=False) is None
    flapping = [s(1, "step.done", 0.3), s(2, "step.done", 0.0), s(3, "step.done", 0.2), s(4, "step.done", 0.0)]
    assert recovery_time(flapping, succeeded=True) == 4  # the last return to zero counts, not the first
    assert recovery_time([s(1, "run.finish", 0.3)], succeeded=True) is None


def test_traffic_lost_integrates_each_share_until_the_next_sample_from_the_start() -> None:
    # 0..2 s at 30 % (the first share holds from t=0), 2..4 s at 10 %, then nothing
    samples = [s(1, "run.start", 0.3), s(2, "step.done", 0.1), s(4, "step.done", 0.0)]
    assert abs(integrate(samples, end=10) - (0.3 * 2 + 0.1 * 2)) < 1e-9


def test_drill_fails_a_region_runs_the_failover_and_reports_recovery_from_its_events(sv: CLI, tmp_path: Path) -> None:
    report = tmp_path / "drill.md"
    out = sv("drill", "regional-failover", "-s", "from=us-east", "--fail", "us-east", "--report", str(report),
             "-o", "json")
    data = json.loads(out.stdout)
    assert data["status"] == "done" and data["injected"] == ["us-east"] and data["target_met"]
    samples = data["samples"]
    assert samples[0]["unhealthy"] == ["us-east"] and samples[0]["lost_share"] > 0  # us-east still had traffic
    # recovery = the end of the step after which no answer points at us-east again
    first_clean = next(i for i, x in enumerate(samples) if all(y["lost_share"] == 0 for y in samples[i:]))
    done = next(x for x in samples[first_clean:] if x["event"] == "step.done")
    assert data["recovery_seconds"] == done["t"]
    assert done["step"].startswith("shift") and done["weights"]["us-east"] == 0
    assert 0 < data["recovery_seconds"] <= data["window_seconds"]
    # traffic lost agrees with the samples it was computed from
    expected = samples[0]["lost_share"] * samples[0]["t"] + sum(
        a["lost_share"] * (b["t"] - a["t"]) for a, b in itertools.pairwise(samples))
    assert abs(data["lost_full_traffic_seconds"] - round(expected, 3)) < 0.002
    assert data["lost_requests"] == round(data["demand_rps"] * data["lost_full_traffic_seconds"])
    # the journal's steps are in the report, and the failover really happened on the sim
    assert [st["item"] for st in data["steps"]][:1] == ["capacity"]
    assert sv.www()["us-east"] == 0.0
    text = report.read_text()
    assert "# DR drill: regional-failover" in text and "| recovery time |" in text and "## Timeline" in text
    assert f"{data['recovery_seconds']:.1f} s (target 600 s: met)" in text


def test_a_missed_target_exits_1_and_says_so(sv: CLI) -> None:
    out = sv("drill", "regional-failover", "-s", "from=us-east", "--fail", "us-east", "--target", "0s",
             check=1)
    assert "missed" in out.stdout


def test_a_refused_failover_is_reported_and_exits_3(sv: CLI, tmp_path: Path) -> None:
    report = tmp_path / "refused.md"
    # all of us-east's traffic to me-central: more than its capacity, so the capacity guardrail refuses
    out = sv("drill", "regional-failover", "-s", "from=us-east", "-s", "to=me-central", "--fail", "us-east",
             "--report", str(report), check=3)
    assert "Traceback" not in out.stderr
    text = report.read_text()
    assert "| result | refused |" in text and "not recovered" in text


def test_bad_drill_input_is_reported_all_at_once(sv: CLI) -> None:
    out = sv("drill", "regional-failover", "-s", "from=us-east", "--fail", "atlantis", "--policy", "nope", check=1)
    text = out.stdout + out.stderr
    assert "unknown region 'atlantis'" in text and "'nope' is not a weighted TrafficPolicy" in text
    assert "Traceback" not in text
