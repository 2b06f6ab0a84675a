"""Broken and random inventories never crash the loader or the CLI: a clean InputError (exit 1) naming
file and line for every problem, or a valid inventory; never a traceback or another exception type."""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streamverse_ctl.core.errors import InputError
from streamverse_ctl.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]
DEMO_FILES = {p.relative_to(REPO / "inventories").as_posix(): list(yaml.safe_load_all(p.read_text()))
              for p in sorted((REPO / "inventories").glob("[bd]*/*.yaml"))
              if p.parts[-2] in ("base", "demo")}
# as tests/conftest.py's profile: these settings replace its list, so they repeat it
BUSY_MACHINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=BUSY_MACHINE)


@contextmanager
def inventory_with(files: dict[str, str]) -> Iterator[Path]:
    """inventories/base and inventories/demo copied to a temp dir, with ``files`` (relative paths) replaced."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("base", "demo"):
            shutil.copytree(REPO / "inventories" / name, root / name)
        for rel, text in files.items():
            (root / rel).write_text(text, encoding="utf-8")
        yield root / "demo"


def check_load(directory: Path) -> None:
    try:
        load_inventory(directory)
    except InputError as exc:
        assert exc.problems, "an InputError must carry at least one problem"
        for p in exc.problems:
            assert p.file, f"problem without a file: {p}"
            if p.line is None:  # only a problem of the whole inventory (e.g. no Region) names no line
                assert Path(p.file).is_dir(), f"problem without a line: {p}"
                continue
            assert p.line >= 1, f"problem without a line: {p}"
            assert str(p).startswith(f"{p.file}:{p.line}: ")


# ----- random YAML text -------------------------------------------------------------------------
YAML_CHARS = st.sampled_from([*":-[]{}#&*!|>'\"%@`, \n\t?.=", "a", "b", "1", "0", "apiVersion", "kind", "spec",
                              "metadata", "name", "\n  ", "---\n"])


@FUZZ
@given(st.lists(YAML_CHARS, max_size=60).map("".join) | st.text(max_size=200))
@example("&a [*a]")  # a recursive alias
@example("a: &x 1\nb: *x\n")
@example("!!python/object:os.system {}\n")
@example("apiVersion: streamverse.io/v1\nkind: PoP\nmetadata: {name: x}\nspec: !!binary aGVsbG8=\n")
@example("\ufeffapiVersion: [")
@example("? [a, b]\n: c\n")
@example("apiVersion: streamverse.io/v1\nkind: PoP\nmetadata: {name: x}\nspec: {<<: {a: 1}}\n")
def test_random_yaml_text(text: str) -> None:
    with inventory_with({"demo/random.yaml": text}) as directory:
        check_load(directory)


# ----- random YAML data -------------------------------------------------------------------------
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True)
           | st.text(max_size=20) | st.sampled_from(["us-east", "${zone}", "${nope}", "$${x}", "streamverse.io/v1",
                                                     "PoP", "Region", "TrafficPolicy", "10m", "weighted"]))
KEYS = st.text(max_size=12) | st.sampled_from(["apiVersion", "kind", "metadata", "spec", "name", "region",
                                               "weights", "extends", "patches", "variables"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                      max_leaves=20)


@FUZZ
@given(st.lists(VALUES, min_size=1, max_size=3))
def test_random_yaml_documents(docs: list[Any]) -> None:
    text = yaml.safe_dump_all(docs, allow_unicode=True)
    with inventory_with({"demo/random.yaml": text}) as directory:
        check_load(directory)


# ----- random mutations of the demo documents ---------------------------------------------------
def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def get(value: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        value = value[p]
    return value


@st.composite
def mutated_demo(draw: st.DrawFn) -> dict[str, str]:
    files = copy.deepcopy(DEMO_FILES)
    changed: dict[str, str] = {}
    for _ in range(draw(st.integers(1, 3))):
        rel = draw(st.sampled_from(sorted(files)))
        docs = files[rel]
        i = draw(st.integers(0, len(docs) - 1))
        where = draw(st.sampled_from(paths(docs[i])))
        op = draw(st.sampled_from(["delete", "replace", "insert", "wrap", "duplicate-doc"]))
        if op == "duplicate-doc":
            docs.append(copy.deepcopy(docs[i]))
        elif not where:
            docs[i] = draw(VALUES)
        else:
            parent = get(docs[i], where[:-1])
            key = where[-1]
            if op == "delete":
                del parent[key]
            elif op == "replace":
                parent[key] = draw(VALUES)
            elif op == "wrap":
                parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}, str(parent[key])]))
            elif isinstance(parent[key], dict):
                parent[key][draw(KEYS)] = draw(VALUES)
            elif isinstance(parent[key], list):
                parent[key].append(draw(VALUES))
            else:
                parent[key] = draw(VALUES)
        changed[rel] = yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False)
    return changed


@FUZZ
@given(mutated_demo())
def test_mutated_demo_inventory(files: dict[str, str]) -> None:
    with inventory_with(files) as directory:
        check_load(directory)


# ----- the CLI, in process ----------------------------------------------------------------------
def cli_validate(directory: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                 ) -> tuple[int, str]:
    from streamverse_ctl.cli.main import _invoke, build_root

    monkeypatch.setattr("sys.argv", ["streamverse", "ctl", "validate", "-i", str(directory)])
    monkeypatch.setenv("COLUMNS", "400")
    capsys.readouterr()
    code = _invoke(build_root(), "streamverse")
    out = capsys.readouterr()
    return code, out.out + out.err


@settings(max_examples=60, deadline=None,
          suppress_health_check=[*BUSY_MACHINE, HealthCheck.function_scoped_fixture])
@given(files=mutated_demo())
def test_cli_validate_on_mutated_demo(files: dict[str, str], capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with inventory_with(files) as directory:
        code, output = cli_validate(directory, capsys, monkeypatch)
    assert code in (0, 1), output
    assert "Traceback" not in output and "internal error" not in output, output
    if code == 1:
        assert "error: inventory has" in output, output


def test_cli_validate_reports_file_and_line(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A known-bad mutation through the CLI: exit 1, file:line on each problem line."""
    docs = copy.deepcopy(DEMO_FILES["demo/transcode.yaml"])
    docs[2]["spec"]["minNodes"] = "many"
    with inventory_with({"demo/transcode.yaml": yaml.safe_dump_all(docs, sort_keys=False)}) as directory:
        code, output = cli_validate(directory, capsys, monkeypatch)
    assert code == 1
    assert "transcode.yaml:" in output and "TranscodePool/transcode-eu-west: spec.minNodes:" in output
