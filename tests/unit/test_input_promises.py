"""Inventory input promises (issue 8, item 6): nothing is silently skipped or accepted.

Odd files under an inventory are problems naming the path (a skipped file's resources would be planned
for delete); non-UTF-8 bytes, overlay and variable cycles and unresolved variables have file:line; labels
and region endpoints are checked the same way by validate and by the JSON Schema.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from streamverse_ctl.core.errors import InputError, Problem
from streamverse_ctl.inventory import load_inventory
from streamverse_ctl.inventory.schema import inventory_schema
from tests.unit.helpers import doc, minimal, pop, region, write


def problems_of(directory: Path, **kw: Any) -> list[Problem]:
    with pytest.raises(InputError) as info:
        load_inventory(directory, **kw)
    return info.value.problems


def by_file(problems: list[Problem]) -> dict[str, str]:
    return {Path(p.file).name: p.message for p in problems}


def test_odd_entries_named_like_yaml_files_are_all_reported_by_path(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv")
    (inv / "loop.yaml").symlink_to("loop.yaml")
    (inv / "dangling.yaml").symlink_to("nowhere.yaml")
    (inv / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(inv / "fifo.yaml")
    (inv / "x.yaml").mkdir()
    (inv / "linked.yaml").symlink_to(inv / "pops.yaml")  # a link to a regular file is read (duplicates show it)
    problems = problems_of(inv)
    found = by_file(problems)
    assert found["loop.yaml"] == "symbolic link loop: the link never reaches a file"
    assert found["dangling.yaml"] == "dangling symbolic link: its target 'nowhere.yaml' does not exist"
    assert found["zero.yaml"] == "not a regular file: it is a symbolic link to a character device"
    assert found["fifo.yaml"] == "not a regular file: it is a FIFO (named pipe)"
    assert found["x.yaml"].startswith("a directory named like a YAML file")
    assert any("duplicate PoP 'p0'" in p.message for p in problems)


def test_a_fifo_swapped_in_after_listing_is_refused_without_blocking(tmp_path: Path) -> None:
    from streamverse_ctl.inventory.yamlsource import read_yaml

    os.mkfifo(tmp_path / "late.yaml")  # read_yaml opens non-blocking and checks fstat before reading
    docs, problems = read_yaml(tmp_path / "late.yaml", "late.yaml")
    assert docs == [] and [str(p) for p in problems] == ["late.yaml: not a regular file: it is a FIFO (named pipe)"]


def test_an_unreadable_file_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = minimal(tmp_path / "inv", extra={"secret.yaml": "a: 1\n"})
    real_open = os.open

    def deny(path: Any, *a: Any, **kw: Any) -> int:  # tests run as root, where chmod 000 still reads
        if str(path).endswith("secret.yaml"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **kw)

    monkeypatch.setattr(os, "open", deny)
    assert by_file(problems_of(inv))["secret.yaml"] == "cannot read file: Permission denied"


def test_non_utf8_bytes_have_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    inv = minimal(tmp_path / "inv")
    (inv / "latin1.yaml").write_bytes(b"# ok\napiVersion: streamverse.io/v1\nkind: PoP\nmetadata: {name: z\xfcr}\n")
    [p] = [p for p in problems_of(inv) if p.file.endswith("latin1.yaml")]
    assert (p.line, p.message) == (4, "not UTF-8 text: byte 0xfc at column 19 (save the file as UTF-8)")


def test_overlay_cycle_names_the_extends_line_and_the_cycle(tmp_path: Path) -> None:
    base = minimal(tmp_path / "base", extra={"inventory.yaml": doc("Inventory", "base", {"extends": "../prod"})})
    write(tmp_path / "prod", {"inventory.yaml": doc("Inventory", "prod", {"extends": "../base"})})
    [p] = [p for p in problems_of(base) if "cycle" in p.message]
    assert p.file.endswith("prod/inventory.yaml") and p.line == 6 and p.field == "spec.extends"
    assert p.message.startswith("overlay cycle: ")
    assert p.message.endswith(f"/base -> {tmp_path / 'prod'} -> {tmp_path / 'base'}")


def test_variable_cycle_and_undefined_variables_have_file_line_and_field(tmp_path: Path) -> None:
    variables = {"a": "${b}", "b": "x-${a}", "c": "x${v7}", "host": "cdn", "city": "https://${host}/"}
    inv = minimal(tmp_path / "inv", extra={
        "inventory.yaml": doc("Inventory", "inv", {"variables": variables}),
        "more.yaml": doc("PoP", "zz", {"region": "r1", "city": "${city}", "country": "US", "cacheTb": 1,
                                       "capacityGbps": 1}, labels={"tier": "${v8}"}),
    })
    found = {(Path(p.file).name, p.line, p.field, p.message) for p in problems_of(inv)}
    assert ("inventory.yaml", 7, "spec.variables.a", "variable cycle: a -> b -> a") in found
    assert ("inventory.yaml", 9, "spec.variables.c", "undefined variable 'v7' in variable 'c'") in found
    assert ("more.yaml", 6, "metadata.labels.tier", "undefined variable 'v8'") in found
    assert sum("cycle" in f[3] for f in found) == 1  # reported once, not once per member


def test_variables_may_use_other_variables(tmp_path: Path) -> None:
    inv = load_inventory(minimal(tmp_path / "inv", extra={
        "inventory.yaml": doc("Inventory", "inv", {"variables": {"host": "cdn", "city": "https://${host}/",
                                                                 "tier": "edge"}}),
        "more.yaml": doc("PoP", "zz", {"region": "r1", "city": "${city}", "country": "US", "cacheTb": 1,
                                       "capacityGbps": 1}, labels={"tier": "${tier}"})}))
    zz = inv.get("PoP", "zz")
    assert zz is not None and zz.spec["city"] == "https://cdn/" and zz.labels == {"tier": "edge"}


# ---- labels and endpoints: validate and the schema agree ----

GOOD_LABELS: list[dict[str, Any]] = [{"tier": "core"}, {"app.kubernetes.io/name": "edge-1"}, {"empty": ""},
                                     {"a": "x" * 63}, {"env": "${env}"}]
BAD_LABELS: list[dict[str, Any]] = [{"tier": 1}, {"tier": {"nested": "x"}}, {"tier": True}, {"tier": "x" * 64},
                                    {"tier": "has space"}, {"bad key!": "x"}, {"tier": "-dash"}, {"tier": ["a"]}]
GOOD_ENDPOINTS = [["198.51.100.10"], ["2001:db8::10"], ["::ffff:192.0.2.1", "192.0.2.2"], ["${ip}"]]
BAD_ENDPOINTS = [["cdn.example.com"], ["198.51.100.300"], ["01.2.3.4"], ["2001:db8:::1"], ["fe80::1%eth0"], [""]]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(inventory_schema())


def _validate_says(tmp_path: Path, text: str) -> list[str]:
    inv = minimal(tmp_path / "inv", extra={"inventory.yaml": doc("Inventory", "inv", {"variables": {
        "env": "prod", "ip": "192.0.2.9"}}), "extra.yaml": text})
    try:
        load_inventory(inv)
    except InputError as exc:
        return [str(p) for p in exc.problems if p.file.endswith("extra.yaml")]
    return []


def _pop_with(labels: dict[str, Any]) -> str:
    return yaml.safe_dump({"apiVersion": "streamverse.io/v1", "kind": "PoP",
                           "metadata": {"name": "zz", "labels": labels},
                           "spec": {"region": "r1", "city": "Z", "country": "US", "cacheTb": 1, "capacityGbps": 1}})


@pytest.mark.parametrize("labels", GOOD_LABELS + BAD_LABELS, ids=repr)
def test_labels_validate_and_schema_agree(tmp_path: Path, validator: jsonschema.Draft202012Validator,
                                          labels: dict[str, Any]) -> None:
    text = _pop_with(labels)
    said = _validate_says(tmp_path, text)
    schema_ok = validator.is_valid(yaml.safe_load(text))
    assert (not said) == schema_ok == (labels in GOOD_LABELS), said
    assert all(":5: PoP/zz: metadata.labels." in s for s in said), said


def test_a_numeric_label_value_says_to_quote_it(tmp_path: Path) -> None:
    [said] = _validate_says(tmp_path, _pop_with({"tier": 1}))
    assert said.endswith("metadata.labels.tier: a label value must be a string (got 1; quote it)")


@pytest.mark.parametrize("endpoints", GOOD_ENDPOINTS + BAD_ENDPOINTS, ids=repr)
def test_region_endpoints_are_ip_addresses_in_validate_and_schema(
        tmp_path: Path, validator: jsonschema.Draft202012Validator, endpoints: list[str]) -> None:
    data = yaml.safe_load(region("r9", "r1", "192.0.2.9"))
    data["spec"]["endpoints"] = endpoints
    text = yaml.safe_dump(data, sort_keys=False)
    said = _validate_says(tmp_path, text)
    assert (not said) == validator.is_valid(data) == (endpoints in GOOD_ENDPOINTS), said
    if said:
        assert "spec.endpoints.0: " in said[0] and "is not an IP address" in said[0]


def test_pop_helper_still_valid(tmp_path: Path) -> None:  # the helpers' labels follow the rules
    assert not _validate_says(tmp_path, pop("zz", "r1", tier="edge"))
