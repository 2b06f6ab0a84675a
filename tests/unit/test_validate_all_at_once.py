"""Structure and meaning problems are reported together, each with file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from streamverse_ctl.core.errors import InputError
from streamverse_ctl.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]


def test_structure_and_reference_problems_in_one_report(tmp_path: Path) -> None:
    for name in ("base", "demo"):
        shutil.copytree(REPO / "inventories" / name, tmp_path / name)
    dns = tmp_path / "base" / "dns.yaml"
    dns.write_text(dns.read_text().replace("weights: {us-east: 30", "weights: {us-esat: 30")
                   .replace("interval: 10, failureThreshold: 3", "interval: 15, failureThreshold: 3"))
    pools = tmp_path / "demo" / "transcode.yaml"
    pools.write_text(pools.read_text().replace("minNodes: 4", "minNodes: 50", 1))
    pops = tmp_path / "demo" / "pops.yaml"
    pops.write_text(pops.read_text().replace("region: sa-east, city: Santiago", "region: sa-eats, city: Santiago"))

    with pytest.raises(InputError) as err:
        load_inventory(tmp_path / "demo")
    got = {(Path(p.file).name, p.line, p.field) for p in err.value.problems}
    assert ("dns.yaml", 11, "spec.weights.us-esat") in got  # a reference in a document that also fails structure
    assert ("dns.yaml", 12, "spec.healthCheck.interval") in got
    assert any(f == "transcode.yaml" and field == "spec" for f, _, field in got)
    assert any(f == "pops.yaml" and field == "spec.region" for f, _, field in got)
    assert len(err.value.problems) == 4


@pytest.mark.parametrize("setting, field", [
    ("variables: 1", "spec.variables"),
    ("variables: [a, b]", "spec.variables"),
    ("extends: {a: 1}", "spec.extends"),
    ("extends: " + "x" * 5000, "spec.extends"),
    ("patches: 5", "spec.patches"),
])
def test_wrongly_typed_inventory_settings_are_problems_not_crashes(tmp_path: Path, setting: str, field: str) -> None:
    for name in ("base", "demo"):
        shutil.copytree(REPO / "inventories" / name, tmp_path / name)
    inv = tmp_path / "demo" / "inventory.yaml"
    inv.write_text(inv.read_text().replace("  extends: ../base\n", "") + f"  {setting}\n")
    with pytest.raises(InputError) as err:
        load_inventory(tmp_path / "demo")
    assert any(p.field == field and Path(p.file).name == "inventory.yaml" and p.line for p in err.value.problems), \
        err.value.problems
