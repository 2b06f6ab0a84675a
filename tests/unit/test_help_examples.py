"""Every verb's --help shows an example, and no option placeholder is a Python type (issue 12, s. 5)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from streamverse_ctl.cli import main

# what typer prints for an option without a metavar: a Python (or click) type name
PYTHON_TYPE = re.compile(r"\[|\]|\b(str|int|float|bool|path|list|dict|tuple|optional|none|text|integer)\b", re.I)


def commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, click command) of every runnable verb and sub-verb of `streamverse ctl`."""
    root = typer.main.get_command(main.build_ctl(plugin_verbs=False))

    def walk(path: tuple[str, ...], cmd: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in sorted(subs.items()):
                yield from walk((*path, name), sub)
        elif path:
            yield path, cmd

    yield from walk((), root)


ALL = sorted(commands(), key=lambda pc: pc[0])
IDS = [" ".join(p) for p, _ in ALL]


def help_text(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(main.build_ctl(path[0], plugin_verbs=False), [*path, "--help"],
                                prog_name="streamverse ctl", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


def test_every_verb_is_walked() -> None:
    assert {"plan", "apply", "show", "get", "dns set-weights", "runbook run", "state init", "sim status"} <= set(IDS)


@pytest.mark.parametrize(("path", "cmd"), ALL, ids=IDS)
def test_help_shows_an_example(path: tuple[str, ...], cmd: Any) -> None:
    text = help_text(path)
    verb = f"streamverse ctl {' '.join(path)}"
    examples = re.findall(r"^\s*Examples?:\s*(.+)$", text, re.M)
    assert examples, f"`{verb} --help` shows no 'Example: {verb} ...' line"
    assert all(verb in e for e in examples), examples


@pytest.mark.parametrize(("path", "cmd"), ALL, ids=IDS)
def test_no_python_type_as_an_option_placeholder(path: tuple[str, ...], cmd: Any) -> None:
    ctx = cmd.make_context(" ".join(path), ["--help"], resilient_parsing=True)
    bad = []
    for param in cmd.params:
        if param.param_type_name != "option":
            continue  # typer prints an argument as NAME <type> whatever its metavar
        record = param.get_help_record(ctx)
        if record is None:
            continue
        placeholder = record[0].split(" ", 1)[1] if " " in record[0].replace(", ", ",") else ""
        if PYTHON_TYPE.search(placeholder):
            bad.append(record[0])
    assert not bad, f"streamverse ctl {' '.join(path)}: " + "; ".join(bad)
