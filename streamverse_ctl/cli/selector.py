"""``-l/--selector``: choose inventory documents by their ``metadata.labels``, as kubectl's equality
selectors do.

A selector is one or more requirements, comma-separated within one ``-l`` and across repeated
``-l`` options, all of which must hold (AND):

- ``key=value`` (or ``key==value``): the label is set to ``value``;
- ``key!=value``: the label is not ``value`` (documents without the label match, as in kubectl);
- ``key``: the label is set (to anything); ``!key``: it is not set.

On ``plan`` and ``apply`` the matching documents become ``Kind/name`` targets, so a saved plan
records exactly what was selected and the re-check under the lock re-plans the same documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..inventory.model import Document, Inventory

SelectorOpt = Annotated[list[str] | None, typer.Option(
    "--selector", "-l", metavar="KEY=VALUE",
    help="Only documents whose labels match: key=value, key!=value, key (set), !key (not set); comma-separated "
         "or repeated, all must hold.")]

PARAM = "'-l' / '--selector'"
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
KEY = re.compile(rf"^({_NAME}(\.{_NAME})*/)?{_NAME}$")
BAD_VALUE = re.compile(r"[=!,\s]")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "exists", "!exists"
    value: str = ""

    def matches(self, labels: Mapping[str, object]) -> bool:
        have = self.key in labels
        if self.op == "exists":
            return have
        if self.op == "!exists":
            return not have
        equal = have and str(labels[self.key]) == self.value
        return equal if self.op == "=" else not equal

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!exists":
            return f"!{self.key}"
        return f"{self.key}{self.op}{self.value}"


def parse(expressions: Iterable[str] | None) -> list[Requirement]:
    """The requirements of ``-l`` options; every malformed one is named at once (exit 1)."""
    out: list[Requirement] = []
    problems: list[str] = []
    for expr in expressions or []:
        for term in expr.split(","):
            term = term.strip()
            req, problem = _requirement(term)
            if problem:
                problems.append(f"'{term}' in '{expr}': {problem}" if term != expr else f"'{term}': {problem}")
            elif req is not None:
                out.append(req)
    if problems:
        raise typer.BadParameter(
            "; ".join(problems) + " (expected key=value, key!=value, key or !key)", param_hint=PARAM)
    return out


def _requirement(term: str) -> tuple[Requirement | None, str]:
    if not term:
        return None, "empty requirement"
    if term.startswith("!"):
        key, op, value = term[1:].strip(), "!exists", ""
    elif "!=" in term:
        key, value = term.split("!=", 1)
        op = "!="
    elif "=" in term:
        key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
        op = "="
    else:
        key, op, value = term, "exists", ""
    key, value = key.strip(), value.strip()
    if not key:
        return None, "no label key"
    if not KEY.match(key):
        return None, f"'{key}' is not a label key (letters, digits, '-', '_', '.', an optional 'prefix/')"
    if BAD_VALUE.search(value):
        return None, f"'{value}' is not a label value (no '=', '!', ',' or spaces)"
    return Requirement(key, op, value), ""


def matches(labels: Mapping[str, object], requirements: Sequence[Requirement]) -> bool:
    return all(r.matches(labels) for r in requirements)


def documents(inventory: Inventory, requirements: Sequence[Requirement]) -> list[Document]:
    return [d for d in inventory.documents if matches(d.labels or {}, requirements)]


def as_text(requirements: Sequence[Requirement]) -> str:
    return ",".join(map(str, requirements))


def targets(inventory: Inventory, expressions: Sequence[str] | None, given: Sequence[str] | None) -> list[str]:
    """The plan targets: ``--target`` values as given, or the ``Kind/name`` of every document the
    selector matches (a selector matching nothing is an error: it would otherwise plan everything)."""
    requirements = parse(expressions)
    if not requirements:
        return list(given or [])
    if given:
        raise typer.BadParameter("--target and --selector cannot be combined: use one or the other",
                                 param_hint=PARAM)
    docs = documents(inventory, requirements)
    if not docs:
        from ..core.errors import PermanentError

        raise PermanentError(f"no inventory document has labels matching '{as_text(requirements)}'; "
                             "nothing was planned")
    return [_literal(d.ref) for d in docs]


def _literal(ref: str) -> str:
    """``ref`` as a target pattern matching only itself (targets are globs)."""
    return re.sub(r"([*?\[])", r"[\1]", ref)
