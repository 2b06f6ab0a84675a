"""End to end: `streamverse ctl` never silently replaces, empties, creates or shares a state.

Each case damages a real state the way the issue describes and checks the CLI exits 1 with a
message naming the file and the way out (never a traceback or ``internal error: DatabaseError``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "streamverse"
EXE = str(BIN) if BIN.exists() else shutil.which("streamverse")


class CLI:
    def __init__(self, inventory: Path, state: Path, cwd: Path) -> None:
        self.inventory, self.state, self.cwd = inventory, state, cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVERSE_")}
        self.env.update(STREAMVERSE_STATE_DIR=str(state), STREAMVERSE_USER="e2e-tester", COLUMNS="250",
                        NO_COLOR="1", CI="true", STREAMVERSE_PLATFORM="sim")

    def __call__(self, *args: str, inventory: Path | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
        assert EXE, "the streamverse console script is not installed (pip install -e .)"
        cmd = [EXE, "ctl", *args, "-i", str(inventory or self.inventory)]
        return subprocess.run(cmd, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, **kw)  # type: ignore[call-overload,no-any-return]

    def ok(self, *args: str, inventory: Path | None = None) -> subprocess.CompletedProcess[str]:
        out = self(*args, inventory=inventory)
        assert out.returncode == 0, f"{args} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
        return out

    def fails(self, *args: str, inventory: Path | None = None, **kw: object) -> str:
        out = self(*args, inventory=inventory, **kw)
        assert out.returncode == 1, f"{args} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
        assert "Traceback" not in out.stderr and "internal error" not in out.stderr, out.stderr
        return " ".join(out.stderr.split())  # unwrapped: rich may wrap a long path

    def lineage(self) -> str:
        return (self.state / "lineage").read_text().strip()


@pytest.fixture
def cli(inventories_copy: Path, tmp_path: Path) -> CLI:
    (tmp_path / "state").mkdir()  # like `mktemp -d`: an empty directory made on purpose
    return CLI(inventories_copy / "demo", tmp_path / "state", tmp_path)


@pytest.fixture
def applied(cli: CLI) -> CLI:
    cli.ok("apply", "--auto-approve")
    return cli


def test_an_empty_state_dir_is_initialised_and_info_shows_its_identity(applied: CLI) -> None:
    info = json.loads(applied.ok("state", "info", "-o", "json").stdout)
    assert info["backend"] == "sqlite" and info["path"] == str(applied.state / "state.db")
    assert info["lineage"] == applied.lineage() and info["schema_version"] == 2
    assert info["integrity"] == "ok" and info["inventory_id"] == "demo" and info["size_bytes"] > 0
    assert "integrity ok" in applied.ok("state", "check").stdout


def test_a_0_byte_state_after_apply_is_refused_not_replaced(applied: CLI) -> None:
    db = applied.state / "state.db"
    db.write_bytes(b"")  # e.g. a failed copy after a failover: the next plan would undo it
    err = applied.fails("plan")
    lineage = applied.lineage()
    assert f"state {db} was emptied or replaced (lineage {lineage} expected, found an empty file (0 bytes))" in err
    assert f"streamverse ctl state init --state-dir {applied.state} --force-new" in err
    assert db.stat().st_size == 0
    applied.fails("apply", "--auto-approve")
    # the deliberate way out: a new lineage, audited, the empty file kept aside
    out = applied.ok("state", "init", "--force-new")
    assert "new lineage" in out.stdout and lineage in out.stdout
    assert any(p.name.startswith("state.db.broken-") for p in applied.state.iterdir())
    assert applied.lineage() != lineage
    assert "state.lineage" in applied.ok("state", "audit", "-o", "json").stdout


def test_corrupted_pages_make_plan_and_apply_fail_naming_the_file(applied: CLI) -> None:
    from streamverse_ctl.state import StateStore

    s = StateStore(applied.state)  # grow the real store to many pages, as months of audit rows do
    for i in range(3000):
        s.audit("apply.start", f"plan-{i}", "started", changes=[f"update dns.record/www{j}" for j in range(8)])
    s.close()
    db = applied.state / "state.db"
    size = db.stat().st_size
    assert size > 40 * 4096
    with db.open("r+b") as f:
        f.seek((size // 2) // 4096 * 4096)
        f.write(os.urandom(4 * 4096))
    for verb in (("plan",), ("apply", "--auto-approve"), ("state", "check"), ("state", "audit")):
        err = applied.fails(*verb)
        assert f"state {db} " in err and "streamverse ctl state check" in err, (verb, err)
        assert "restore" in err


def test_a_truncated_state_is_refused_naming_the_file(applied: CLI) -> None:
    db = applied.state / "state.db"
    with db.open("r+b") as f:
        f.truncate(db.stat().st_size // 2)
    err = applied.fails("plan")
    assert f"state {db} " in err and "DatabaseError" not in err


def test_a_mistyped_state_dir_is_refused_and_nothing_is_created(applied: CLI) -> None:
    typo = applied.cwd / "stat"
    err = applied.fails("plan", "--state-dir", str(typo))
    assert f"state directory {typo} does not exist" in err
    assert f"streamverse ctl state init --state-dir {typo}" in err
    applied.env["STREAMVERSE_STATE_DIR"] = str(typo)
    applied.fails("apply", "--auto-approve")
    applied.fails("state", "lock")
    assert not typo.exists()
    out = applied.ok("state", "init")  # the deliberate way: then it is a store of its own
    assert f"created state {typo / 'state.db'}" in out.stdout
    assert (typo / "lineage").exists()


def test_two_inventories_sharing_a_state_dir_are_refused_and_nothing_is_deleted(applied: CLI) -> None:
    small = applied.inventory.parent / "small"
    shutil.copytree(applied.inventory, small)
    inv = small / "inventory.yaml"
    inv.write_text(inv.read_text().replace("metadata: {name: demo}", "metadata: {name: demo-small}"))
    (small / "pops.yaml").unlink()
    (small / "cdn.yaml").unlink()
    before = applied.ok("sim", "status", "-o", "json").stdout
    for verb in (("plan",), ("apply", "--auto-approve")):
        err = applied.fails(*verb, inventory=small)
        assert f"state {applied.state / 'state.db'} belongs to inventory 'demo'" in err
        assert "this is inventory 'demo-small'" in err and "use another --state-dir" in err
    assert applied.ok("sim", "status", "-o", "json").stdout == before
    assert applied("plan", "--detailed-exitcode").returncode == 0  # the demo's resources are all there
