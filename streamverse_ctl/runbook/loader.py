"""Find, read and validate runbook files, reporting every problem at once with file, line and field.

Search path, earlier directories winning on a name: the directories the user names (``--runbooks DIR``,
repeatable, then ``STREAMVERSE_RUNBOOKS``, ``os.pathsep``-separated), then the built-in runbooks
shipped in the package (``core.builtin``). The current working directory is never searched
implicitly: a checkout one happens to stand in is data, and runbooks are procedures. ``NAME`` may
also be a runbook file's path.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..core.builtin import builtin_dir
from ..core.errors import InputError, PermanentError, Problem
from ..core.registry import actions
from ..inventory.yamlsource import SourceDoc, read_yaml
from .model import Runbook, Step
from .render import is_template, syntax_error

_PARAM_REF = re.compile(r"\bparams\.([A-Za-z_][A-Za-z0-9_]*)")
_STEP_REF = re.compile(r"\bsteps\.([A-Za-z0-9_]+)|\bsteps\[['\"]([^'\"]+)['\"]\]")


@dataclass
class LoadedRunbook:
    model: Runbook
    path: Path
    source: SourceDoc
    digest: str

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def directory(self) -> Path:
        return self.path.parent


def candidates(extra: Sequence[str | Path] = ()) -> list[Path]:
    """Every directory searched, in order, existing or not (duplicates removed)."""
    dirs: list[Path] = [Path(d) for d in extra]
    for part in os.environ.get("STREAMVERSE_RUNBOOKS", "").split(os.pathsep):
        if part:
            dirs.append(Path(part))
    dirs.append(builtin_dir("runbooks"))
    out: dict[Path, Path] = {}
    for d in dirs:
        out.setdefault(d.resolve(), d)
    return list(out.values())


def search_path(extra: Sequence[str | Path] = ()) -> list[Path]:
    """The directories searched that exist, in order."""
    return [d for d in candidates(extra) if d.is_dir()]


def describe_search(extra: Sequence[str | Path] = ()) -> str:
    """The directories searched, for messages: the built-in one and missing ones are marked."""
    builtin = builtin_dir("runbooks").resolve()
    parts = []
    for d in candidates(extra):
        note = " (built-in)" if d.resolve() == builtin else ""
        if not d.is_dir():
            note += " (not a directory)" if d.exists() else " (does not exist)"
        parts.append(f"{d}{note}")
    return ", ".join(parts)


def runbook_files(extra: Sequence[str | Path] = ()) -> dict[str, Path]:
    """Runbook name (file stem) -> file; earlier directories win."""
    out: dict[str, Path] = {}
    for d in search_path(extra):
        for f in sorted([*d.glob("*.yaml"), *d.glob("*.yml")]):
            out.setdefault(f.stem, f)
    return out


def find(name: str, extra: Sequence[str | Path] = ()) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    files = runbook_files(extra)
    if name not in files:
        raise PermanentError(f"no runbook named '{name}' (known: {', '.join(sorted(files)) or 'none'}; "
                             f"searched {describe_search(extra)})")
    return files[name]


def load(path: Path) -> LoadedRunbook:
    """Read and validate one runbook file; raises InputError listing every problem."""
    docs, problems = read_yaml(path)
    if not problems and len(docs) != 1:
        problems.append(Problem(f"a runbook file holds exactly one YAML document, not {len(docs)}", str(path)))
    if problems:
        raise InputError(problems, "runbook")
    src = docs[0]
    if not isinstance(src.data, dict):
        raise InputError([Problem("a runbook is a mapping (name, description, parameters, steps, ...)",
                                  src.file, src.line)], "runbook")
    try:
        model = Runbook.model_validate(src.data)
    except ValidationError as exc:
        for e in exc.errors():
            loc = tuple(e["loc"])
            if any(part in ("int", "str", "float", "bool") for part in loc) and isinstance(e.get("input"), dict):
                continue  # the scalar branch of a union given a mapping: the mapping branch's error says it
            problems.append(Problem(_message(e), src.file, src.line_of(_yaml_path(loc)), "",
                                    ".".join(map(str, _yaml_path(loc)))))
        problems += _template_problems(src)
        raise InputError(problems, "runbook") from None
    problems += _semantic_problems(model, src)
    problems += _template_problems(src)
    if problems:
        raise InputError(problems, "runbook")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return LoadedRunbook(model, path.resolve(), src, digest)


def _message(e: Any) -> str:
    if e.get("type") == "extra_forbidden":
        return "unknown field"
    if e.get("type") == "missing":
        return "required field is missing"
    return str(e.get("msg", "invalid"))


def _yaml_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    # pydantic reports a union's member type (Retry, int, ...) in loc; YAML paths do not have it
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (part[:1].isupper() or part in ("int", "str", "float", "bool")):
            continue
        out.append("with" if part == "with_" else part)
    return tuple(out)


def _walk_steps(steps: list[Step], base: tuple[str | int, ...]) -> list[tuple[Step, tuple[str | int, ...]]]:
    out = []
    for i, s in enumerate(steps):
        out.append((s, (*base, i)))
        out += _walk_steps(s.on_failure, (*base, i, "on_failure"))
    return out


def _semantic_problems(rb: Runbook, src: SourceDoc) -> list[Problem]:
    problems: list[Problem] = []

    def add(msg: str, path: tuple[str | int, ...]) -> None:
        problems.append(Problem(msg, src.file, src.line_of(path), "", ".".join(map(str, path))))

    seen: dict[str, tuple[str | int, ...]] = {}
    known_actions = actions.names()
    earlier: set[str] = set()
    top_ids = [s.id for s in rb.steps]
    for step, path in _walk_steps(rb.steps, ("steps",)):
        if step.id in seen:
            add(f"duplicate step id '{step.id}' (first at line {src.line_of(seen[step.id])})", (*path, "id"))
        else:
            seen[step.id] = path
        if step.action not in known_actions:
            add(f"unknown action '{step.action}' (known: {', '.join(known_actions)})", (*path, "action"))
        else:
            problems += _argument_problems(step, path, src)
        from ..engine.guardrails import FORCEABLE

        for name in step.force:
            if name not in FORCEABLE:
                add(f"guardrail '{name}' cannot be forced (forceable: {', '.join(FORCEABLE)})", (*path, "force"))
        if step.for_each is None and step.interval is not None:
            add("interval only applies to a step with for_each", (*path, "interval"))
        # references to parameters and steps
        for sub, text in _strings(step.model_dump(by_alias=True, exclude={"on_failure"}), ()):
            for m in _PARAM_REF.finditer(text):
                if m.group(1) not in rb.parameters:
                    add(f"unknown parameter '{m.group(1)}'", (*path, *sub))
            for m in _STEP_REF.finditer(text):
                ref = m.group(1) or m.group(2)
                if ref not in seen or (ref == step.id) or (ref in top_ids and ref not in earlier
                                                            and len(path) == 2):
                    add(f"step '{ref}' is not an earlier step", (*path, *sub))
        if len(path) == 2:
            earlier.add(step.id)
    for i, pc in enumerate(rb.preconditions):
        for m in _STEP_REF.finditer(pc.condition):
            add(f"preconditions run before any step; '{m.group(0)}' is not available",
                ("preconditions", i, "condition"))
        for m in _PARAM_REF.finditer(pc.condition):
            if m.group(1) not in rb.parameters:
                add(f"unknown parameter '{m.group(1)}'", ("preconditions", i, "condition"))
    for name, value in rb.outputs.items():
        for _sub, text in _strings(value, ()):
            for m in _PARAM_REF.finditer(text):
                if m.group(1) not in rb.parameters:
                    add(f"unknown parameter '{m.group(1)}'", ("outputs", name))
    for name, p in rb.parameters.items():
        if p.required and p.default is not None:
            add("a required parameter has no default", ("parameters", name, "default"))
    return problems


def _argument_problems(step: Step, path: tuple[str | int, ...], src: SourceDoc) -> list[Problem]:
    """Check ``with:`` against the action's signature: unknown and missing arguments."""
    try:
        fn = actions.get(step.action)
        sig = inspect.signature(fn)
    except (PermanentError, TypeError, ValueError):
        return []
    params = list(sig.parameters.values())[1:]  # the first is the action context
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return []
    names = {p.name for p in params}
    out = []
    for key in step.with_:
        if key.replace("-", "_") not in names:
            out.append(Problem(f"action '{step.action}' has no argument '{key}' (arguments: "
                               f"{', '.join(sorted(names)) or 'none'})", src.file,
                               src.line_of((*path, "with", key)), "", ".".join(map(str, (*path, "with", key)))))
    for p in params:
        if p.default is p.empty and p.kind is not p.VAR_POSITIONAL and p.name not in step.with_ \
                and p.name.replace("_", "-") not in step.with_:
            out.append(Problem(f"action '{step.action}' needs argument '{p.name}'", src.file,
                               src.line_of((*path, "with")), "", ".".join(map(str, (*path, "with")))))
    return out


def _strings(value: Any, path: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _strings(v, (*path, k))]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _strings(v, (*path, i))]
    return []


def _template_problems(src: SourceDoc) -> list[Problem]:
    out = []
    for path, text in _strings(src.data, ()):
        if is_template(text) or (len(path) >= 1 and path[-1] in ("when", "condition") and text):
            candidate = text if is_template(text) else "{{ " + text + " }}"
            err = syntax_error(candidate)
            if err:
                out.append(Problem(f"template syntax error: {err}", src.file, src.line_of(path), "",
                                   ".".join(map(str, path))))
    return out


def load_all(extra: Sequence[str | Path] = ()) -> tuple[list[LoadedRunbook], list[Problem]]:
    loaded, problems = [], []
    for _name, path in sorted(runbook_files(extra).items()):
        try:
            loaded.append(load(path))
        except InputError as exc:
            problems += exc.problems
    return loaded, problems
