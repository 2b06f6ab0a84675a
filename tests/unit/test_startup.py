"""Start-up stays fast (issue 12 §5): `ctl --help` and a TAB import no verb they do not need and no
pydantic (typer's value coercion would import it for nothing). The times themselves are measured by
bench/bench_help.py, never asserted here; these tests pin down what is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamverse_ctl.cli import main

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
names = json.loads(sys.argv[2])
sys.argv = ["streamverse", *json.loads(sys.argv[1])]
from streamverse_ctl.cli.main import run
try:
    run()
except SystemExit:
    pass
verbs = sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("streamverse_ctl.cli.")
               and m.rsplit(".", 1)[1] in names)
sys.stderr.write("\\nPROBE " + json.dumps({"pydantic": "pydantic" in sys.modules, "verbs": verbs,
                                         "yaml": "yaml" in sys.modules}) + "\\n")
"""


def probe(args: list[str], tab: str | None = None, cwd: Path | None = None,  # type: ignore[type-arg]
          cache: Path | None = None) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMVERSE_", "_STREAMVERSE"))}
    if cache is not None:
        env["STREAMVERSE_CACHE_DIR"] = str(cache)
    env["STREAMVERSE_INVENTORY"] = str(REPO / "inventories" / "demo")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    if tab is not None:
        words = tab.split() + ([""] if tab.endswith(" ") else [])
        env.update({"_STREAMVERSE_COMPLETE": "complete_bash", "COMP_WORDS": " ".join(words),
                    "COMP_CWORD": str(len(words) - 1)})
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(sorted(main.VERBS))],
                         capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    line = [x for x in out.stderr.splitlines() if x.startswith("PROBE ")][-1]
    seen = json.loads(line[6:])
    yaml = seen.pop("yaml")
    if cache is not None:
        seen["yaml"] = yaml
    if tab is not None:  # a TAB imports cli/completion.py for its completers: not a verb being built
        seen["verbs"] = [v for v in seen["verbs"] if v != "completion"]
    return seen, out.stdout + out.stderr.replace(line, "")


@pytest.mark.parametrize("args", [["ctl", "--help"], ["--help"], ["ctl"], ["ctl", "plan", "--help"]])
def test_help_imports_no_pydantic(args: list[str], tmp_path: Path) -> None:
    seen, out = probe(args, cwd=tmp_path)
    assert "Usage:" in out
    assert not seen["pydantic"]
    assert seen["verbs"] == (["plan"] if "plan" in args else [])


def test_a_tab_on_the_verb_name_builds_no_verb(tmp_path: Path) -> None:
    seen, out = probe([], tab="streamverse ctl pl", cwd=tmp_path)
    assert out.split() == ["plan", "plugins"]
    assert seen == {"pydantic": False, "verbs": []}


def test_a_tab_builds_only_the_verb_it_completes(tmp_path: Path) -> None:
    seen, out = probe([], tab="streamverse ctl get ", cwd=tmp_path)
    assert "TrafficPolicy" in out.split()
    assert seen == {"pydantic": False, "verbs": ["get"]}
    seen, out = probe([], tab="streamverse ctl dns set-weights --", cwd=tmp_path)
    assert "--reason" in out.split() and "dns" in seen["verbs"]
    assert not {"runbook", "status", "capacity", "sim"} & set(seen["verbs"])  # (dns shares apply's options)


def test_completion_words_for_every_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COMP_WORDS", "COMP_CWORD", "_TYPER_COMPLETE_ARGS", "_TYPER_COMPLETE_WORD_TO_COMPLETE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COMP_WORDS", "streamverse ctl --plugin-dir d get reg")
    monkeypatch.setenv("COMP_CWORD", "5")
    assert main.completion_words(ctl=False) == ["--plugin-dir", "d", "get"]
    assert main.requested_verb(main.completion_words(ctl=False)) == "get"
    monkeypatch.delenv("COMP_WORDS")
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", "streamverse-ctl failover us")  # zsh: the last word is incomplete
    assert main.completion_words(ctl=True) == ["failover"]
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", "streamverse-ctl failover ")
    assert main.completion_words(ctl=True) == ["failover"]
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", "streamverse ctl 'unclosed")  # an open quote never fails a TAB
    assert main.completion_words(ctl=False) == []


def test_help_only_is_only_a_bare_help_request() -> None:
    assert main.help_only(["ctl", "--help"]) and main.help_only([]) and main.help_only(["ctl"])
    assert main.help_only(["ctl", "dns", "set-weights", "-h"])
    assert not main.help_only(["ctl", "plan"])
    assert not main.help_only(["ctl", "plan", "-i", "x", "--help"])  # options are parsed: coerce them
    assert not main.help_only(["ctl", "--secrets-dir", "d", "--help"])


def test_a_tab_on_inventory_names_reads_them_without_the_models(tmp_path: Path) -> None:
    regions = ["us-east", "us-west", "eu-west", "ap-pacific", "sa-east", "me-central"]
    cache = tmp_path / "cache"
    seen, out = probe([], tab="streamverse ctl failover ", cwd=tmp_path, cache=cache)
    assert out.split() == regions
    assert not seen["pydantic"] and "failover" in seen["verbs"] and "status" not in seen["verbs"]
    assert seen["yaml"]  # a cold parse cache: the YAML is parsed here
    env = {**os.environ, "STREAMVERSE_CACHE_DIR": str(cache), "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    warm = subprocess.run([str(Path(sys.executable).parent / "streamverse"), "ctl", "validate", "-i",
                           str(REPO / "inventories" / "demo")], env=env, capture_output=True, text=True, timeout=60)
    assert warm.returncode == 0, warm.stderr
    seen, out = probe([], tab="streamverse ctl failover ", cwd=tmp_path, cache=cache)
    assert out.split() == regions and not seen["yaml"]  # what validate parsed is not parsed again
