"""Read YAML with the line of every field, using PyYAML's composer (libyaml when available)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import Problem

try:  # libyaml is ~10x faster; the pure-Python loader gives the same nodes and marks
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

Path_ = tuple[str | int, ...]


@dataclass
class SourceDoc:
    """One YAML document: its data and the line (1-based) of every path in it."""

    data: Any
    file: str
    line: int
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """Line of the longest known prefix of ``path``."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.line


class _Unbuildable(Exception):
    """A document that cannot be turned into data: a recursive alias, or one that expands without bound."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


MAX_NODES = 200_000  # per document, after alias expansion (a "billion laughs" document stops here)


def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem],
               file: str, guard: tuple[set[int], list[int]] | None = None) -> Any:
    guard = guard if guard is not None else (set(), [MAX_NODES])
    active, budget = guard
    line = node.start_mark.line + 1
    if id(node) in active:
        raise _Unbuildable("invalid YAML: an alias refers to a node that contains it", line)
    budget[0] -= 1
    if budget[0] < 0:
        raise _Unbuildable(f"invalid YAML: more than {MAX_NODES:,} values after expanding aliases", line)
    if len(path) > 100:
        raise _Unbuildable("invalid YAML: nested more than 100 levels deep", line)
    lines[path] = line
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        active.add(id(node))
        try:
            return _construct_collection(node, path, lines, problems, file, guard)
        finally:
            active.discard(id(node))
    return _scalar(node)


def _construct_collection(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem],
                          file: str, guard: tuple[set[int], list[int]]) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                problems.append(Problem("YAML merge keys (<<) are not supported; use overlays", file,
                                        knode.start_mark.line + 1))
                continue
            key = _scalar(knode) if isinstance(knode, yaml.ScalarNode) else str(knode.value)
            if not isinstance(key, str | int | float | bool) or key is None:
                key = str(key)
            if key in out:
                problems.append(Problem(f"duplicate key '{key}'", file, knode.start_mark.line + 1,
                                        field=".".join(map(str, (*path, key)))))
            kp = str(key) if not isinstance(key, str) else key
            lines[(*path, kp)] = knode.start_mark.line + 1
            out[kp] = _construct(vnode, (*path, kp), lines, problems, file, guard)
            lines[(*path, kp)] = knode.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, problems, file, guard) for i, item in enumerate(node.value)]
    return _scalar(node)


_resolver = yaml.SafeLoader("")  # used only to construct scalars with YAML 1.1 core types


_STR = "tag:yaml.org,2002:str"


def _scalar(node: yaml.Node) -> Any:
    if node.tag == _STR and isinstance(node, yaml.ScalarNode):
        return node.value  # the common case, without the constructor's bookkeeping
    return _resolver.construct_object(node, deep=True)


def read_yaml(path: Path, display: str | None = None) -> tuple[list[SourceDoc], list[Problem]]:
    """All documents of a file, or the problems that prevent reading it."""
    file = display or str(path)
    problems: list[Problem] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(f"cannot read file: {exc}", file)]
    docs: list[SourceDoc] = []
    try:
        for node in _compose_all(text):
            if node is None:
                continue
            lines: dict[Path_, int] = {}
            data = _construct(node, (), lines, problems, file)
            docs.append(SourceDoc(data, file, node.start_mark.line + 1, lines))
    except _Unbuildable as exc:
        problems.append(Problem(str(exc), file, exc.line))
    except RecursionError:  # the YAML composer itself recurses on very deep nesting
        problems.append(Problem("invalid YAML: nested too deeply", file, 1))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        problems.append(Problem(f"invalid YAML: {msg}", file, line))
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: no mark, only a position
        line = text.count("\n", 0, max(0, exc.position)) + 1
        char = f" (#x{ord(exc.character):04x})" if isinstance(exc.character, str) and len(exc.character) == 1 else ""
        problems.append(Problem(f"invalid YAML: {exc.reason}{char}", file, line))
    except yaml.YAMLError as exc:
        problems.append(Problem(f"invalid YAML: {exc}", file))
    return docs, problems


def _compose_all(text: str) -> Iterator[yaml.Node | None]:
    loader = _Loader(text)
    try:
        while loader.check_node():
            yield loader.get_node()
    finally:
        loader.dispose()
