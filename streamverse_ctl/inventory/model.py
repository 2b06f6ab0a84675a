"""The validated inventory: documents with their typed specs and where each field came from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from ..core.errors import Problem
from .yamlsource import Path_, SourceDoc

M = TypeVar("M", bound=BaseModel)


@dataclass
class Document:
    api_version: str
    kind: str
    name: str
    labels: dict[str, str]
    spec: dict[str, Any]  # raw, after overlays and variables
    source: SourceDoc
    annotations: dict[str, str] = field(default_factory=dict)
    patched: dict[Path_, tuple[str, int]] = field(default_factory=dict)  # path -> (file, line) of a patch
    model: Any = None  # the validated spec model, set by validation

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def file(self) -> str:
        return self.source.file

    def locate(self, path: Path_) -> tuple[str, int]:
        """File and line that define ``path`` (e.g. ``("spec", "weights", "us-east")``)."""
        p = tuple(path)
        while p:
            if p in self.patched:
                return self.patched[p]
            if p in self.source.lines:
                return self.source.file, self.source.lines[p]
            p = p[:-1]
        return self.source.file, self.source.line

    def problem(self, message: str, path: Path_ = ()) -> Problem:
        file, line = self.locate(path)
        return Problem(message, file, line, self.ref, ".".join(str(p) for p in path))

    def describe(self) -> str:
        file, line = self.locate(())
        return f"{self.ref} ({file}:{line})"


@dataclass
class Inventory:
    root: Path
    documents: list[Document]
    variables: dict[str, Any] = field(default_factory=dict)
    state_path: Path | None = None
    state_url: str | None = None  # spec.state.url: wins over state_path
    state_password_file: Path | None = None
    layers: list[Path] = field(default_factory=list)  # base first, this directory last
    _index: dict[tuple[str, str], Document] = field(default_factory=dict, repr=False, compare=False)
    _index_key: tuple[int, int] | None = field(default=None, repr=False, compare=False)

    def of(self, kind: str) -> list[Document]:
        return [d for d in self.documents if d.kind == kind]

    def get(self, kind: str, name: str) -> Document | None:
        # an index, rebuilt when the document list is replaced or changes length (compiling a
        # production inventory looks up thousands of documents: a scan each time was quadratic)
        key = (id(self.documents), len(self.documents))
        if self._index_key != key:
            self._index = {}
            for d in self.documents:
                self._index.setdefault((d.kind, d.name), d)
            self._index_key = key
        return self._index.get((kind, name))

    def specs(self, kind: str, model: type[M]) -> dict[str, M]:
        """Name -> validated spec for every document of ``kind``."""
        return {d.name: d.model for d in self.documents if d.kind == kind and isinstance(d.model, model)}

    def __iter__(self) -> Iterator[Document]:
        return iter(self.documents)
