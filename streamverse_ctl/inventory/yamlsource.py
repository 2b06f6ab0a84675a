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


def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem],
               file: str) -> Any:
    lines[path] = node.start_mark.line + 1
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
            out[kp] = _construct(vnode, (*path, kp), lines, problems, file)
            lines[(*path, kp)] = knode.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, problems, file) for i, item in enumerate(node.value)]
    return _scalar(node)


_resolver = yaml.SafeLoader("")  # used only to construct scalars with YAML 1.1 core types


def _scalar(node: yaml.Node) -> Any:
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
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        problems.append(Problem(f"invalid YAML: {msg}", file, line))
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
