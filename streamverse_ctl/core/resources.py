"""Provider-neutral resources and the changes that converge them.

The compiler turns an inventory into :class:`Resource` objects; providers read actual state as
``Resource`` objects too, so plan can diff the two field by field. A resource's ``spec`` is plain
JSON data (dicts, lists, str, int, float, bool, None) so it can be hashed, saved and compared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A kind of provider-neutral resource, registered in ``core.registry.resource_types``.

    ``stage`` is its dependency stage: creates and updates run in ascending stage (capacity before
    the traffic that needs it), deletes in descending stage. ``spec_model``, when given, is a
    pydantic model every compiled resource of this type must satisfy (checked at compile time for
    resources made by plugin kinds) and the source of the type's JSON Schema.
    """

    name: str
    stage: int
    description: str = ""
    spec_model: type[BaseModel] | None = None

    def schema(self) -> dict[str, Any] | None:
        return None if self.spec_model is None else self.spec_model.model_json_schema()


def resource_types() -> list[ResourceType]:
    """Every registered resource type, in dependency order (stage, then name)."""
    from .registry import resource_types as registry

    return sorted((registry.get(n) for n in registry.names()), key=lambda t: (t.stage, t.name))


def resource_type_names() -> list[str]:
    """The registered resource type names, in dependency order."""
    return [t.name for t in resource_types()]


def type_rank() -> dict[str, int]:
    """Resource type name -> its position in dependency order (for sorting changes)."""
    return {name: i for i, name in enumerate(resource_type_names())}


Action = Literal["create", "update", "delete"]


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def text_digest(text: str) -> str:
    """Digest of a spec's canonical JSON text (what :func:`spec_digest` hashes)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def spec_digest(spec: Any) -> str:
    return text_digest(canonical_json(spec))


@dataclass(frozen=True, slots=True)
class Resource:
    """One thing a provider owns.

    ``name`` is unique within ``type``; ``id`` (``type/name``) is unique overall.
    ``requires`` lists the provider features the resource needs (e.g. ``dns.routing.weighted``)
    so an unsupported feature is refused at plan time. ``origin`` says which inventory document
    produced it, for messages. ``managed`` is False for actual resources the tool does not own.
    ``etag``, when a provider sets it, must equal ``spec_digest(spec)``. ``owner``, on an actual
    resource, is the lineage of the state whose apply last wrote it, read from the provider's
    ownership marker ("" when the marker holds none: written before lineages were recorded, or
    not ours); the ``foreign-state`` guardrail compares it with the workspace's state lineage.
    """

    type: str
    name: str
    spec: Mapping[str, Any]
    provider: str = ""
    depends_on: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    origin: str = ""
    managed: bool = True
    etag: str = ""  # the spec's digest when the provider already knows it (saves re-serialising)
    owner: str = field(default="", compare=False)  # lineage of the state that wrote it (actual resources)
    document: str = field(default="", compare=False)  # "Kind/name" of the inventory document it compiles from

    @property
    def id(self) -> str:
        return f"{self.type}/{self.name}"

    def digest(self) -> str:
        return self.etag or spec_digest(self.spec)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "provider": self.provider,
            "spec": dict(self.spec),
            "managed": self.managed,
            "origin": self.origin,
        }


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str  # dotted path inside spec, e.g. "weight" or "health_check.path"
    before: Any
    after: Any


@dataclass(slots=True)
class Change:
    """One create, update or delete of one resource, with field-level before -> after."""

    action: Action
    type: str
    name: str
    provider: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    fields: list[FieldChange] = field(default_factory=list)
    reason: str = ""  # why, when not just "inventory says so" (e.g. an override or a drained region)
    origin: str = ""  # the document it comes from, for people: "Kind/name (file:line)"
    document: str = ""  # the same document as data: "Kind/name" ("" for a delete)
    takeover: bool = False  # it updates a resource StreamVerse Control did not create (the adopt guardrail)

    @property
    def id(self) -> str:
        return f"{self.type}/{self.name}"

    @property
    def resource(self) -> Resource:
        """The resource as it should be after the change (before it, for a delete)."""
        spec = self.after if self.after is not None else self.before
        return Resource(self.type, self.name, dict(spec or {}), self.provider, origin=self.origin,
                        document=self.document)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "type": self.type,
            "name": self.name,
            "provider": self.provider,
            "before": None if self.before is None else dict(self.before),
            "after": None if self.after is None else dict(self.after),
            "fields": [{"path": f.path, "before": f.before, "after": f.after} for f in self.fields],
            "reason": self.reason,
            "origin": self.origin,
            "document": self.document,
            "takeover": self.takeover,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Change:
        return cls(
            action=d["action"],
            type=d["type"],
            name=d["name"],
            provider=d["provider"],
            before=d.get("before"),
            after=d.get("after"),
            fields=[FieldChange(f["path"], f["before"], f["after"]) for f in d.get("fields", [])],
            reason=d.get("reason", ""),
            origin=d.get("origin", ""),
            document=d.get("document", ""),
            takeover=bool(d.get("takeover", False)),
        )


def diff_fields(before: Any, after: Any, prefix: str = "") -> list[FieldChange]:
    """Field-level differences between two JSON values; dicts are walked, lists compared whole."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out: list[FieldChange] = []
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in before:
                out.append(FieldChange(path, None, after[key]))
            elif key not in after:
                out.append(FieldChange(path, before[key], None))
            elif before[key] != after[key]:
                out.extend(diff_fields(before[key], after[key], path))
        return out
    if before != after:
        return [FieldChange(prefix or "(value)", before, after)]
    return []


def index(resources: Iterable[Resource]) -> dict[str, Resource]:
    return {r.id: r for r in resources}
