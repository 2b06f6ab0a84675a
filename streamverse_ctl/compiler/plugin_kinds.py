"""Resources made by kinds that plugins add, checked against the registered resource types.

A plugin kind compiles itself: its spec model may define ``resources(name, doc) -> [Resource]``.
Each resource it returns must be of a registered type (``core.registry.resource_types``); when the
type has a ``spec_model``, the resource's spec must satisfy it. Problems name the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ..core.errors import Problem
from ..core.registry import resource_types
from ..core.resources import Resource, ResourceType
from ..inventory.model import Inventory


def plugin_resources(inv: Inventory, models: Mapping[tuple[str, str], Any], problems: list[Problem]
                     ) -> list[Resource]:
    out: list[Resource] = []
    for (kind, name), spec in models.items():
        fn = getattr(spec, "resources", None)
        if not callable(fn):
            continue
        doc = inv.get(kind, name)
        where = doc.describe() if doc else f"{kind}/{name}"
        for made in fn(name, doc):
            r = Resource(made.type, made.name, made.spec, made.provider, made.depends_on, made.requires,
                         made.origin or where, made.managed, document=made.document or f"{kind}/{name}")
            problem = _check(r, where)
            if problem:
                problems.append(Problem(problem, doc.file if doc else "", doc.source.line if doc else None,
                                        doc.ref if doc else "", "spec"))
                continue
            out.append(r)
    return out


def _check(r: Resource, where: str) -> str | None:
    if r.type not in resource_types:
        known = ", ".join(resource_types.names())
        return (f"{where} compiles to {r.id}, but '{r.type}' is not a registered resource type (known: {known}); "
                "a plugin registers one with core.registry.resource_types.register(NAME, ResourceType(...))")
    rtype: ResourceType = resource_types.get(r.type)
    if rtype.spec_model is None:
        return None
    try:
        rtype.spec_model.model_validate(dict(r.spec))
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<spec>'}: {e['msg']}" for e in exc.errors())
        return f"{where} compiles to {r.id}, whose spec does not match resource type {r.type}: {errors}"
    return None
