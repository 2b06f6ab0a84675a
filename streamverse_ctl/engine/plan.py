"""The Plan: field-level changes from actual to desired, in dependency order, and whether it is safe.

JSON form (``plan -o json`` and ``plan --out FILE``), ``format_version`` 1::

    {"format_version": 1, "id": ..., "created_at": ..., "inventory": ..., "platform": ...,
     "targets": [...], "fingerprint": ..., "summary": {"create": n, "update": n, "delete": n},
     "changes": [{"id", "action", "type", "name", "provider", "before", "after",
                  "fields": [{"path", "before", "after"}], "reason", "origin", "document", "takeover"}],
     "refusals": [{"name", "message"}], "overrides": [...], "unmanaged": [resource ids],
     "safe": bool, "binding": {"inventory", "desired", "providers", "state"}}

A saved plan (``plan --out``) also has ``"digest"``, and its ``binding`` is filled in. ``binding``
ties a plan to what it was made from: the inventory's resolved path, a digest of the desired state
it compiled to (overrides and drained regions included), a digest of the provider
bindings, and the state backend. ``digest`` is the SHA-256 of everything else in the file; ``plan
--out`` also records it in the state backend, so ``apply FILE`` refuses a file that was edited or
made against another state, and names what differs (:func:`saved_plan_problems`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import InputError, Problem, Refusal
from ..core.gcpause import paused_gc
from ..core.resources import Change, Resource, canonical_json, diff_fields, type_rank

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
    binding: dict[str, str] = field(default_factory=dict)  # inventory, desired, providers, state
    # the workspace's lock hold this plan was made under (never saved): such a plan needs no re-check
    made_under: int | None = field(default=None, compare=False)
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
        return self._view(self._content())

    def _view(self, content: dict[str, Any]) -> dict[str, Any]:
        return {**content, "summary": self.summary(), "safe": self.safe}

    def digest(self) -> str:
        """SHA-256 of the plan's whole content (what a saved file is bound to)."""
        return _content_digest(self._content())

    def _content(self) -> dict[str, Any]:
        """Everything a saved plan is bound to (derived values such as ``summary`` and ``safe`` aside)."""
        return {
            "format_version": FORMAT_VERSION, "id": self.id, "created_at": self.created_at,
            "inventory": self.inventory, "platform": self.platform, "targets": self.targets,
            "fingerprint": self.fingerprint, "changes": [c.as_dict() for c in self.changes],
            "refusals": [{"name": r.name, "message": r.message} for r in self.refusals],
            "overrides": self.overrides, "unmanaged": self.unmanaged, "scope": self.scope, "binding": self.binding,
        }

    def effect(self) -> list[tuple[str, str, str, str, str]]:
        """What applying it writes: (id, action, provider, before, after) per change, in order."""
        return [(c.id, c.action, c.provider, canonical_json(c.before), canonical_json(c.after)) for c in self.changes]

    def as_saved(self) -> dict[str, Any]:
        """The saved form: ``to_dict()`` plus the content's ``digest`` (``binding`` is set first: see
        ``Workspace.binding``)."""
        content = self._content()
        return {**self._view(content), "digest": _content_digest(content)}

    def save(self, path: str | Path) -> str:
        """Write the saved form; return its digest."""
        data = self.as_saved()
        Path(path).write_text(json.dumps(data, indent=2, default=str) + "\n")
        return str(data["digest"])

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
            plan = cls(
                changes=[Change.from_dict(c) for c in data["changes"]], fingerprint=data["fingerprint"],
                inventory=data.get("inventory", ""), platform=data.get("platform"),
                targets=data.get("targets", []),
                refusals=[Refusal(r["name"], r["message"]) for r in data.get("refusals", [])],
                overrides=data.get("overrides", []), unmanaged=data.get("unmanaged", []),
                scope=data.get("scope", {}), binding=data.get("binding", {}), id=data["id"],
                created_at=data["created_at"],
            )
            # what the file claims, compared with what it holds: an edit that forgot the digest shows here
            saved_digest, content = data["digest"], {k: data[k] for k in plan._content()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError([Problem(f"plan file is incomplete: missing {exc}", file)], "plan file") from exc
        if _content_digest(content) != saved_digest or plan.digest() != saved_digest:
            raise InputError([Problem("plan file was modified after `plan --out` saved it (its content does not "
                                      "match its digest); nothing was applied: run plan --out again", file)],
                             "plan file")
        return plan


def _content_digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def saved_plan_problems(plan: Plan, now: Plan, recorded_digest: str | None, state: str) -> list[str]:
    """Why the saved ``plan`` is not the plan ``now`` made under the lock; empty when it is."""
    out = []
    if recorded_digest is None:
        out.append(f"plan {plan.id} was not saved against this state ({state}): it was made with another "
                   "state backend, or the file was forged")
    elif recorded_digest != plan.digest():
        out.append(f"plan {plan.id} differs from the plan `plan --out` recorded in {state} (the file was modified)")
    before, after = plan.binding, now.binding
    labels = {"inventory": "inventory", "desired": "desired state (inventory, overrides, drained regions)",
              "providers": "provider bindings", "state": "state backend"}
    for key, label in labels.items():
        if before.get(key) != after.get(key):
            out.append(f"{label}: the plan was made from {before.get(key) or 'nothing recorded'}, "
                       f"now it is {after.get(key)}")
    if plan.fingerprint != now.fingerprint:
        out.append(f"actual state changed since the plan was made (created {plan.created_at})")
    if not out and plan.effect() != now.effect():
        out.append(effect_difference(plan, now))
    return out


def effect_difference(shown: Plan, now: Plan) -> str:
    """Name the changes that differ between the plan that was shown and the one the state gives now."""
    a = {e[0]: e for e in shown.effect()}
    b = {e[0]: e for e in now.effect()}
    gone = [k for k in a if k not in b]
    new = [k for k in b if k not in a]
    changed = [k for k in a if k in b and a[k] != b[k]]
    parts = []
    for label, ids in (("no longer needed", gone), ("new", new), ("different now", changed)):
        if ids:
            parts.append(f"{len(ids)} {label} ({', '.join(ids[:3])}{' …' if len(ids) > 3 else ''})")
    return (f"the plan that was shown has {len(shown.changes)} change(s); under the lock the state gives "
            f"{len(now.changes)}: " + "; ".join(parts or ["the same changes in another order"]))


def fingerprint(actual: Iterable[Resource]) -> str:
    """A digest of the actual state a plan was made from (managed and unmanaged resources)."""
    h = hashlib.sha256()
    for r in sorted(actual, key=lambda r: (r.provider, r.id)):
        h.update(f"{r.provider}\0{r.id}\0{int(r.managed)}\0{r.digest()}\n".encode())
    return h.hexdigest()[:24]


def order_key(rank: Mapping[str, int]) -> Callable[[Change], tuple[int, int, str]]:
    """Creates and updates in dependency order of their types, then deletes in reverse order.

    ``rank`` is :func:`~streamverse_ctl.core.resources.type_rank` (the registered types' order).
    """
    last = len(rank)

    def key(c: Change) -> tuple[int, int, str]:
        if c.action == "delete":
            return (1, -rank.get(c.type, last), c.name)
        return (0, rank.get(c.type, last), c.name)

    return key


@paused_gc()
def diff(desired: Sequence[Resource], actual: Sequence[Resource], reasons: Mapping[str, str] | None = None,
         drifted: Mapping[str, str] | None = None) -> tuple[list[Change], list[str]]:
    """Changes that take ``actual`` to ``desired``, and the ids of unmanaged actual resources left alone.

    Only managed actual resources are ever deleted. A desired resource that exists unmanaged is an
    update marked as a takeover (the ``adopt`` guardrail refuses it unless forced).
    """
    reasons = reasons or {}
    drifted = drifted or {}
    have = {(r.provider, r.id): r for r in actual}
    left = dict(have)  # actual resources no desired one matched (cheaper than a set of desired keys)
    changes: list[Change] = []
    for r in desired:
        key = (r.provider, r.id)
        cur = have.get(key)
        left.pop(key, None)
        if cur is None:
            changes.append(Change("create", r.type, r.name, r.provider, None, dict(r.spec),
                                  diff_fields({}, dict(r.spec)), reasons.get(r.id, drifted.get(r.id, "")), r.origin,
                                  r.document))
            continue
        fields = [] if cur.spec == r.spec else diff_fields(dict(cur.spec), dict(r.spec))
        if fields or not cur.managed:
            reason = reasons.get(r.id) or drifted.get(r.id, "")
            if not cur.managed:
                reason = "takes over a resource StreamVerse Control did not create" + (f"; {reason}" if reason else "")
            changes.append(Change("update", r.type, r.name, r.provider, dict(cur.spec), dict(r.spec), fields,
                                  reason, r.origin, r.document, takeover=not cur.managed))
    unmanaged = []
    for cur in left.values():
        if not cur.managed:
            unmanaged.append(cur.id)
            continue
        changes.append(Change("delete", cur.type, cur.name, cur.provider, dict(cur.spec), None,
                              diff_fields(dict(cur.spec), {}), drifted.get(cur.id, "no longer in the inventory")))
    changes.sort(key=order_key(type_rank()))
    return changes, sorted(unmanaged)


def select(changes: list[Change], targets: Sequence[str]) -> list[Change]:
    """Keep changes of the given targets: an inventory document ``Kind/name`` or a resource id (globs)."""
    if not targets:
        return changes
    out = []
    for c in changes:
        if any(fnmatch.fnmatchcase(c.document, t) or fnmatch.fnmatchcase(c.id, t) for t in targets):
            out.append(c)
    return out
