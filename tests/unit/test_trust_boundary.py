"""The trust boundary of an inventory: names are DNS labels, files are read only inside the inventory root
(or a named secrets directory), nested secrets are references, names never leave their directory."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from streamverse_ctl.core.errors import InputError, Problem
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
