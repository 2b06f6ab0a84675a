"""The kinds and names of an inventory's documents, for a TAB, read without building the inventory.

Loading an inventory validates every document with pydantic; importing the models alone takes longer
than the rest of a TAB. A completer needs only each document's kind and name, so this reads the YAML
files the loader would read (every regular ``*.yaml``/``*.yml`` below the directory, sorted, and the
``extends`` chain of its ``Inventory`` document, an overlay's document replacing the base's in place)
and nothing else, from the loader's parse cache when it is warm. It stays inside the inventory root
as the loader does (``extends`` and linked files outside it are not read) and never fails: an
unreadable or broken file offers nothing.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUFFIXES = (".yaml", ".yml")
MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Doc:
    kind: str
    name: str

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Names:
    documents: list[Doc]

    def of(self, kind: str) -> list[Doc]:
        return [d for d in self.documents if d.kind == kind]


def read_names(directory: str | Path) -> Names:
    from ..core import trust

    root = Path(directory)
    if not root.is_dir():
        return Names([])
    boundary = trust.inventory_root(root)
    if not trust.within(root, [boundary]):
        return Names([])
    return Names(list(_layer(root, boundary, [])))


def _layer(directory: Path, boundary: Path, chain: list[Path]) -> dict[Doc, None]:
    from ..core import trust

    here = directory.resolve()
    docs: list[Doc] = []
    extends: Any = None
    seen_inventory = False
    for path in _files(directory):
        if not trust.within(path, [boundary]):
            continue
        for data in _documents(path):
            kind, meta = data.get("kind"), data.get("metadata")
            if kind == "Inventory":
                if not seen_inventory:
                    extends = (data.get("spec") or {}).get("extends") if isinstance(data.get("spec"), dict) else None
                seen_inventory = True
                continue
            name = meta.get("name") if isinstance(meta, dict) else None
            if isinstance(kind, str) and isinstance(name, str) and "${" not in name:
                docs.append(Doc(kind, name))
    merged: dict[Doc, None] = {}
    if isinstance(extends, str) and extends:
        base = (directory / extends).resolve()
        if base.is_dir() and trust.within(base, [boundary]) and base not in (*chain, here):
            merged = _layer(base, boundary, [*chain, here])
    for d in docs:
        merged[d] = None  # an overlay's document replaces the base's, in the base's place
    return merged


def _files(directory: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames.sort()
        for name in filenames:
            if name.endswith(SUFFIXES):
                path = Path(dirpath) / name
                try:
                    if stat.S_ISREG(path.stat().st_mode):
                        found.append(path)
                except OSError:
                    continue
    return sorted(found)


def _documents(path: Path) -> list[dict[str, Any]]:
    """The file's documents: from the loader's parse cache when it has parsed this content before
    (no YAML parser needed), else parsed here (not stored: the cache holds only the loader's parse)."""
    from ..inventory import parsecache

    try:
        if path.stat().st_size > MAX_BYTES:
            return []
        raw = path.read_bytes()
    except OSError:
        return []
    cached = parsecache.load(raw)
    if cached is not None:
        return [data for data, _line in cached[0] if isinstance(data, dict)]
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return [d for d in yaml.load_all(raw.decode("utf-8"), Loader=loader) if isinstance(d, dict)]
    except (UnicodeDecodeError, yaml.YAMLError, ValueError):
        return []
