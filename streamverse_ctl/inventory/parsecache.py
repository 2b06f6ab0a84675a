"""A content-addressed cache of parsed YAML files, so an unchanged inventory is not parsed again.

The key is the SHA-256 of the file's bytes (and this format's version), so an edited file always
misses; the value is the parsed documents' data and start lines (line maps are recomputed only when a
problem needs one), written with :mod:`marshal` (plain
data only: a file whose data marshal cannot hold, e.g. YAML timestamps, is simply not cached).
Location: ``STREAMVERSE_CACHE_DIR``, else ``$XDG_CACHE_HOME/streamverse-ctl``, else
``~/.cache/streamverse-ctl``. ``STREAMVERSE_CACHE=off`` disables it. A broken or unreadable cache
entry is ignored and rewritten; the cache never changes what a file means.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from pathlib import Path
from typing import Any

VERSION = b"yaml-data-2"


def _dir() -> Path | None:
    if os.environ.get("STREAMVERSE_CACHE", "").lower() in ("off", "0", "no", "false"):
        return None
    base = os.environ.get("STREAMVERSE_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg or Path.home() / ".cache") / "streamverse-ctl"


def _path(raw: bytes) -> Path | None:
    d = _dir()
    if d is None:
        return None
    key = hashlib.sha256(VERSION + b"\0" + raw).hexdigest()
    return d / "yaml" / key[:2] / key


def load(raw: bytes) -> tuple[list[Any], list[Any]] | None:
    path = _path(raw)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            value = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not (isinstance(value, tuple) and len(value) == 2):
        return None
    return value


def store(raw: bytes, docs: list[Any], problems: list[Any]) -> None:
    path = _path(raw)
    if path is None:
        return
    try:
        data = marshal.dumps((docs, problems))
    except ValueError:  # e.g. a datetime from a YAML timestamp: not plain data, not cached
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:  # a read-only home or a full disk: work uncached
        return
