"""The state backends (issue 9 section 1): locations, PostgreSQL locks, audited waits, schema
migration, `migrate_to` and a moved store's refusal, password redaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from streamverse_ctl.core.errors import LockHeld, StateError, StateReadOnly
from streamverse_ctl.state import StateStore


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    (tmp_path / "state").mkdir()
    return str(tmp_path / "state")


def test_locations_plain_path_sqlite_url_and_redaction() -> None:
    from streamverse_ctl.state.sql import local_directory, redact_url

    assert local_directory("sqlite:///rel/dir") == Path("rel/dir")
    assert local_directory("sqlite:////abs/dir") == Path("/abs/dir")
    assert local_directory("/a/b") == Path("/a/b")
    assert redact_url("postgresql://sre:hunter2@db:5432/sv") == "postgresql://sre:***@db:5432/sv"
    assert "hunter2" not in redact_url("postgresql://db/sv?password=hunter2&sslmode=require")
    with pytest.raises(StateError, match="scheme 'mysql' is not known"):
        local_directory("mysql://db/sv")


def test_a_password_is_never_in_a_message(postgres_server) -> None:  # type: ignore[no-untyped-def]
    url = f"postgresql://postgres:hunter2@127.0.0.1:{postgres_server.port}/no_such_db"
    with pytest.raises(StateError) as err:
        StateStore(url)
    text = f"{err.value} {err.value.path} {err.value.hint}"
    assert "hunter2" not in text and "postgres:***@127.0.0.1" in text and "cannot use state" in str(err.value)


def test_a_missing_password_file_is_named(postgres_url: str, tmp_path: Path) -> None:
    with pytest.raises(StateError, match=r"cannot read the state passwordFile .*nope"):
        StateStore(postgres_url, password_file=str(tmp_path / "nope"))


def test_the_wait_and_the_refusal_are_audited(location: str) -> None:
    holder, waiter = StateStore(location), StateStore(location)
    holder.acquire("apply", purpose="apply plan-1")
    with pytest.raises(LockHeld):
        waiter.acquire("apply", purpose="apply plan-2", timeout=0.3, poll=0.1)
    [wait] = waiter.audit_log(action="lock.wait")
    [refused] = waiter.audit_log(action="lock.refused")
    assert wait.result == "waiting" and wait.detail["purpose"] == "apply plan-2"
    assert refused.result == "refused" and refused.detail["holder_purpose"] == "apply plan-1"
    assert refused.detail["pid"] == os.getpid()
    holder.release("apply")
    waiter.acquire("apply")
    waiter.release("apply")
    holder.close()
    waiter.close()


HOLDER = textwrap.dedent("""
    import socket, sys, time
    socket.gethostname = lambda: "laptop-7"  # another machine
    from streamverse_ctl.state import StateStore
    s = StateStore(sys.argv[1])
    s.acquire("apply", purpose="apply plan-9")
    print("held", flush=True)
    time.sleep(600)
""")


def test_kill_9_of_a_holder_on_another_host_frees_a_postgresql_lock(postgres_url: str) -> None:
    """The server ends the dead session's advisory lock: no pid guess, whatever the host."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, postgres_url], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        store = StateStore(postgres_url)
        info = store.lock_info()
        assert info is not None and (info.host, info.pid, info.purpose) == ("laptop-7", proc.pid, "apply plan-9")
        with pytest.raises(LockHeld, match="laptop-7"):
            store.acquire("apply")
        with pytest.raises(LockHeld):
            store.force_unlock()  # a live holder is never unlocked by a guess
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store.close()
    store = StateStore(postgres_url)
    mine = store.acquire("apply", timeout=30)  # the server notices the closed socket at once
    assert mine.pid == os.getpid()
    [takeover] = store.audit_log(action="lock.takeover")
    assert takeover.detail["host"] == "laptop-7" and takeover.detail["stale_pid"] == proc.pid
    assert "advisory lock was free" in takeover.detail["reason"]
    store.release("apply")
    store.close()


def test_an_older_postgresql_schema_is_migrated_forward(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:  # as 0.1.0 had it: no digests, no meta
        conn.execute("CREATE TABLE applied (provider TEXT NOT NULL, id TEXT NOT NULL, spec TEXT NOT NULL, "
                     "at TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (provider, id))")
        conn.execute("CREATE TABLE plans (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, who TEXT NOT NULL, "
                     "fingerprint TEXT NOT NULL, inventory TEXT NOT NULL, changes INTEGER NOT NULL)")
        conn.execute("INSERT INTO applied VALUES ('sim', 'cdn.pop/p1', '{\"a\": 1}', 'then', 'run-0')")
    store = StateStore(postgres_url)
    assert store.meta()["schema_version"] == "2" and store.lineage
    assert store.applied_spec("sim", "cdn.pop/p1") == {"a": 1} and store.applied_digests()
    store.record_plan("p1", "fp", "inv", 1, "digest-1")
    assert store.plan_record("p1")["digest"] == "digest-1"  # type: ignore[index]
    store.close()


def test_migrate_copies_everything_and_the_source_refuses_writes(tmp_path: Path, postgres_url: str) -> None:
    src = StateStore(tmp_path / "a", create=True)
    src.bind_inventory("demo")
    for i in range(3):
        src.audit("apply.finish", f"plan-{i}", "ok", n=i)
    src.set_override("TrafficPolicy", "www", {"weights": {"us-east": 0}}, "incident")
    src.set_region_status("us-east", "drained", "outage")
    run = src.journal_start("apply", "plan-1", ["a", "b"])
    src.record_applied("sim", "cdn.pop/p1", {"a": 1}, run)
    src.record_plan("plan-1", "fp", "demo", 2, "d1")
    before = src.audit_log(100)
    moved = src.migrate_to(postgres_url)
    assert moved["counts"] == {"meta": 4, "audit": 3, "journal_runs": 1, "journal_items": 2, "plans": 1,
                               "overrides": 1, "applied": 1, "regions": 1}
    with pytest.raises(StateReadOnly, match=f"moved to {postgres_url}"):
        src.set_override("TrafficPolicy", "www", {}, "late")
    team = StateStore(postgres_url)
    assert team.lineage == src.lineage and team.overrides() == src.overrides()
    assert team.audit_log(100)[:3] == before
    back = tmp_path / "b"
    team.migrate_to(back)
    local = StateStore(back)
    assert local.lineage == src.lineage and local.overrides() == src.overrides()
    assert local.drained_regions() == {"us-east"} and local.journal_items(run) == src.journal_items(run)
    assert local.audit_log(100)[:3] == before
    assert [e.action for e in local.audit_log(100)[3:]] == ["state.migrate", "state.migrate"]
    local.audit("after")  # the ids go on after the copied ones
    assert [e.id for e in local.audit_log(100)] == sorted({e.id for e in local.audit_log(100)})
    with pytest.raises(StateError, match="is not empty"):
        StateStore(tmp_path / "a2", create=True).migrate_to(back)
    for s in (src, team, local):
        s.close()


def test_the_inventory_names_the_team_state(inventories_copy: Path, postgres_url: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """spec.state.url (with a passwordFile beside the inventory) wins over state.path; the sim data
    goes to STREAMVERSE_LOCAL_DIR."""
    from streamverse_ctl.engine.workspace import Workspace

    demo = inventories_copy / "demo"
    inv = demo / "inventory.yaml"
    inv.write_text(inv.read_text().replace(
        "  extends: ../base\n",
        f"  extends: ../base\n  state: {{url: '{postgres_url}', passwordFile: pg.pass, path: local}}\n"))
    (demo / "pg.pass").write_text("trusted-anyway\n")
    for var in ("STREAMVERSE_STATE_URL", "STREAMVERSE_STATE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STREAMVERSE_LOCAL_DIR", str(tmp_path / "sim"))
    ws = Workspace(demo, platform="sim")
    try:
        assert ws.state.backend == "postgresql" and ws.state.location == postgres_url
        assert ws.state_dir == tmp_path / "sim" and ws.binding()["state"].startswith(postgres_url)
    finally:
        ws.close()
    assert not (demo / "local").exists()


def test_an_unknown_state_scheme_is_a_clear_message(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "streamverse_ctl", "ctl", "state", "info",
                          "--state-url", "mysql://sre:hunter2@db/sv"], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": os.getcwd()}, stdin=subprocess.DEVNULL)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "state URL scheme 'mysql' is not known" in out.stderr and "hunter2" not in out.stderr
