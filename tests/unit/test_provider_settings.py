"""Typed provider settings (issue 8, item 6): validate checks Provider.spec.settings against each
type's model, schema exports the same models, and the two agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from streamverse_ctl.core.errors import InputError
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.inventory.provider_settings import BUILTIN_SETTINGS
from streamverse_ctl.inventory.schema import inventory_schema
from tests.unit.helpers import minimal

REPO = Path(__file__).resolve().parents[2]
KEY = {"fromEnv": "PDNS_API_KEY"}

GOOD: list[tuple[str, dict[str, Any]]] = [
    ("sim", {}),
    ("sim", {"path": "/tmp/sim.db", "concurrency": 2}),
    ("sim", {"apiToken": {"fromEnv": "X"}, "anything": [1]}),  # the sim stands in for other providers
    ("route53", {"zone": "example.test."}),
    ("route53", {"hostedZoneId": "Z123", "waitInsync": True, "pageSize": 100, "endpointUrl": "http://127.0.0.1:5"}),
    ("rfc2136", {"server": "127.0.0.1:53", "zone": "example.test.", "tsigKeyName": "k",
                 "tsigSecret": {"fromFile": "/run/tsig"}, "nameservers": ["127.0.0.1:53"], "timeout": 2.5}),
    ("powerdns", {"apiUrl": "http://127.0.0.1:8081", "apiKey": KEY, "zone": "example.test.", "luaRecords": True,
                  "weightedSelector": "pickwhashed"}),
    ("kubernetes", {}),
    ("kubernetes", {"server": {"ctx": "https://127.0.0.1:6443"}, "token": {"fromEnv": "KTOKEN"},
                    "contexts": {"r1": "ctx"}, "insecureSkipTlsVerify": True}),
]
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("route53", {"zone": "example.test.", "pageSize": "abc"},
     "spec.settings.pageSize: Input should be a valid integer"),
    ("route53", {"zone": "example.test.", "waitInSync": True},
     "spec.settings.waitInSync: unknown field (did you mean waitInsync?)"),
    ("route53", {"zone": "example.test.", "wait_insync": True},
     "spec.settings.wait_insync: unknown field (did you mean waitInsync?)"),
    ("route53", {"zone": "example.test.", "pageSize": 1000}, "spec.settings.pageSize: Input should be less than"),
    ("route53", {"region": "us-east-1"}, "spec.settings: route53 needs hostedZoneId or zone"),
    ("rfc2136", {"server": "127.0.0.1:53", "zone": "z.", "tsigKeyName": "k"},
     "spec.settings.tsigSecret: missing required field 'tsigSecret'"),
    ("rfc2136", {"server": "127.0.0.1:53", "zone": "z.", "tsigKeyName": "k", "tsigSecret": {"fromEnv": "A"},
                 "batchSize": 0}, "spec.settings.batchSize: Input should be greater than or equal to 1"),
    ("powerdns", {"apiUrl": "http://x:1", "apiKey": {"fromEnv": "A", "fromFile": "/b"}, "zone": "z."},
     "spec.settings.apiKey: a secret reference is {fromEnv: NAME} or {fromFile: PATH}"),
    ("powerdns", {"apiUrl": "http://x:1", "apiKey": KEY, "zone": "z.", "weightedSelector": "random"},
     "spec.settings.weightedSelector: Input should be 'pickwrandom' or 'pickwhashed'"),
    ("kubernetes", {"tmeout": 3}, "spec.settings.tmeout: unknown field (did you mean timeout?)"),
    ("kubernetes", {"timeout": "soon"}, "spec.settings.timeout: Input should be a valid number"),
    ("kubernetes", {"contexts": {"r1": {"nested": 1}}}, "spec.settings.contexts.r1: Input should be a valid string"),
    ("sim", {"path": 1}, "spec.settings.path: Input should be a valid string"),
    ("sim", {"concurrency": 0}, "spec.settings.concurrency: Input should be greater than or equal to 1"),
]


def provider_doc(ptype: str, settings: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "streamverse.io/v1", "kind": "Provider", "metadata": {"name": "p"},
            "spec": {"type": ptype, "serves": {"types": ["dns.*"] if ptype != "kubernetes" else ["transcode.*"]},
                     "settings": settings}}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(inventory_schema())


def validate_says(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    inv = minimal(tmp_path / "inv", extra={"providers.yaml": yaml.safe_dump(data, sort_keys=False)})
    try:
        load_inventory(inv)
    except InputError as exc:
        return [str(p) for p in exc.problems]
    return []


@pytest.mark.parametrize(("ptype", "settings"), GOOD, ids=lambda v: repr(v)[:60])
def test_good_settings_pass_validate_and_schema(tmp_path: Path, validator: jsonschema.Draft202012Validator,
                                                ptype: str, settings: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    data = provider_doc(ptype, settings)
    monkeypatch.setenv("STREAMVERSE_SECRETS_DIR", "/run")  # the secrets directory the tsigSecret file is in
    assert validate_says(tmp_path, data) == []
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize(("ptype", "settings", "message"), BAD, ids=lambda v: repr(v)[:60])
def test_bad_settings_fail_validate_with_file_line_field_and_fail_the_schema(
        tmp_path: Path, validator: jsonschema.Draft202012Validator, ptype: str, settings: dict[str, Any],
        message: str) -> None:
    data = provider_doc(ptype, settings)
    said = validate_says(tmp_path, data)
    assert len(said) == 1 and "providers.yaml:" in said[0] and "Provider/p: " in said[0], said
    assert message in said[0]
    assert not validator.is_valid(data)


def test_each_provider_class_declares_the_model_validate_uses() -> None:
    from streamverse_ctl.core.registry import providers

    for ptype, model in BUILTIN_SETTINGS.items():
        assert providers.get(ptype).settings_model is model, ptype


def test_the_shipped_inventories_pass_and_validate_imports_no_client_library() -> None:
    code = ("import sys; from streamverse_ctl.inventory import load_inventory; "
            "load_inventory('inventories/production'); "
            "print(sorted(m for m in ('boto3', 'dns', 'httpx', 'kubernetes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
