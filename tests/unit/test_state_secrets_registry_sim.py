"""State store (locks, audit, journal, overrides), secret redaction, the plugin registry, the sim provider."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from streamverse_ctl.core import secrets
from streamverse_ctl.core.errors import LockHeld, ProviderError, TemporaryError
from streamverse_ctl.core.registry import kinds, providers
from streamverse_ctl.core.resources import Change, Resource, spec_digest
from streamverse_ctl.providers.base import Provider, ProviderContext
from streamverse_ctl.providers.sim.provider import SimProvider
from streamverse_ctl.state import StateStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The same tests on both backends: a SQLite directory, and a fresh PostgreSQL database."""
    if request.param == "postgresql":
        s = StateStore(request.getfixturevalue("postgres_url"))
    else:
        s = StateStore(tmp_path / "state", create=True)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = StateStore(tmp_path / "state", create=True)
    yield s
    s.close()


def again(store: StateStore) -> StateStore:
    """Another handle on the same store (another process would open it so)."""
    return StateStore(store.option_value)


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ----- locks ------------------------------------------------------------------------------------
def test_lock_held_by_a_live_process_is_refused_with_its_owner(store: StateStore, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STREAMVERSE_USER", "alice")
    store.acquire("apply", purpose="apply plan-1")
    other = again(store)
    with pytest.raises(LockHeld) as info:
        other.acquire("apply")
    assert info.value.exit_code == 3
    assert "held by alice@" in str(info.value) and f"pid {os.getpid()}" in str(info.value)
    assert "apply plan-1" in str(info.value)
    other.close()


def test_lock_timeout_waits_for_release(store: StateStore) -> None:
    store.acquire("apply")
    other = again(store)
    threading.Timer(0.3, store.release, args=("apply",)).start()
    info = other.acquire("apply", timeout=5)
    assert info.pid == os.getpid()
    other.release("apply")
    store.acquire("apply")
    with pytest.raises(LockHeld):
        other.acquire("apply", timeout=0.3)  # gives up after the timeout
    other.close()


def test_stale_lock_of_a_dead_process_is_taken_over_and_audited(sqlite_store: StateStore) -> None:
    store = sqlite_store
    import socket

    pid = dead_pid()
    store._db.execute("INSERT INTO locks VALUES (?,?,?,?,?,?)",
                      ("apply", "bob", socket.gethostname(), pid, "2020-01-01T00:00:00Z", "apply x"))
    info = store.acquire("apply")
    assert info.pid == os.getpid()
    [entry] = store.audit_log(action="lock.takeover")
    assert entry.detail == {"stale_pid": pid, "owner": "bob"}


def test_lock_of_another_host_is_never_taken_over(sqlite_store: StateStore) -> None:
    store = sqlite_store
    store._db.execute("INSERT INTO locks VALUES (?,?,?,?,?,?)",
                      ("apply", "carol", "other-host", dead_pid(), "2020-01-01T00:00:00Z", ""))
    with pytest.raises(LockHeld, match="carol@other-host"):
        store.acquire("apply")
    info = store.force_unlock("apply")
    assert info is not None and info.owner == "carol"
    assert store.lock_info() is None
    [entry] = store.audit_log(action="lock.force-unlock")
    assert entry.detail["owner"] == "carol"
    store.acquire("apply")


def test_lock_context_releases_on_error(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.lock("apply"):
        raise RuntimeError("boom")
    assert store.lock_info() is None


# ----- audit, journal, overrides ----------------------------------------------------------------
def test_audit_is_append_only_and_ordered(store: StateStore) -> None:
    store.audit("apply.start", "plan-1", "started", n=1)
    first = store.audit_log()
    for i in range(5):
        store.audit("apply.finish", f"plan-{i}", "ok")
    log = store.audit_log(limit=100)
    assert log[0] == first[0]  # earlier entries never change
    assert [e.id for e in log] == sorted(e.id for e in log) and len(log) == 6
    assert [e.target for e in store.audit_log(limit=2)] == ["plan-3", "plan-4"]  # the newest, oldest first
    assert {e.action for e in store.audit_log(action="apply.s*")} == {"apply.start"}


def test_journal_records_each_item(store: StateStore) -> None:
    run = store.journal_start("apply", "plan-1", ["a", "b", "c"])
    store.journal_mark(run, "a", "running")
    store.journal_mark(run, "a", "done")
    store.journal_mark(run, ["b"], "failed", {"error": "nope"})
    store.journal_finish(run, "failed")
    items = store.journal_items(run)
    assert [(i.item, i.status) for i in items] == [("a", "done"), ("b", "failed"), ("c", "pending")]
    assert items[0].started_at and items[0].finished_at and items[1].data == {"error": "nope"}
    assert store.journal_run(run)["status"] == "failed"  # type: ignore[index]
    assert [r["id"] for r in store.journal_runs("apply", status="failed")] == [run]


def test_overrides_set_list_clear(store: StateStore) -> None:
    store.set_override("TrafficPolicy", "www", {"weights": {"r1": 0}}, reason="drill")
    [o] = store.overrides()
    assert o["merge"] == {"weights": {"r1": 0}} and o["reason"] == "drill" and o["who"]
    assert store.clear_override("TrafficPolicy", "www") is True
    assert store.overrides() == [] and store.clear_override("TrafficPolicy", "www") is False


def test_region_status_and_applied_specs(store: StateStore) -> None:
    store.set_region_status("r1", "drained", "outage")
    store.set_region_status("r2", "serving")
    assert store.drained_regions() == frozenset({"r1"})
    store.record_applied("sim", "cdn.pop/p1", {"a": 1}, "run")
    assert store.applied_spec("sim", "cdn.pop/p1") == {"a": 1}
    assert store.applied_digests() == {("sim", "cdn.pop/p1"): spec_digest({"a": 1})}
    store.record_applied("sim", "cdn.pop/p1", None, "run")
    assert store.applied_digests() == {} and store.applied_spec("sim", "cdn.pop/p1") is None


# ----- secrets ----------------------------------------------------------------------------------
SECRET = "s3cr3t-value-xyz-123"


def test_secret_is_never_shown_and_references_resolve(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SV_TEST_SECRET", SECRET)
    s = secrets.resolve({"fromEnv": "SV_TEST_SECRET"})
    assert s.reveal() == SECRET
    assert SECRET not in repr(s) and SECRET not in str(s) and SECRET not in f"{s}"
    (tmp_path / "key").write_text(SECRET + "\n")
    assert secrets.resolve({"fromFile": str(tmp_path / "key")}).reveal() == SECRET
    settings = secrets.resolve_settings({"auth": {"token": {"fromEnv": "SV_TEST_SECRET"}}, "port": 53}, "p")
    assert isinstance(settings["auth"]["token"], secrets.Secret) and settings["port"] == 53
    with pytest.raises(Exception, match="SV_TEST_MISSING is not set"):
        secrets.resolve({"fromEnv": "SV_TEST_MISSING"})


def test_a_secret_never_reaches_audit_journal_or_logs(monkeypatch, sqlite_store: StateStore, caplog) -> None:  # type: ignore[no-untyped-def]
    store = sqlite_store
    monkeypatch.setenv("SV_TEST_SECRET", SECRET)
    secrets.resolve({"fromEnv": "SV_TEST_SECRET"})
    store.audit("provider.error", "x", "failed", error=f"auth failed with key {SECRET}")
    run = store.journal_start("apply", "p", ["a"])
    store.journal_mark(run, "a", "failed", {"error": f"server said {SECRET}"})
    raw = b"".join(p.read_bytes() for p in store.directory.iterdir() if p.is_file())
    assert SECRET.encode() not in raw
    assert "***" in store.audit_log()[0].detail["error"]

    class Leaky(Provider):
        resource_types = frozenset({"cdn.pop"})
        retry_attempts = 2

        def _read(self, types):  # type: ignore[no-untyped-def]
            raise TemporaryError(f"throttled, key={SECRET}", delay=0.0)

        def _apply(self, batch):  # type: ignore[no-untyped-def]
            pass

    caplog.set_level(logging.WARNING)
    with pytest.raises(ProviderError) as info:
        Leaky("leaky", {}, ProviderContext(store.directory)).read(["cdn.pop"])
    assert SECRET not in str(info.value) and SECRET not in caplog.text and "***" in caplog.text


def test_plan_never_contains_provider_secrets(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from streamverse_ctl.engine.workspace import Workspace

    from .helpers import doc, minimal

    monkeypatch.setenv("SV_TEST_SECRET", SECRET)
    provider = doc("Provider", "platform", {"type": "sim", "serves": {"types": ["*"]},
                                            "settings": {"apiToken": {"fromEnv": "SV_TEST_SECRET"}}})
    (tmp_path / "s").mkdir()  # an explicit state location must exist
    ws = Workspace(minimal(tmp_path / "inv", extra={"p.yaml": provider}), state_dir=tmp_path / "s")
    plan = ws.plan()
    ws.close()
    assert plan.changes and SECRET not in json.dumps(plan.to_dict(), default=str)


# ----- registry ---------------------------------------------------------------------------------
def test_builtin_names_and_unknown_name_error() -> None:
    assert {"sim", "route53", "rfc2136", "powerdns"} <= set(providers.names())
    assert {"Region", "PoP", "TrafficPolicy", "Provider"} <= set(kinds.names())
    assert providers.get("sim") is SimProvider
    with pytest.raises(Exception, match=r"unknown provider 'nope' \(known: .*sim"):
        providers.get("nope")


def test_plugin_directory_is_loaded_and_a_broken_plugin_is_reported(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "acme.py").write_text(textwrap.dedent("""
        from streamverse_ctl.core.registry import providers
        from streamverse_ctl.providers.sim.provider import SimProvider

        @providers.register("acme-cdn")
        class Acme(SimProvider):
            provider_type = "acme-cdn"
    """))
    (plugins / "broken.py").write_text("raise RuntimeError('half-written plugin')\n")
    (plugins / "_private.py").write_text("raise SystemExit('must not be imported')\n")
    code = textwrap.dedent("""
        from streamverse_ctl.core import registry
        cls = registry.providers.get("acme-cdn")
        print(cls.__name__, registry.providers.names())
        print([e.origin for e in registry.providers.entries() if e.name == "acme-cdn"])
        print(registry.plugin_errors)
    """)
    env = {**os.environ, "STREAMVERSE_PLUGIN_PATH": str(plugins)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "plugins", env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Acme ") and "'acme-cdn'" in lines[0] and "'sim'" in lines[0]
    assert "acme.py" in lines[1]
    assert "broken.py: RuntimeError: half-written plugin" in lines[2]


# ----- sim provider -----------------------------------------------------------------------------
def sim(tmp_path: Path, **settings: object) -> SimProvider:
    return SimProvider("sim", settings, ProviderContext(tmp_path))


def create(name: str) -> Change:
    spec = {"region": "r1", "city": name}
    return Change("create", "cdn.pop", name, "sim", None, spec)


def test_sim_write_errors_are_retried_by_the_base_provider(tmp_path: Path) -> None:
    p = sim(tmp_path)
    p.store.set_setting("write_errors", 2)
    done: list[str] = []
    p.apply([create("a"), create("b")], finished=lambda b, e: done.extend(c.name for c in b if e is None))
    assert done == ["a", "b"]
    assert {r.name for r in p.read(["cdn.pop"])} == {"a", "b"}
    assert p.store.setting("write_errors") == 0
    p.close()


def test_sim_write_errors_beyond_the_retry_budget_fail_naming_the_provider(tmp_path: Path) -> None:
    p = sim(tmp_path, retries=2)
    p.store.set_setting("write_errors", 5)
    with pytest.raises(ProviderError, match=r"provider 'sim'.*still failing after 2 attempts"):
        p.apply([create("a")])
    assert p.read(["cdn.pop"]) == []
    p.close()


def test_sim_region_health_and_verify(tmp_path: Path) -> None:
    p = sim(tmp_path)
    for r in ("r1", "r2"):
        p.apply([Change("create", "platform.region", r, "sim", None, {"serving": True})])
    assert p.region_health() == {"r1": True, "r2": True}
    p.store.set_region_health("r2", False, "outage")
    assert p.region_health() == {"r1": True, "r2": False}
    p.store.set_region_health("r9", False)  # unknown to the sim: not reported
    assert "r9" not in p.region_health()
    ok, bad = p.verify([Resource("platform.region", "r1", {"serving": True}),
                        Resource("platform.region", "r2", {"serving": False})])
    assert ok.ok and not bad.ok
    p.close()


def test_sim_keeps_unmanaged_resources_unmanaged(tmp_path: Path) -> None:
    p = sim(tmp_path)
    with p.store.tx() as db:
        p.store.put(db, "cdn.pop", "theirs", {"x": 1}, managed=False)
    [r] = p.read(["cdn.pop"])
    assert r.managed is False
    p.close()


def test_provider_refuses_unsupported_features_at_plan_time(tmp_path: Path) -> None:
    class OnlyPops(SimProvider):
        resource_types = frozenset({"cdn.pop"})
        features = frozenset()

    p = OnlyPops("edge", {}, ProviderContext(tmp_path))
    msgs = p.check([Resource("dns.record", "x", {}, requires=("dns.routing.weighted",), origin="TrafficPolicy/www"),
                    Resource("cdn.pop", "p", {}, requires=("dns.routing.geo",))])
    assert "does not manage dns.record (needed by TrafficPolicy/www)" in msgs[0]
    assert "does not support dns.routing.geo" in msgs[1]
    p.close()


def test_permanent_errors_are_not_retried(tmp_path: Path) -> None:
    from streamverse_ctl.core.errors import PermanentError

    calls = []

    class Broken(SimProvider):
        def _apply(self, batch):  # type: ignore[no-untyped-def]
            calls.append(1)
            raise PermanentError("bad request")

    p = Broken("b", {}, ProviderContext(tmp_path))
    with pytest.raises(ProviderError, match=r"provider 'b'.*bad request"):
        p.apply([create("a")])
    assert calls == [1]  # tried once, not retried
    p.close()
