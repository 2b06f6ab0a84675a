"""The state is never silently replaced: lineage, integrity, explicit creation, inventory identity."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from streamverse_ctl.core.errors import (
    StateCorrupt,
    StateError,
    StateInventoryMismatch,
    StateNotFound,
    StateReadOnly,
    StateReplaced,
)
from streamverse_ctl.engine.apply import apply_plan
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.state import StateStore
from streamverse_ctl.state.store import state_error

from .helpers import minimal


def made(directory: Path) -> StateStore:
    directory.mkdir(exist_ok=True)
    return StateStore(directory)


def big_store(directory: Path, rows: int = 3000) -> str:
    """A real store of many pages (3,000 audit rows, ~1 MB); returns its lineage."""
    s = made(directory)
    for i in range(rows):
        s.audit("apply.start", f"plan-{i}", "started", changes=[f"update dns.record/www{j}" for j in range(8)])
    lineage = s.lineage
    s.close()  # the last connection checkpoints the WAL into state.db
    return lineage


# ----- identity ---------------------------------------------------------------------------------
def test_an_existing_empty_directory_gets_a_lineage_and_a_witness(tmp_path: Path) -> None:
    s = made(tmp_path / "state")
    assert len(s.lineage) == 32 and int(s.lineage, 16) >= 0
    assert (tmp_path / "state" / "lineage").read_text().strip() == s.lineage
    assert s.meta()["schema_version"] == "2" and s.meta()["created_at"]
    s.close()
    again = StateStore(tmp_path / "state")
    assert again.lineage == s.lineage  # using a store never changes its identity
    again.close()


def test_a_missing_explicit_directory_is_refused_and_not_created(tmp_path: Path) -> None:
    where = tmp_path / "sate"  # a typo
    with pytest.raises(StateNotFound) as info:
        StateStore(where)
    assert f"state directory {where} does not exist" in str(info.value)
    assert f"streamverse ctl state init --state-dir {where}" in (info.value.hint or "")
    assert not where.exists()
    s = StateStore(where, create=True)  # the default location (or `state init`) may be created
    assert (where / "state.db").exists()
    s.close()


def test_a_0_byte_store_next_to_its_witness_is_refused_as_emptied(tmp_path: Path) -> None:
    lineage = big_store(tmp_path / "state", rows=10)
    (tmp_path / "state" / "state.db").write_bytes(b"")
    with pytest.raises(StateReplaced) as info:
        StateStore(tmp_path / "state")
    db = tmp_path / "state" / "state.db"
    assert str(info.value) == (f"state {db} was emptied or replaced (lineage {lineage} expected, "
                               "found an empty file (0 bytes))")
    assert "restore" in (info.value.hint or "") and "state init" in (info.value.hint or "")
    assert "--force-new" in (info.value.hint or "")
    assert db.stat().st_size == 0  # refused before SQLite could turn it into a new store


def test_a_deleted_store_next_to_its_witness_is_refused(tmp_path: Path) -> None:
    lineage = big_store(tmp_path / "state", rows=10)
    (tmp_path / "state" / "state.db").unlink()
    with pytest.raises(StateReplaced, match=f"lineage {lineage} expected, found no state.db"):
        StateStore(tmp_path / "state")
    assert not (tmp_path / "state" / "state.db").exists()


def test_a_0_byte_store_without_a_witness_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.db").write_bytes(b"")
    with pytest.raises(StateCorrupt, match=r"state\.db is empty \(0 bytes\)"):
        StateStore(tmp_path / "state")


def test_a_swapped_store_is_refused_with_both_lineages(tmp_path: Path) -> None:
    mine = big_store(tmp_path / "a", rows=10)
    theirs = big_store(tmp_path / "b", rows=10)
    shutil.copy(tmp_path / "b" / "state.db", tmp_path / "a" / "state.db")
    with pytest.raises(StateReplaced, match=f"lineage {mine} expected, found {theirs}"):
        StateStore(tmp_path / "a")


def test_a_file_that_is_not_sqlite_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.db").write_text("locks: []\n")
    with pytest.raises(StateCorrupt, match=f"state {tmp_path / 'state' / 'state.db'} is not a SQLite database"):
        StateStore(tmp_path / "state")


def test_a_non_sqlite_file_next_to_its_witness_is_refused_as_replaced(tmp_path: Path) -> None:
    lineage = big_store(tmp_path / "state", rows=10)
    (tmp_path / "state" / "state.db").write_text("restored from the wrong backup\n" * 200)
    with pytest.raises(StateReplaced, match=f"lineage {lineage} expected, found a file that is not a SQLite database"):
        StateStore(tmp_path / "state")


def test_a_store_made_before_lineages_is_adopted_and_audited(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    db = sqlite3.connect(tmp_path / "state" / "state.db")  # 0.1.0's layout: no meta, no digests
    db.executescript("""
        CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, who TEXT NOT NULL,
          host TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', result TEXT NOT NULL,
          detail TEXT NOT NULL DEFAULT '{}');
        CREATE TABLE applied (provider TEXT NOT NULL, id TEXT NOT NULL, spec TEXT NOT NULL, at TEXT NOT NULL,
          run_id TEXT NOT NULL, PRIMARY KEY (provider, id));
        INSERT INTO audit (at, who, host, action, result) VALUES ('2025-01-01', 'ops', 'h', 'apply', 'ok');
        INSERT INTO applied VALUES ('sim', 'pop/x', '{}', '2025-01-01', 'run-1');
    """)
    db.commit()
    db.close()
    s = StateStore(tmp_path / "state")
    assert (tmp_path / "state" / "lineage").read_text().strip() == s.lineage
    assert [e.detail["reason"] for e in s.audit_log(action="state.lineage")] == ["adopted a store made before lineages"]
    assert s.applied_digests()  # the old rows are still there
    s.close()


# ----- integrity ----------------------------------------------------------------------------------
def corrupt_pages(db: Path) -> None:
    """Overwrite four pages in the middle of the file with junk, the header left intact."""
    size = db.stat().st_size
    assert size > 40 * 4096, "the store should span many pages"
    with db.open("r+b") as f:
        f.seek((size // 2) // 4096 * 4096)
        f.write(b"\xde\xad\xbe\xef" * 4096)


def test_corrupted_pages_are_found_at_open_and_name_the_file(tmp_path: Path) -> None:
    big_store(tmp_path / "state")
    corrupt_pages(tmp_path / "state" / "state.db")
    with pytest.raises(StateCorrupt) as info:
        StateStore(tmp_path / "state")
    assert str(info.value).startswith(f"state {tmp_path / 'state' / 'state.db'} ")
    assert "streamverse ctl state check" in (info.value.hint or "")


def test_a_truncated_store_is_refused_naming_the_file(tmp_path: Path) -> None:
    big_store(tmp_path / "state")
    db = tmp_path / "state" / "state.db"
    with db.open("r+b") as f:
        f.truncate(db.stat().st_size // 2)
    with pytest.raises(StateError) as info:
        StateStore(tmp_path / "state")
    assert str(db) in str(info.value) and "DatabaseError" not in str(info.value)


def test_sqlite_errors_while_in_use_become_state_errors_naming_the_file(tmp_path: Path) -> None:
    s = made(tmp_path / "state")
    s._db.execute("DROP TABLE audit")  # what a damaged or foreign file looks like from inside
    with pytest.raises(StateCorrupt, match=f"state {tmp_path / 'state' / 'state.db'} is damaged"):
        s.audit_log()
    s.close()
    ro = state_error(sqlite3.OperationalError("attempt to write a readonly database"), tmp_path / "x" / "state.db")
    assert isinstance(ro, StateReadOnly) and "is read-only" in str(ro) and str(tmp_path / "x") in str(ro)


def test_a_read_only_state_is_refused_naming_the_path() -> None:
    base = Path(tempfile.mkdtemp(prefix="sv-ro-"))  # pytest's tmp_path is private to its owner
    base.chmod(0o755)
    state = base / "state"
    try:
        made(state).close()
        state.chmod(0o555)
        root = os.geteuid() == 0
        if root:  # root may write anywhere: be nobody, for whom the directory is read-only
            os.seteuid(65534)
        try:
            with pytest.raises(StateReadOnly) as info:
                StateStore(state)
        finally:
            if root:
                os.seteuid(0)
        assert str(info.value).startswith(f"state {state} is read-only for ")
        assert "write access" in str(info.value) and str(state) in (info.value.hint or "")
    finally:
        state.chmod(0o755)
        shutil.rmtree(base)


def test_force_new_moves_a_broken_file_aside_and_audits_the_new_lineage(tmp_path: Path) -> None:
    old = big_store(tmp_path / "state", rows=10)
    (tmp_path / "state" / "state.db").write_bytes(b"")
    store, what = StateStore.initialise(tmp_path / "state", force_new=True)
    assert what["previous"] == old and what["lineage"] == store.lineage != old
    assert [Path(p).name.startswith("state.db.broken-") for p in what["moved_aside"]] == [True]
    assert (tmp_path / "state" / "lineage").read_text().strip() == store.lineage
    [entry] = store.audit_log(action="state.lineage")
    assert entry.detail["witness"] == old and entry.detail["reason"] == "state init --force-new"
    store.close()
    assert StateStore(tmp_path / "state").lineage == what["lineage"]


# ----- inventory identity -------------------------------------------------------------------------
def test_a_store_applied_by_one_inventory_refuses_another(tmp_path: Path) -> None:
    s = made(tmp_path / "state")
    s.bind_inventory("demo")
    s.record_applied("sim", "pop/a", {"x": 1}, "run-1")
    s.close()
    other = StateStore(tmp_path / "state")
    with pytest.raises(StateInventoryMismatch) as info:
        other.bind_inventory("small")
    assert "belongs to inventory 'demo' (1 resources applied); this is inventory 'small'" in str(info.value)
    other.bind_inventory("demo")  # its own inventory is welcome
    other.close()


def test_two_inventories_sharing_a_state_dir_never_plan_deletes_of_each_other(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    big, small = minimal(tmp_path / "big", pops=12), minimal(tmp_path / "small", pops=3)
    ws = Workspace(big, state_dir=state, platform="sim")
    apply_plan(ws, ws.plan())
    ws.close()
    ws = Workspace(small, state_dir=state, platform="sim")
    with pytest.raises(StateInventoryMismatch, match="planning here would delete the other inventory's resources"):
        ws.plan()
    ws.close()
    ws = Workspace(big, state_dir=state, platform="sim")
    assert ws.plan().empty  # nothing of the big inventory was touched
    ws.close()
