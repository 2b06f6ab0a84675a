"""JSON Schema (draft 2020-12) of an inventory document, generated from the kinds' pydantic models.

Every kind in :data:`streamverse_ctl.core.registry.kinds` is included, so kinds added by plugins
(entry points or plugin files from ``--plugin-dir`` / ``STREAMVERSE_PLUGIN_PATH``) appear too. One
schema describes one YAML document
(``apiVersion``, ``kind``, ``metadata``, ``spec``); editors apply it to each document of a
multi-document file. ``spec`` is checked by an ``if kind == K then spec: <K's model>`` rule per
kind, which gives precise messages ("cachTb is not allowed") instead of a ``oneOf`` failure.

What the schema knows and the loader does too:

* unknown fields are errors (the models forbid extra fields); field names are camelCase (the
  loader also accepts the snake_case spelling, the schema steers to camelCase);
* a string containing a variable reference ``${name}`` is accepted wherever ``spec`` expects a
  number, boolean, enum value or patterned string, since it is only checked after substitution.

* ``Provider.spec.settings`` follows the settings model of its ``spec.type`` (one ``if``/``then`` rule
  per provider type, from :mod:`.provider_settings`), as validate checks it;
* labels are Kubernetes-style strings (keys and values), region endpoints are IP addresses.

What only ``streamverse ctl validate`` checks: cross-field and cross-document rules (references
to regions, ladders, PoPs; routing needs its fields; ``minNodes <= maxNodes``; ...).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from .. import API_VERSION
from ..core.errors import PermanentError
from ..core.registry import Registry, kinds
from . import models as m

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://streamverse.io/schemas/inventory-v1.json"
VARIABLE_REF = r"\$\{[A-Za-z_][A-Za-z0-9_]*\}"
_CONSTRAINED = ("pattern", "enum", "const", "format", "minLength", "maxLength")


def kind_models(registry: Registry[Any] | None = None) -> tuple[dict[str, type[BaseModel]], dict[str, str]]:
    """(kind -> spec model, kind -> why its model is unavailable) for every registered kind."""
    reg = registry if registry is not None else kinds
    found: dict[str, type[BaseModel]] = {}
    broken: dict[str, str] = {}
    for name in reg.names():
        try:
            obj = reg.get(name)
        except PermanentError as exc:
            broken[name] = str(exc)
            continue
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            found[name] = obj
        else:
            broken[name] = f"kind '{name}' is registered with {obj!r}, not a pydantic model"
    return found, broken


def inventory_schema(registry: Registry[Any] | None = None) -> dict[str, Any]:
    """The JSON Schema of one inventory document, covering every registered kind."""
    found, broken = kind_models(registry)
    settings = provider_settings_models()
    mode: JsonSchemaMode = "validation"
    models = list(dict.fromkeys([*found.values(), *settings.values()]))
    refs, top = models_json_schema([(model, mode) for model in models], by_alias=True)
    defs: dict[str, Any] = top.get("$defs", {})
    _tidy(defs)
    for def_name, schema in list(defs.items()):
        defs[def_name] = _convert(schema)
    spec_refs = {kind: refs[(model, mode)] for kind, model in found.items()}
    metadata = m.Metadata.model_json_schema()
    _tidy(metadata)
    metadata.pop("title", None)
    labels = metadata.get("properties", {}).get("labels")
    if isinstance(labels, dict):  # label values are substituted too: a ${variable} may stand for one
        if "patternProperties" in labels:  # a key not matching the key pattern is an error, as in validate
            labels["additionalProperties"] = False
        metadata["properties"]["labels"] = _convert(labels)
    rules: list[dict[str, Any]] = []
    for kind in sorted({*found, *broken}):
        if kind in spec_refs:
            spec: dict[str, Any] = dict(spec_refs[kind])
        else:
            spec = {"type": "object", "description": f"no schema: {broken[kind]}"}
        rules.append({
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"properties": {"spec": spec}},
        })
    for ptype, model in sorted(settings.items()):  # Provider.spec.settings by spec.type, as validate checks
        rules.append({
            "if": {"properties": {"kind": {"const": "Provider"},
                                  "spec": {"properties": {"type": {"const": ptype}}, "required": ["type"]}},
                   "required": ["kind", "spec"]},
            "then": {"properties": {"spec": {"properties": {"settings": dict(refs[(model, mode)])}}}},
        })
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": "StreamVerse inventory document",
        "description": "One YAML document of a StreamVerse Control inventory (streamverse ctl schema).",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": API_VERSION, "description": "always " + API_VERSION},
            "kind": {"enum": sorted({*found, *broken}), "description": "the document's kind"},
            "metadata": metadata,
            "spec": {"type": "object", "description": "the kind's settings"},
        },
        "allOf": rules,
        "$defs": defs,
    }


def provider_settings_models() -> dict[str, type[BaseModel]]:
    """provider type -> its settings model, for every registered provider that declares one."""
    from ..core.registry import providers
    from .provider_settings import BUILTIN_SETTINGS, settings_model

    out: dict[str, type[BaseModel]] = dict(BUILTIN_SETTINGS)
    for name in providers.names():
        if name not in out:
            model = settings_model(name)
            if model is not None:
                out[name] = model
    return out


def _tidy(schema: Any) -> None:
    """Drop pydantic's generated per-property titles ("Cachetb"): they only clutter editor hovers."""
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            for prop in props.values():
                if isinstance(prop, dict):
                    prop.pop("title", None)
        for value in schema.values():
            _tidy(value)
    elif isinstance(schema, list):
        for value in schema:
            _tidy(value)


def _needs_variable_escape(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if kind in ("integer", "number", "boolean"):
        return True
    return (kind == "string" or kind is None) and any(k in node for k in _CONSTRAINED)


def _wrap(node: dict[str, Any]) -> dict[str, Any]:
    keep: dict[str, Any] = {k: node.pop(k) for k in ("title", "description", "default", "examples") if k in node}
    return {**keep, "anyOf": [node, {"type": "string", "pattern": VARIABLE_REF,
                                     "description": "a ${variable} reference, checked after substitution"}]}


def _allow_variables(schema: Any) -> None:
    """Let a ``${name}`` string stand wherever a non-free-text scalar is expected (in place)."""
    if isinstance(schema, dict):
        for key, value in list(schema.items()):
            if key in ("properties", "$defs", "patternProperties"):
                if isinstance(value, dict):
                    for sub, sub_schema in list(value.items()):
                        value[sub] = _convert(sub_schema)
            elif key in ("items", "additionalProperties", "not"):
                schema[key] = _convert(value)
            elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
                schema[key] = [_convert(v) for v in value]


def _convert(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    _allow_variables(node)
    if "$ref" not in node and _needs_variable_escape(node):
        return _wrap(node)
    return node
