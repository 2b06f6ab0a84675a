"""Variables deep inside lists and mappings are substituted, and everything around them is kept.

The loader rebuilds only the parts of a spec that hold a variable (copy on write); these pin that
what a document means is the same as when every spec was copied whole."""

from __future__ import annotations

import sys
from pathlib import Path

from streamverse_ctl.compiler import compile_inventory
from streamverse_ctl.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from generate_inventory import generate  # noqa: E402

EXTRA = """\
apiVersion: streamverse.io/v1
kind: TrafficPolicy
metadata: {name: vars}
spec:
  zone: ${zone}
  record: api
  type: A
  ttl: ${ttl}
  routing: weighted
  weights: {us-east: 10, us-west: 20}
  values:
    us-east: ["${east}", 192.0.2.9]
    us-west: [192.0.2.7, "$${literal}"]
"""


def test_nested_variables_are_substituted_and_their_siblings_kept(tmp_path: Path) -> None:
    inv_dir = tmp_path / "inv"
    generate(inv_dir, pops=6, policies=2, pools=1)
    (inv_dir / "inventory.yaml").write_text(
        "apiVersion: streamverse.io/v1\nkind: Inventory\nmetadata: {name: vars}\n"
        "spec:\n  variables: {zone: streamverse.example., ttl: 45, east: 192.0.2.1}\n")
    (inv_dir / "vars.yaml").write_text(EXTRA)
    inv = load_inventory(inv_dir, validate_meaning=False)
    doc = inv.get("TrafficPolicy", "vars")
    assert doc is not None
    assert doc.spec["zone"] == "streamverse.example." and doc.spec["ttl"] == 45
    assert doc.spec["values"] == {"us-east": ["192.0.2.1", "192.0.2.9"], "us-west": ["192.0.2.7", "${literal}"]}
    assert doc.spec["weights"] == {"us-east": 10, "us-west": 20}
    plain = inv.get("TrafficPolicy", "svc0000")
    assert plain is not None and plain.spec["zone"] == "streamverse.example."  # "${zone}" in the generator


def test_a_generated_inventory_compiles_the_same_records_from_variables(tmp_path: Path) -> None:
    generate(tmp_path / "inv", pops=12, policies=5, pools=2)
    compiled = compile_inventory(load_inventory(tmp_path / "inv"))
    zones = {r.spec["zone"] for r in compiled.resources if r.type == "dns.record"}
    assert zones == {"streamverse.example."}
