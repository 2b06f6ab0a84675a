"""Read YAML with the line of every field, using PyYAML's composer (libyaml when available)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import Problem
from . import parsecache

try:  # libyaml is ~10x faster; the pure-Python loader gives the same nodes and marks
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

Path_ = tuple[str | int, ...]


class _FileLines:
    """Line maps of a file's documents, computed on first use by parsing the file once more.

    A document read from the parse cache carries only its data and start line: line maps are needed
    only when something is wrong, so they are not stored, and a clean run never pays for them.
    """

    def __init__(self, raw: bytes, file: str) -> None:
        self.raw = raw
        self.file = file
        self._maps: list[dict[Path_, int]] | None = None

    def get(self, index: int) -> dict[Path_, int]:
        if self._maps is None:
            docs, _ = _parse(self.raw.decode("utf-8"), self.file)
            self._maps = [d.lines for d in docs]
        return self._maps[index] if index < len(self._maps) else {}


class SourceDoc:
    """One YAML document: its data and the line (1-based) of every path in it."""

    __slots__ = ("_lazy", "_lines", "data", "file", "index", "line")

    def __init__(self, data: Any, file: str, line: int, lines: dict[Path_, int] | None = None,
                 lazy: _FileLines | None = None, index: int = 0) -> None:
        self.data = data
        self.file = file
        self.line = line
        self._lines = lines
        self._lazy = lazy
        self.index = index

    @property
    def lines(self) -> dict[Path_, int]:
        if self._lines is None:
            self._lines = self._lazy.get(self.index) if self._lazy is not None else {}
        return self._lines

    def line_of(self, path: Path_) -> int:
        """Line of the longest known prefix of ``path``."""
        p = tuple(path)
        lines = self.lines
        while p:
            if p in lines:
                return lines[p]
            p = p[:-1]
        return self.line


class _Unbuildable(Exception):
    """A document that cannot be turned into data: a recursive alias, or one that expands without bound."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


MAX_DEPTH = 100  # collections inside collections, block or flow
TOO_DEEP = f"invalid YAML: nested more than {MAX_DEPTH} levels deep"
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
    if len(path) > MAX_DEPTH:
        raise _Unbuildable(TOO_DEEP, line)
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
    """All documents of a file, or the problems that prevent reading it.

    Parsed files are cached by content (see :mod:`.parsecache`), so an unchanged inventory is not
    parsed again; the result is the same either way.
    """
    file = display or str(path)
    raw, problem = read_regular_file(path, file)
    if problem is not None:
        return [], [problem]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return [], [Problem(f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column {column} (save the file as "
                            "UTF-8)", file, line)]
    cached = parsecache.load(raw)
    if cached is not None:
        lazy = _FileLines(raw, file)
        return ([SourceDoc(data, file, line, None, lazy, i) for i, (data, line) in enumerate(cached[0])],
                [Problem(msg, file, line, "", fld) for msg, line, fld in cached[1]])
    docs, problems = _parse(text, file)
    parsecache.store(raw, [(d.data, d.line) for d in docs], [(p.message, p.line, p.field) for p in problems])
    return docs, problems


def file_type(mode: int) -> str:
    """What a non-regular file is, for messages."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


MAX_FILE_BYTES = 64 * 1024 * 1024


def read_regular_file(path: Path, file: str) -> tuple[bytes, Problem | None]:
    """The bytes of a regular file, or a problem naming what it is instead.

    Opened non-blocking and checked with fstat before any read, so a FIFO, a device (/dev/zero) or a
    file swapped for one after the directory was listed never hangs or fills memory."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        return b"", Problem(f"cannot read file: {exc.strerror or exc}", file)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return b"", Problem(f"not a regular file: it is {file_type(st.st_mode)}", file)
        if st.st_size > MAX_FILE_BYTES:
            return b"", Problem(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", file)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_FILE_BYTES + 1), None
    except OSError as exc:
        return b"", Problem(f"cannot read file: {exc.strerror or exc}", file)
    finally:
        os.close(fd)


def _parse(text: str, file: str) -> tuple[list[SourceDoc], list[Problem]]:
    problems: list[Problem] = []
    docs: list[SourceDoc] = []
    try:
        for node in _compose_all(text):
            if node is None:
                continue
            lines: dict[Path_, int] = {}
            data = _construct(node, (), lines, problems, file)
            docs.append(SourceDoc(data, file, node.start_mark.line + 1, lines, index=len(docs)))
    except _Unbuildable as exc:
        problems.append(Problem(str(exc), file, exc.line))
    except RecursionError:  # the YAML composer itself recurses on very deep nesting
        problems.append(Problem(TOO_DEEP, file, 1))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        if mark is not None and _flow_depth(text, mark.index) > MAX_DEPTH:
            # the scanner's own nesting limit (libyaml's words change between releases): say it in ours
            problems.append(Problem(TOO_DEEP, file, line))
        else:
            msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
            problems.append(Problem(f"invalid YAML: {msg}", file, line))
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: no mark, only a position
        line = text.count("\n", 0, max(0, exc.position)) + 1
        char = exc.character  # a str from the pure-Python reader, an int code from libyaml's
        code = ord(char) if isinstance(char, str) and len(char) == 1 else char if isinstance(char, int) else None
        what = (f"character #x{code:04x} is not allowed in YAML text" if code is not None
                else "a character that is not allowed in YAML text")
        problems.append(Problem(f"invalid YAML: {what}", file, line))
    except yaml.YAMLError as exc:
        problems.append(Problem(f"invalid YAML: {exc}", file))
    return docs, problems


def _flow_depth(text: str, end: int) -> int:
    """How many flow collections (``[``/``{``) are open at ``end``: enough to tell a nesting-limit error."""
    depth = 0
    for ch in text[:end + 1]:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(0, depth - 1)
    return depth


def _compose_all(text: str) -> Iterator[yaml.Node | None]:
    loader = _Loader(text)
    try:
        while loader.check_node():
            yield loader.get_node()
    finally:
        loader.dispose()
