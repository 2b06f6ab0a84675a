"""The trust boundary of an inventory: names are DNS labels, files are read only inside the inventory root
(or a named secrets directory), nested secrets are references, names never leave their directory."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from streamverse_ctl.core.errors import InputError, PermanentError, Problem
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.inventory.schema import inventory_schema

from .helpers import doc, minimal


def problems_of(directory: Path) -> list[Problem]:
    with pytest.raises(InputError) as err:
        load_inventory(directory)
    return list(err.value.problems)


# ----- metadata.name ----------------------------------------------------------------------------
BAD_NAMES = ["../../../tmp/x", "NYC 1!", "x" * 10_000, "a" * 64, "-edge", "edge-", "fra.1", "Fra1", "a_b", ""]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_that_is_not_a_dns_label_is_a_problem_with_file_line_and_field(tmp_path: Path, name: str) -> None:
    inv = minimal(tmp_path / "inv", extra={"bad.yaml": "# a comment\n" + doc("PoP", name, {
        "region": "r1", "city": "X", "country": "US", "cacheTb": 1, "capacityGbps": 1})})
    problems = [p for p in problems_of(inv) if p.field == "metadata.name"]
    assert len(problems) == 1, problems
    p = problems[0]
    assert p.file.endswith("bad.yaml") and p.line == 5
    assert "is not a DNS label" in p.message
    assert len(str(p)) < 400  # a 10,000-character name is not printed whole


def test_every_bad_name_is_reported_at_once_for_every_kind(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv", extra={
        "a.yaml": doc("EncodingLadder", "Main Ladder", {"rungs": [], "codecs": [], "formats": []}),
        "b.yaml": doc("FailoverPolicy", "../escape", {}),
        "inventory.yaml": doc("Inventory", "UPPER", {}),
    })
    fields = {(Path(p.file).name, p.field) for p in problems_of(inv) if "not a DNS label" in p.message}
    assert fields == {("a.yaml", "metadata.name"), ("b.yaml", "metadata.name"), ("inventory.yaml", "metadata.name")}


@pytest.mark.parametrize("name", ["x9", "us-east", "a" * 63, "0", "transcode-ap-pacific"])
def test_dns_label_names_are_valid(tmp_path: Path, name: str) -> None:
    inv = minimal(tmp_path / "inv", extra={"ok.yaml": doc("PoP", name, {
        "region": "r1", "city": "X", "country": "US", "cacheTb": 1, "capacityGbps": 1})})
    assert load_inventory(inv).get("PoP", name) is not None


@pytest.mark.parametrize("name", [*BAD_NAMES, "p0", "a" * 63])
def test_the_json_schema_agrees_with_validate_on_names(tmp_path: Path, name: str) -> None:
    validator = jsonschema.Draft202012Validator(inventory_schema())
    document = yaml.safe_load(doc("FailoverPolicy", name, {}))
    schema_ok = not list(validator.iter_errors(document))
    inv = minimal(tmp_path / "inv", extra={"policies.yaml": doc("FailoverPolicy", name, {})})
    try:
        load_inventory(inv)
        validate_ok = True
    except InputError:
        validate_ok = False
    assert schema_ok == validate_ok == (name in ("p0", "a" * 63))


# ----- extends stays inside the inventory root ----------------------------------------------------
def overlay_extending(tmp_path: Path, extends: str) -> Path:
    return minimal(tmp_path / "inventories" / "over",
                   extra={"inventory.yaml": "# overlay\n" + doc("Inventory", "over", {"extends": extends})})


@pytest.mark.parametrize("extends", ["/etc", "../../..", "../../outside"])
def test_extends_outside_the_inventory_root_is_a_problem_naming_file_line_field_and_root(
        tmp_path: Path, extends: str) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "r.yaml").write_text(doc("Region", "evil", {}))
    [p] = [p for p in problems_of(overlay_extending(tmp_path, extends)) if p.field == "spec.extends"]
    assert p.file.endswith("inventory.yaml") and p.line == 7
    assert "extends leads outside the inventory root" in p.message
    assert str(tmp_path / "inventories") in p.message and "--inventory-root" in p.message


def test_extends_through_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    minimal(tmp_path / "elsewhere" / "base")
    (tmp_path / "inventories").mkdir()
    (tmp_path / "inventories" / "base").symlink_to(tmp_path / "elsewhere" / "base")
    problems = problems_of(overlay_extending(tmp_path, "../base"))
    assert any("extends leads outside the inventory root" in p.message for p in problems), problems


def test_extends_inside_the_root_works_and_the_flag_widens_the_root(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    minimal(tmp_path / "inventories" / "base")
    over = tmp_path / "inventories" / "over"
    over.mkdir(parents=True)
    (over / "inventory.yaml").write_text(doc("Inventory", "over", {"extends": "../base"}))
    assert load_inventory(over).get("Region", "r1") is not None  # default root: the parent of -i
    shared = minimal(tmp_path / "shared")
    (over / "inventory.yaml").write_text(doc("Inventory", "over", {"extends": "../../shared"}))
    assert any("outside the inventory root" in p.message for p in problems_of(over))
    assert load_inventory(over, inventory_root=tmp_path).get("Region", "r1") is not None
    monkeypatch.setenv("STREAMVERSE_INVENTORY_ROOT", str(tmp_path))
    assert load_inventory(over).get("Region", "r1") is not None
    assert shared.is_dir()


def test_an_inventory_outside_an_explicit_root_is_refused(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv")
    (tmp_path / "root").mkdir()
    [p] = problems_of_root(inv, tmp_path / "root")
    assert "inventory directory is outside the inventory root" in p.message


def problems_of_root(directory: Path, root: Path) -> list[Problem]:
    with pytest.raises(InputError) as err:
        load_inventory(directory, inventory_root=root)
    return list(err.value.problems)


# ----- fromFile stays inside the root or a secrets directory --------------------------------------
def provider(settings: dict[str, object]) -> str:
    return "# providers\n" + doc("Provider", "dns", {"type": "sim", "serves": {"types": ["*"]}, "settings": settings})


@pytest.fixture
def aws_credentials(tmp_path: Path) -> Path:
    creds = tmp_path / "home" / ".aws" / "credentials"
    creds.parent.mkdir(parents=True)
    creds.write_text("[default]\naws_secret_access_key = AKIA-NOT-TO-BE-SENT\n")
    return creds


def test_from_file_outside_the_root_is_a_problem_naming_file_line_field(tmp_path: Path,
                                                                       aws_credentials: Path) -> None:
    inv = minimal(tmp_path / "inventories" / "demo", extra={"p.yaml": provider(
        {"apiKey": {"fromFile": str(aws_credentials)},
         "headers": {"X-API-Key": {"fromFile": "../../home/.aws/credentials"}}})})
    problems = [p for p in problems_of(inv) if "fromFile" in p.field]
    assert {p.field for p in problems} == {"spec.settings.apiKey.fromFile", "spec.settings.headers.X-API-Key.fromFile"}
    for p in problems:
        assert p.file.endswith("p.yaml") and p.line is not None and p.line > 1
        assert "is outside the inventory root and the secrets directories" in p.message
        assert "--secrets-dir" in p.message and "STREAMVERSE_SECRETS_DIR" in p.message
        assert "AKIA" not in p.message


def test_from_file_symlink_inside_the_root_pointing_out_is_refused(tmp_path: Path, aws_credentials: Path) -> None:
    inv = minimal(tmp_path / "inventories" / "demo", extra={"p.yaml": provider({"apiKey": {"fromFile": "key"}})})
    (inv / "key").symlink_to(aws_credentials)
    [p] = [p for p in problems_of(inv) if "fromFile" in p.field]
    assert f"a link to {aws_credentials}" in p.message


def test_from_file_inside_the_root_or_a_secrets_dir_is_accepted_and_made_absolute(
        tmp_path: Path, aws_credentials: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = minimal(tmp_path / "inventories" / "demo", extra={"p.yaml": provider(
        {"apiKey": {"fromFile": "../secrets/key"}, "tsigSecret": {"fromFile": str(aws_credentials)}})})
    (tmp_path / "inventories" / "secrets").mkdir()
    monkeypatch.setenv("STREAMVERSE_SECRETS_DIR", str(aws_credentials.parent))
    settings = load_inventory(inv).get("Provider", "dns").model.settings  # type: ignore[union-attr]
    assert settings["apiKey"] == {"fromFile": str((tmp_path / "inventories" / "secrets" / "key").resolve())}
    assert settings["tsigSecret"] == {"fromFile": str(aws_credentials.resolve())}


def test_resolve_refuses_a_file_outside_the_allowed_directories(tmp_path: Path, aws_credentials: Path) -> None:
    from streamverse_ctl.core import secrets

    with pytest.raises(PermanentError, match="is outside the inventory root and the secrets directories") as err:
        secrets.resolve({"fromFile": str(aws_credentials)}, "provider 'dns' setting 'apiKey'", [tmp_path / "inv"])
    assert "AKIA" not in str(err.value)
    link = tmp_path / "inv" / "key"
    link.parent.mkdir()
    link.symlink_to(aws_credentials)
    with pytest.raises(PermanentError, match="outside"):
        secrets.resolve({"fromFile": str(link)}, "x", [tmp_path / "inv"])
    assert secrets.resolve({"fromFile": str(aws_credentials)}, "x", [aws_credentials.parent]).reveal().startswith("[")


# ----- nested secrets ------------------------------------------------------------------------------
@pytest.mark.parametrize("settings, bad", [
    ({"headers": {"Authorization": "Bearer abc.def.ghi"}}, "headers.Authorization"),
    ({"headers": {"X-API-Key": "k-123456"}}, "headers.X-API-Key"),
    ({"headers": {"X-Custom": "Basic dXNlcjpwYXNz"}}, "headers.X-Custom"),
    ({"extraHeaders": [{"name": "X-Auth", "value": "Bearer zzz"}]}, "extraHeaders.0.value"),
    ({"targets": [{"token": "plain"}]}, "targets.0.token"),
])
def test_nested_plain_secrets_are_refused(tmp_path: Path, settings: dict[str, object], bad: str) -> None:
    [p] = problems_of(minimal(tmp_path / "inv", extra={"p.yaml": provider(settings)}))
    assert "secrets must be references" in p.message and bad in p.message
    for secret in ("abc.def.ghi", "k-123456", "dXNlcjpwYXNz", "zzz"):
        assert secret not in str(p)


def test_nested_references_are_accepted_resolved_and_redacted(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from streamverse_ctl.core import secrets

    monkeypatch.setenv("SV_TEST_BEARER", "Bearer nested-token-value")
    settings = {"headers": {"Authorization": {"fromEnv": "SV_TEST_BEARER"}, "Accept": "application/json"},
                "extra": [{"fromEnv": "SV_TEST_BEARER"}], "description": "Basic plan"}
    load_inventory(minimal(tmp_path / "inv", extra={"p.yaml": provider(settings)}))
    out = secrets.resolve_settings(settings, "provider 'dns'", allowed=[tmp_path])
    assert isinstance(out["headers"]["Authorization"], secrets.Secret)
    assert out["headers"]["Authorization"].reveal() == "Bearer nested-token-value"
    assert isinstance(out["extra"][0], secrets.Secret) and out["headers"]["Accept"] == "application/json"
    assert "nested-token-value" not in repr(out)
    assert secrets.redact("sent Bearer nested-token-value") == "sent ***"


# ----- names never leave their directory -----------------------------------------------------------
@pytest.mark.parametrize("name", ["../x", "..", "a/b", "", "."])
def test_safe_join_refuses_names_that_leave_the_directory(tmp_path: Path, name: str) -> None:
    from streamverse_ctl.core.trust import safe_join

    with pytest.raises(PermanentError):
        safe_join(tmp_path, name, what="PoP name")
    assert safe_join(tmp_path, "fra1") == tmp_path / "fra1"


def _ansible_ctx(tmp_path: Path, dry_run: bool = False) -> object:
    from types import SimpleNamespace

    runbooks = tmp_path / "runbooks"
    (runbooks / "playbooks").mkdir(parents=True, exist_ok=True)
    (runbooks / "playbooks" / "p.yml").write_text("- hosts: localhost\n  tasks: []\n")
    (tmp_path / "inventories" / "demo").mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(runbook_dir=runbooks, artifacts_dir=tmp_path / "state" / "runbooks" / "run-1",
                           step="edge-config", dry_run=dry_run,
                           ws=SimpleNamespace(inventory_dir=tmp_path / "inventories" / "demo"))


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_ansible_action_refuses_a_name_that_would_write_outside_its_artifacts(tmp_path: Path,
                                                                                  dry_run: bool) -> None:
    from streamverse_ctl.runbook.actions.ansible import playbook

    ctx = _ansible_ctx(tmp_path, dry_run)
    message = "extravars name '../../../tmp/x' cannot be used as a path component"
    with pytest.raises(PermanentError, match=re.escape(message)):
        playbook(ctx, "playbooks/p.yml",  # type: ignore[arg-type]
                 extravars={"pops": [{"name": "nyc1"}, {"name": "../../../tmp/x"}]})
    assert not (tmp_path / "state").exists()  # nothing was written


def test_the_ansible_action_runs_only_playbooks_inside_the_runbook_dir_or_inventory_root(tmp_path: Path) -> None:
    from streamverse_ctl.runbook.actions.ansible import playbook

    ctx = _ansible_ctx(tmp_path)
    outside = tmp_path / "elsewhere" / "evil.yml"
    outside.parent.mkdir()
    outside.write_text("- hosts: localhost\n  tasks: []\n")
    for name in (str(outside), "../elsewhere/evil.yml"):
        with pytest.raises(PermanentError, match="is outside the runbook's directory, the built-in runbooks and the"):
            playbook(ctx, name)  # type: ignore[arg-type]
    (tmp_path / "runbooks" / "playbooks" / "link.yml").symlink_to(outside)
    with pytest.raises(PermanentError, match="outside"):
        playbook(ctx, "playbooks/link.yml")  # type: ignore[arg-type]
    with pytest.raises(PermanentError, match="extravars may not set templates_dir"):
        playbook(ctx, "playbooks/p.yml", extravars={"templates_dir": "/etc"})  # type: ignore[arg-type]
