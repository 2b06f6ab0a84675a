"""What a TAB offers from an inventory it reads without validating: the loader's documents, in its order."""

from __future__ import annotations

from pathlib import Path

from streamverse_ctl.cli.completion_names import read_names
from streamverse_ctl.inventory import load_inventory


def test_names_match_the_loaders_documents_in_order(inventories_copy: Path) -> None:
    demo = inventories_copy / "demo"
    loaded = [(d.kind, d.name) for d in load_inventory(demo, validate_meaning=False).documents]
    assert [(d.kind, d.name) for d in read_names(demo).documents] == loaded


def test_an_overlay_replaces_in_place_and_extends_never_leaves_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "base").mkdir(parents=True)
    (root / "base" / "a.yaml").write_text("kind: Region\nmetadata: {name: r1}\n---\n"
                                          "kind: Region\nmetadata: {name: r2}\n")
    (root / "over").mkdir()
    (root / "over" / "inventory.yaml").write_text("kind: Inventory\nspec: {extends: ../base}\n")
    (root / "over" / "b.yaml").write_text("kind: Region\nmetadata: {name: r1}\n---\nkind: PoP\nmetadata: {name: p}\n"
                                          "---\nkind: [\n")
    assert [d.ref for d in read_names(root / "over").documents] == ["Region/r1", "Region/r2"]  # broken file: nothing
    (root / "over" / "b.yaml").write_text("kind: PoP\nmetadata: {name: p}\n")
    assert [d.ref for d in read_names(root / "over").documents] == ["Region/r1", "Region/r2", "PoP/p"]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text("kind: Region\nmetadata: {name: secret}\n")
    inner = root / "inner"
    inner.mkdir()
    (inner / "inventory.yaml").write_text("kind: Inventory\nspec: {extends: ../../outside}\n")
    (inner / "link.yaml").symlink_to(outside / "x.yaml")
    assert read_names(inner).documents == []  # neither the extends nor the linked file outside the root


def test_a_warm_parse_cache_is_used_and_an_edit_is_still_seen(inventories_copy: Path) -> None:
    demo = inventories_copy / "demo"
    load_inventory(demo, validate_meaning=False)  # fills the parse cache (the session's private one)
    assert "us-east" in [d.name for d in read_names(demo).of("Region")]
    pops = demo / "pops.yaml"
    pops.write_text(pops.read_text().replace("{name: nyc1,", "{name: nyc9,"))  # new content: not in the cache
    names = [d.name for d in read_names(demo).of("PoP")]
    assert "nyc9" in names and "nyc1" not in names
