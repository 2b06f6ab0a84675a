"""The generated JSON Schema accepts every real inventory document and rejects broken ones."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from streamverse_ctl.core.registry import Registry
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.inventory.models import PoPSpec
from streamverse_ctl.inventory.schema import inventory_schema

REPO = Path(__file__).resolve().parents[2]
INVENTORIES = REPO / "inventories"
BUILTIN_KINDS = {"Inventory", "Region", "PoP", "TrafficPolicy", "EncodingLadder", "TranscodePool",
                 "CacheWarmPolicy", "FailoverPolicy", "SLO", "Provider"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return inventory_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def _raw_documents(*dirs: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for d in dirs:
        for path in sorted((INVENTORIES / d).rglob("*.yaml")):
            for i, data in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
                if data is not None:
                    out.append((f"{path.relative_to(REPO)}#{i}", data))
    return out


def _errors(validator: jsonschema.Draft202012Validator, data: Any) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def test_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]["kind"]["enum"]) >= BUILTIN_KINDS
    ruled = {r["if"]["properties"]["kind"]["const"] for r in schema["allOf"]}
    assert ruled == set(schema["properties"]["kind"]["enum"])


def test_every_file_document_of_demo_production_and_base_is_valid(
        validator: jsonschema.Draft202012Validator) -> None:
    docs = _raw_documents("demo", "production", "base")
    kinds = {d["kind"] for _, d in docs}
    assert {"PoP", "Provider", "TranscodePool", "CacheWarmPolicy", "Inventory", "TrafficPolicy"} <= kinds
    assert sum(1 for _, d in docs if d["kind"] == "PoP") >= 200 + 12
    bad = {where: errs for where, d in docs if (errs := _errors(validator, d))}
    assert bad == {}


@pytest.mark.parametrize("inventory", ["demo", "production"])
def test_effective_documents_after_overlays_and_variables_are_valid(
        validator: jsonschema.Draft202012Validator, inventory: str) -> None:
    inv = load_inventory(INVENTORIES / inventory)
    assert inv.documents
    for d in inv.documents:
        data = {"apiVersion": d.api_version, "kind": d.kind,
                "metadata": {"name": d.name, "labels": d.labels}, "spec": d.spec}
        assert _errors(validator, data) == [], d.describe()


def _pop() -> dict[str, Any]:
    return {"apiVersion": "streamverse.io/v1", "kind": "PoP",
            "metadata": {"name": "ams1", "labels": {"tier": "core"}},
            "spec": {"region": "eu-west", "city": "Amsterdam", "country": "NL", "cacheTb": 200,
                     "capacityGbps": 800, "tier": "core"}}


def test_a_typo_in_a_spec_field_fails(validator: jsonschema.Draft202012Validator) -> None:
    assert _errors(validator, _pop()) == []
    doc = _pop()
    doc["spec"]["cachTb"] = doc["spec"].pop("cacheTb")
    errors = _errors(validator, doc)
    assert any("cachTb" in e and "not allowed" in e for e in errors), errors
    assert any("cacheTb" in e and "required" in e for e in errors), errors


@pytest.mark.parametrize("mutate, expect", [
    (lambda d: d.update(kind="Pop"), "'Pop' is not one of"),
    (lambda d: d.update(apiVersion="streamverse.io/v2"), "streamverse.io/v1"),
    (lambda d: d.update(extra=1), "'extra' was unexpected"),
    (lambda d: d["metadata"].update(nmae="x"), "'nmae' was unexpected"),
    (lambda d: d["metadata"].update(name="AMS_1"), "does not match"),
    (lambda d: d.pop("spec"), "'spec' is a required property"),
    (lambda d: d["spec"].update(capacityGbps=-5), "is not valid under any of the given schemas"),
    (lambda d: d["spec"].update(tier="mega"), "is not valid under any of the given schemas"),
    (lambda d: d["spec"].update(country="nld"), "is not valid under any of the given schemas"),
])
def test_broken_documents_fail(validator: jsonschema.Draft202012Validator, mutate: Any, expect: str) -> None:
    doc = copy.deepcopy(_pop())
    mutate(doc)
    errors = _errors(validator, doc)
    assert any(expect in e for e in errors), errors


def test_nested_typos_and_other_kinds_fail(validator: jsonschema.Draft202012Validator) -> None:
    policy = {"apiVersion": "streamverse.io/v1", "kind": "TrafficPolicy", "metadata": {"name": "www"},
              "spec": {"zone": "example.test.", "record": "www", "routing": "weighted", "weights": {"a": 1},
                       "healthCheck": {"protocol": "HTTPS", "intervall": 10}}}
    errors = _errors(validator, policy)
    assert any("intervall" in e for e in errors), errors
    # the same field name is fine on the kind that has it, wrong on another kind
    region_with_pop_field = {"apiVersion": "streamverse.io/v1", "kind": "Region", "metadata": {"name": "x"},
                             "spec": {"cacheTb": 1}}
    errors = _errors(validator, region_with_pop_field)
    assert any("cacheTb" in e and "not allowed" in e for e in errors), errors


def test_variable_references_are_accepted_where_values_are_typed(
        validator: jsonschema.Draft202012Validator) -> None:
    doc = _pop()
    doc["spec"].update(cacheTb="${cache}", country="${country}", tier="${tier}")
    assert _errors(validator, doc) == []
    doc["spec"]["cacheTb"] = "lots"
    assert _errors(validator, doc) != []


def test_schema_covers_the_kinds_of_the_given_registry() -> None:
    reg: Registry[Any] = Registry("test.kinds", "kind")
    reg.register("Edge", PoPSpec, origin="test")
    reg.register_lazy("Ghost", "no_such_module:Model", origin="test")
    schema = inventory_schema(reg)
    assert schema["properties"]["kind"]["enum"] == ["Edge", "Ghost"]
    v = jsonschema.Draft202012Validator(schema)
    assert _errors(v, {**_pop(), "kind": "Edge"}) == []
    assert _errors(v, _pop()) != []  # PoP is not a kind of this registry
    ghost = next(r for r in schema["allOf"] if r["if"]["properties"]["kind"]["const"] == "Ghost")
    assert "cannot be loaded" in ghost["then"]["properties"]["spec"]["description"]


def _ctl() -> list[str]:
    exe = Path(sys.executable).with_name("streamverse")
    return [str(exe), "ctl"] if exe.exists() else [sys.executable, "-m", "streamverse_ctl", "ctl"]


def test_cli_writes_the_schema_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    out = subprocess.run([*_ctl(), "schema"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    assert printed["$schema"].endswith("2020-12/schema")
    target = tmp_path / "sub" / "inventory.schema.json"
    run = subprocess.run([*_ctl(), "schema", "--out", str(target)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8")) == printed
    assert "wrote" in run.stderr
