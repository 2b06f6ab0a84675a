"""The Plan: field-level changes from actual to desired, in dependency order, and whether it is safe.

JSON form (``plan -o json`` and ``plan --out FILE``), ``format_version`` 1::

    {"format_version": 1, "id": ..., "created_at": ..., "inventory": ..., "platform": ...,
     "targets": [...], "fingerprint": ..., "summary": {"create": n, "update": n, "delete": n},
     "changes": [{"id", "action", "type", "name", "provider", "before", "after",
                  "fields": [{"path", "before", "after"}], "reason", "origin"}],
     "refusals": [{"name", "message"}], "overrides": [...], "unmanaged": [resource ids],
     "safe": bool}
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import InputError, Problem, Refusal
from ..core.resources import TYPE_ORDER, Change, Resource, diff_fields

FORMAT_VERSION = 1


@dataclass
class Plan:
    changes: list[Change]
    fingerprint: str
    inventory: str = ""
    platform: str | None = None
    targets: list[str] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    scope: dict[str, list[str]] = field(default_factory=dict)  # provider -> resource types read
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def safe(self) -> bool:
        return not self.refusals

    @property
    def empty(self) -> bool:
        return not self.changes

    def summary(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "delete": 0}
        for c in self.changes:
            out[c.action] += 1
        return out

    def stages(self) -> list[tuple[str, list[Change]]]:
        """Changes grouped into stages that must run one after another (capacity before traffic)."""
        out: list[tuple[str, list[Change]]] = []
        for c in self.changes:
            label = f"{'delete' if c.action == 'delete' else 'converge'} {c.type}"
            if out and out[-1][0] == label:
                out[-1][1].append(c)
            else:
                out.append((label, [c]))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION, "id": self.id, "created_at": self.created_at,
            "inventory": self.inventory, "platform": self.platform, "targets": self.targets,
            "fingerprint": self.fingerprint, "summary": self.summary(),
            "changes": [c.as_dict() for c in self.changes],
            "refusals": [{"name": r.name, "message": r.message} for r in self.refusals],
            "overrides": self.overrides, "unmanaged": self.unmanaged, "scope": self.scope, "safe": self.safe,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        file = str(path)
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:
            raise InputError([Problem(f"cannot read plan file: {exc.strerror}", file)], "plan file") from exc
        except json.JSONDecodeError as exc:
            raise InputError([Problem(f"not a plan file (invalid JSON: {exc.msg})", file, exc.lineno)],
                             "plan file") from exc
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise InputError([Problem(f"not a plan file of format_version {FORMAT_VERSION}", file)], "plan file")
        try:
            return cls(
                changes=[Change.from_dict(c) for c in data["changes"]], fingerprint=data["fingerprint"],
                inventory=data.get("inventory", ""), platform=data.get("platform"),
                targets=data.get("targets", []),
                refusals=[Refusal(r["name"], r["message"]) for r in data.get("refusals", [])],
                overrides=data.get("overrides", []), unmanaged=data.get("unmanaged", []),
                scope=data.get("scope", {}), id=data["id"], created_at=data["created_at"],
            )
        except (KeyError, TypeError) as exc:
            raise InputError([Problem(f"plan file is incomplete: missing {exc}", file)], "plan file") from exc


def fingerprint(actual: Iterable[Resource]) -> str:
    """A digest of the actual state a plan was made from (managed and unmanaged resources)."""
    h = hashlib.sha256()
    for r in sorted(actual, key=lambda r: (r.provider, r.id)):
        h.update(f"{r.provider}\0{r.id}\0{int(r.managed)}\0{r.digest()}\n".encode())
    return h.hexdigest()[:24]


def order_key(c: Change) -> tuple[int, int, str]:
    if c.action == "delete":
        return (1, -TYPE_ORDER.get(c.type, 99), c.name)
    return (0, TYPE_ORDER.get(c.type, 99), c.name)


def diff(desired: Sequence[Resource], actual: Sequence[Resource], reasons: Mapping[str, str] | None = None,
         drifted: Mapping[str, str] | None = None) -> tuple[list[Change], list[str]]:
    """Changes that take ``actual`` to ``desired``, and the ids of unmanaged actual resources left alone.

    Only managed actual resources are ever deleted. A desired resource that exists unmanaged is an
    update marked as a takeover (the ``adopt`` guardrail refuses it unless forced).
    """
    reasons = reasons or {}
    drifted = drifted or {}
    have = {(r.provider, r.id): r for r in actual}
    want = {(r.provider, r.id) for r in desired}
    changes: list[Change] = []
    for r in desired:
        cur = have.get((r.provider, r.id))
        if cur is None:
            changes.append(Change("create", r.type, r.name, r.provider, None, dict(r.spec),
                                  diff_fields({}, dict(r.spec)), reasons.get(r.id, drifted.get(r.id, "")), r.origin))
            continue
        fields = [] if cur.spec == r.spec else diff_fields(dict(cur.spec), dict(r.spec))
        if fields or not cur.managed:
            reason = reasons.get(r.id) or drifted.get(r.id, "")
            if not cur.managed:
                reason = "takes over a resource StreamVerse Control did not create" + (f"; {reason}" if reason else "")
            changes.append(Change("update", r.type, r.name, r.provider, dict(cur.spec), dict(r.spec), fields,
                                  reason, r.origin))
    unmanaged = []
    for key, cur in have.items():
        if key in want:
            continue
        if not cur.managed:
            unmanaged.append(cur.id)
            continue
        changes.append(Change("delete", cur.type, cur.name, cur.provider, dict(cur.spec), None,
                              diff_fields(dict(cur.spec), {}), drifted.get(cur.id, "no longer in the inventory")))
    changes.sort(key=order_key)
    return changes, sorted(unmanaged)


def select(changes: list[Change], targets: Sequence[str]) -> list[Change]:
    """Keep changes of the given targets: an inventory document ``Kind/name`` or a resource id (globs)."""
    if not targets:
        return changes
    out = []
    for c in changes:
        doc = c.origin.split(" ", 1)[0] if c.origin else ""
        if any(fnmatch.fnmatchcase(doc, t) or fnmatch.fnmatchcase(c.id, t) for t in targets):
            out.append(c)
    return out
