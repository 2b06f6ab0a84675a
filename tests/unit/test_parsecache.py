"""The YAML parse cache is invisible: same data, same problems, same lines; edits always re-parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamverse_ctl.core.errors import InputError
from streamverse_ctl.inventory import load_inventory, yamlsource

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("STREAMVERSE_CACHE_DIR", str(d))
    return d


def _doc(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_second_read_comes_from_the_cache_with_the_same_data(cache: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    f = _doc(tmp_path / "a.yaml", "a: 1\nb:\n  c: [x, y]\n---\nd: true\n")
    first, _ = yamlsource.read_yaml(f)
    assert any(cache.rglob("*")), "nothing was cached"

    def no_parse(*a: object, **k: object) -> None:
        raise AssertionError("parsed again although the file did not change")

    monkeypatch.setattr(yamlsource, "_parse", no_parse)
    again, _ = yamlsource.read_yaml(f)
    assert [d.data for d in again] == [d.data for d in first] == [{"a": 1, "b": {"c": ["x", "y"]}}, {"d": True}]
    assert [d.line for d in again] == [1, 5]


def test_lines_of_a_cached_document_are_still_exact(cache: Path, tmp_path: Path) -> None:
    f = _doc(tmp_path / "a.yaml", "x: 1\n---\nkind: Thing\nspec:\n  deep:\n    field: 3\n")
    yamlsource.read_yaml(f)
    docs, _ = yamlsource.read_yaml(f)  # from the cache: lines are computed on demand
    assert docs[1].line_of(("spec", "deep", "field")) == 6
    assert docs[0].line_of(("x",)) == 1


def test_an_edit_is_never_served_from_the_cache(cache: Path, tmp_path: Path) -> None:
    f = _doc(tmp_path / "a.yaml", "a: 1\n")
    yamlsource.read_yaml(f)
    f.write_text("a: 2\n")
    docs, _ = yamlsource.read_yaml(f)
    assert docs[0].data == {"a": 2}


def test_inventory_problems_have_the_same_lines_with_a_warm_cache(cache: Path, tmp_path: Path) -> None:
    import shutil

    for name in ("base", "demo"):
        shutil.copytree(REPO / "inventories" / name, tmp_path / name)
    pools = tmp_path / "demo" / "transcode.yaml"
    pools.write_text(pools.read_text().replace("gpuType: nvidia-t4", "gpuType: nvidia-t4, gpus: 2", 1))
    reports = []
    for _ in range(2):  # cold, then warm
        with pytest.raises(InputError) as err:
            load_inventory(tmp_path / "demo")
        reports.append([(p.file, p.line, p.field, p.message) for p in err.value.problems])
    assert reports[0] == reports[1] and reports[0][0][2] == "spec.gpus"


def test_the_cache_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMVERSE_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("STREAMVERSE_CACHE", "off")
    yamlsource.read_yaml(_doc(tmp_path / "a.yaml", "a: 1\n"))
    assert not (tmp_path / "c").exists()
