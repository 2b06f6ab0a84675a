"""Every `-o` value a verb accepts, it honours: the output parses as that format (issue 8, item 6).

Also: `describe` on a document with pending changes, and `--platform` / STREAMVERSE_PLATFORM never
silently meaning "the real providers". `apply -o json` is covered elsewhere (cli/apply.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.test_cli import CLI, WWW_US_EAST, no_traceback

REPO = Path(__file__).resolve().parents[2]


def parse(fmt: str, text: str) -> list[Any]:
    """The documents of ``text`` in ``fmt``; a stream (JSON lines, YAML ---) gives several."""
    assert text.strip(), "no output"
    if fmt == "json":
        try:
            return [json.loads(text)]
        except json.JSONDecodeError:
            return [json.loads(line) for line in text.splitlines() if line.strip()]  # JSON lines
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    assert docs and not all(isinstance(d, str) for d in docs), f"not YAML data:\n{text[:500]}"
    return docs


def _applied_with_drift(tmp: Path) -> CLI:
    """The demo applied, with runbooks beside it (cwd) and one record drifted (a pending change)."""
    for name in ("base", "demo"):
        shutil.copytree(REPO / "inventories" / name, tmp / "inventories" / name)
    shutil.copytree(REPO / "runbooks", tmp / "runbooks")
    cli = CLI(tmp / "inventories" / "demo", tmp / "state", tmp)
    cli.ok("apply", "--platform", "sim", "--auto-approve")
    cli.ok("sim", "drift", WWW_US_EAST, "weight=99")
    return cli


@pytest.fixture(scope="module")
def ro(tmp_path_factory: pytest.TempPathFactory) -> CLI:
    """Shared by the tests that only read (one apply for all of them)."""
    return _applied_with_drift(tmp_path_factory.mktemp("output-formats"))


@pytest.fixture
def sv(tmp_path: Path) -> CLI:
    """A private one, for tests that write (failover, failback)."""
    return _applied_with_drift(tmp_path)


@pytest.mark.parametrize("fmt", ["table", "json", "yaml"])
def test_describe_a_document_with_pending_changes(ro: CLI, fmt: str) -> None:
    out = ro("describe", "trafficpolicy", "www", "-o", fmt)
    no_traceback(out)
    assert out.returncode == 0, out.stderr
    if fmt == "table":
        assert "differs" in out.stdout and "weight: actual 99" in out.stdout
        return
    (data,) = parse(fmt, out.stdout)
    res = {r["id"]: r for r in data["resources"]}[WWW_US_EAST]
    assert res["status"] == "differs"
    assert res["differences"] == [{"path": "weight", "before": 99, "after": 30}]


READ_VERBS: list[tuple[str, ...]] = [
    ("validate",), ("plan",), ("diff",), ("get", "pop"), ("describe", "pop", "nyc1"),
    ("dns", "overrides"), ("dns", "verify"), ("sim", "status"), ("state", "lock"), ("state", "audit"),
    ("state", "journal"), ("plugins", "list"), ("runbook", "list"), ("runbook", "history"),
]
NO_INVENTORY = {("plugins", "list"), ("runbook", "list")}


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize("verb", READ_VERBS, ids=" ".join)
def test_data_views_honour_json_and_yaml(ro: CLI, verb: tuple[str, ...], fmt: str) -> None:
    out = ro(*verb, "-o", fmt, inv=verb not in NO_INVENTORY)
    no_traceback(out)
    drifted = 1 if verb == ("dns", "verify") else 0  # one record drifted: verify reports it and exits 1
    assert out.returncode in (0, drifted), f"{verb} exited {out.returncode}: {out.stderr}"
    assert len(parse(fmt, out.stdout)) >= 1


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_runbook_show_honours_its_formats_and_refuses_table(ro: CLI, fmt: str) -> None:
    out = ro("runbook", "show", "regional-failover", "-o", fmt, inv=False)
    assert out.returncode == 0, out.stderr
    (doc,) = parse(fmt, out.stdout)
    assert doc["name"] == "regional-failover"
    out = ro("runbook", "show", "regional-failover", "-o", "table", inv=False)
    assert out.returncode == 1 and "Invalid value for '--output'" in out.stderr
    no_traceback(out)


def events(fmt: str, text: str) -> list[str]:
    docs = parse(fmt, text)
    assert all(isinstance(d, dict) and "event" in d for d in docs), text[:500]
    return [d["event"] for d in docs]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_failover_then_failback_stream_events_in_the_format_asked(sv: CLI, fmt: str) -> None:
    sv.ok("sim", "fail-region", "us-east")
    out = sv.ok("failover", "us-east", "--yes", "-o", fmt)
    names = events(fmt, out.stdout)
    assert names[0] == "run.start" and "run.finish" in names
    sv.ok("sim", "heal-region", "us-east")
    out = sv.ok("failback", "us-east", "--interval", "0s", "--yes", "-o", fmt)
    assert "run.finish" in events(fmt, out.stdout)
    run_id = json.loads(sv.ok("runbook", "history", "-o", "json").stdout)[0]["id"]
    out = sv.ok("runbook", "history", run_id, "-o", fmt)
    assert parse(fmt, out.stdout)[0]["items"]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_runbook_run_dry_run_streams_events_in_the_format_asked(ro: CLI, fmt: str) -> None:
    out = ro.ok("runbook", "run", "viral-content", "--set", "video=launch", "--dry-run", "-o", fmt)
    assert events(fmt, out.stdout)[0] == "run.start"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_reconcile_prints_one_document_per_iteration(ro: CLI, fmt: str) -> None:
    out = ro("reconcile", "-n", "2", "--interval", "0s", "-o", fmt)
    no_traceback(out)
    ticks = parse(fmt, out.stdout)
    assert [t["iteration"] for t in ticks] == [1, 2]
    assert ticks[0]["status"] == "pending" and ticks[0]["drift"] == 1


def test_unknown_platform_is_an_error_not_the_real_providers(ro: CLI) -> None:
    out = ro("plan", "--platform", "smi")
    no_traceback(out)
    assert out.returncode == 1
    assert "unknown platform 'smi' (known: sim" in out.stderr
    assert "Plan" not in out.stdout


def test_platform_from_the_environment_is_normalised(ro: CLI) -> None:
    env = dict(ro.env, STREAMVERSE_PLATFORM="SIM")
    out = subprocess.run(ro.cmd("plan", "-o", "json"), cwd=ro.cwd, env=env, capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["platform"] == "sim"
    env["STREAMVERSE_PLATFORM"] = "aws"
    out = subprocess.run(ro.cmd("plan"), cwd=ro.cwd, env=env, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 1 and "unknown platform 'aws'" in out.stderr


# ---- Markdown plans (pull-request comments): escaped, folded, under GitHub's comment limit ----

def _md_html(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(text)


def _plan(n: int, name: str = "www/A/r{i}", reason: str = "") -> Any:
    from streamverse_ctl.core.errors import Refusal
    from streamverse_ctl.core.resources import Change, FieldChange
    from streamverse_ctl.engine.plan import Plan

    changes = []
    for i in range(n):
        typ, prov = ("dns.record", "route53") if i % 2 else ("cdn.cache_policy", "sim")
        changes.append(Change("update", typ, name.format(i=i), prov, {"pattern": "a"}, {"pattern": "*.m3u8"},
                              [FieldChange("pattern", "/live/*_hd*", "*.m3u8")], reason=reason))
    return Plan(changes=changes, fingerprint="f", refusals=[Refusal("change-size", "4 of 12 <b>dns.record</b>")])


def test_markdown_escapes_every_cell() -> None:
    from streamverse_ctl.cli.render import plan_markdown

    text = plan_markdown(_plan(1, name="a|b`c*d_e", reason="[link](http://x) <img src=x> ~~gone~~"))
    html = _md_html(text)
    assert "<em>" not in html  # no italics from *.m3u8 or _hd_
    assert "<a " not in html and "<img" not in html and "<del>" not in html and "<b>" not in html
    row = html.split("<tbody>")[1].split("</tr>")[0]
    assert row.count("<td>") == 5  # the pipe in the name did not add a cell
    assert "*.m3u8" in row and "/live/*_hd*" in row and "a|b`c*d_e" in row


def test_markdown_folds_a_long_plan_per_provider_and_type() -> None:
    from streamverse_ctl.cli.render import plan_markdown

    text = plan_markdown(_plan(40))
    assert text.count("<details>") == 2 and text.count("</details>") == 2
    assert "<summary>route53 · dns.record: 20 to update</summary>" in text
    assert _md_html(text).count("<table>") == 2
    assert "<details>" not in plan_markdown(_plan(5))  # a short plan stays one table


def test_markdown_stays_under_a_pull_request_comment_and_points_to_the_rest() -> None:
    from streamverse_ctl.cli.render import COMMENT_LIMIT, plan_markdown

    text = plan_markdown(_plan(5000))
    assert len(text) <= COMMENT_LIMIT
    shown = text.count("\n| `~` |")
    assert 0 < shown < 5000
    assert f"**{5000 - shown} of 5000 changes are not shown**" in text
    assert "plan -o json --out plan.json" in text
    assert text.count("<details>") == text.count("</details>")
    assert ":warning: **change\\-size**" not in text and ":warning: **change-size**" in text  # refusals kept
    for limit in (2000, 5000, 20_000):
        assert len(plan_markdown(_plan(3000), limit=limit)) <= limit


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_dns_set_weights_honours_json_and_yaml(sv: CLI, fmt: str) -> None:
    out = sv("dns", "set-weights", "www", "us-east=25", "-m", "test", "--yes", "-o", fmt)
    no_traceback(out)
    assert out.returncode == 0, out.stderr
    (result,) = parse(fmt, out.stdout)
    assert isinstance(result, dict)
