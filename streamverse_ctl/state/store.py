"""SQLite (WAL) state backend under ``.streamverse/`` (or wherever the inventory says).

Every write is its own short transaction, so a ``kill -9`` at any point leaves a consistent file.

Identity: a store has a *lineage* (a uuid made once, when it is created) kept in its ``meta``
table and, as a witness, in the sidecar file ``<dir>/lineage``. A store that was emptied, deleted
or swapped for another one no longer matches its witness and is refused, never silently replaced
by a new empty one; a location that does not exist is only created when asked to (the default
location, or ``state init``). A store also remembers which inventory applied resources through it
(``inventory_id``) and refuses another inventory, which would otherwise plan to delete them.

The SQL lives in :class:`StateStore`; everything specific to a state that is a file (the sidecar,
the 0-byte and header checks, ``PRAGMA quick_check``, moving a broken file aside) lives in the
``_file_*`` / ``_sqlite_*`` helpers below, so another backend can bring its own.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from ..core.errors import (
    LockHeld,
    LockInfo,
    StateCorrupt,
    StateError,
    StateInventoryMismatch,
    StateNotFound,
    StateReadOnly,
    StateReplaced,
)
from ..core.resources import canonical_json, spec_digest, text_digest
from ..core.secrets import redact
from .sql import (
    LOCK_CLASS,
    Adapter,
    PostgresAdapter,
    SQLiteAdapter,
    is_postgres,
    local_directory,
    lock_key,
    parse_location,
    pg_state_error,
    server_local_dir,
)

SCHEMA_VERSION = 2  # 2: meta table (lineage, inventory_id, moved_to) and applied.inventory
DB_NAME = "state.db"
SIDECAR = "lineage"  # the lineage witness next to state.db

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locks (
  name TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
  acquired_at TEXT NOT NULL, purpose TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, who TEXT NOT NULL, host TEXT NOT NULL,
  action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', result TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS journal_runs (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL, status TEXT NOT NULL,
  started_at TEXT NOT NULL, finished_at TEXT, who TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS journal_items (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, item TEXT NOT NULL, status TEXT NOT NULL,
  started_at TEXT, finished_at TEXT, data TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS plans (
  id TEXT PRIMARY KEY, created_at TEXT NOT NULL, who TEXT NOT NULL, fingerprint TEXT NOT NULL,
  inventory TEXT NOT NULL, changes INTEGER NOT NULL, digest TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS overrides (
  kind TEXT NOT NULL, name TEXT NOT NULL, merge TEXT NOT NULL, who TEXT NOT NULL, at TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '', PRIMARY KEY (kind, name));
CREATE TABLE IF NOT EXISTS applied (
  provider TEXT NOT NULL, id TEXT NOT NULL, spec TEXT NOT NULL, at TEXT NOT NULL, run_id TEXT NOT NULL,
  digest TEXT NOT NULL DEFAULT '', inventory TEXT NOT NULL DEFAULT '', PRIMARY KEY (provider, id));
CREATE TABLE IF NOT EXISTS regions (
  name TEXT PRIMARY KEY, status TEXT NOT NULL, who TEXT NOT NULL, at TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
  acquired_at TEXT NOT NULL, renewed_at TEXT NOT NULL,
  renewed_epoch DOUBLE PRECISION NOT NULL, ttl DOUBLE PRECISION NOT NULL,  -- float8 on PostgreSQL (REAL: float4)
  transitions INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS controller (
  key TEXT PRIMARY KEY, value TEXT NOT NULL, at TEXT NOT NULL);
"""

ACTIVE = ("running", "interrupted")
# table -> (columns in order, primary key): upserts and `state migrate` copy by these
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "meta": (("key", "value"), ("key",)),
    "locks": (("name", "owner", "host", "pid", "acquired_at", "purpose"), ("name",)),
    "audit": (("id", "at", "who", "host", "action", "target", "result", "detail"), ("id",)),
    "journal_runs": (("id", "kind", "ref", "status", "started_at", "finished_at", "who", "data"), ("id",)),
    "journal_items": (("run_id", "seq", "item", "status", "started_at", "finished_at", "data"), ("run_id", "seq")),
    "plans": (("id", "created_at", "who", "fingerprint", "inventory", "changes", "digest"), ("id",)),
    "overrides": (("kind", "name", "merge", "who", "at", "reason"), ("kind", "name")),
    "applied": (("provider", "id", "spec", "at", "run_id", "digest", "inventory"), ("provider", "id")),
    "regions": (("name", "status", "who", "at", "reason"), ("name",)),
}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def whoami() -> str:
    user = os.environ.get("STREAMVERSE_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return f"uid{os.getuid()}"


@dataclass
class AuditEntry:
    id: int
    at: str
    who: str
    host: str
    action: str
    target: str
    result: str
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class LeaseInfo:
    """A leader lease: who holds it, since when, last renewed (epoch seconds on the store's clock)."""

    name: str
    holder: str
    host: str
    pid: int
    acquired_at: str
    renewed_at: str
    renewed_epoch: float
    ttl: float
    transitions: int = 0
    clock: float = 0.0  # the store's clock when this was read

    @property
    def expired(self) -> bool:
        return self.clock > self.renewed_epoch + self.ttl

    @property
    def age(self) -> float:
        """Seconds since the holder acquired it (on the store's clock)."""
        try:
            acquired = datetime.fromisoformat(self.acquired_at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
        return max(0.0, self.clock - acquired)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "clock"} | {"expired": self.expired}


@dataclass
class JournalItem:
    seq: int
    item: str
    status: str  # pending | running | done | failed | skipped
    started_at: str | None
    finished_at: str | None
    data: dict[str, Any]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----- errors that name the state and the way out -------------------------------------------------
def way_out(directory: Path) -> str:
    return (f"restore {directory / DB_NAME} from backup, or start a new lineage deliberately (audited): "
            f"streamverse ctl state init --state-dir {directory} --force-new")


def _check_hint(directory: Path) -> str:
    return (f"streamverse ctl state check --state-dir {directory} shows the damage; " + way_out(directory))


def state_error(exc: sqlite3.Error, db: Path) -> StateError:
    """A sqlite error as a :class:`StateError` that names the file and what to do (never a bare DatabaseError)."""
    directory = db.parent
    text = str(exc)
    low = text.lower()
    if "readonly" in low or "read-only" in low:
        return StateReadOnly(f"state {db} is read-only ({text}): locks, journals and the audit log need write "
                             "access", str(db), f"give this user write access to {directory} and its files, "
                                                "or use another --state-dir")
    if "unable to open" in low:
        return StateError(f"cannot open state {db} ({text})", str(db),
                          f"check that {directory} is a directory this user can read and write")
    if "locked" in low or "busy" in low:
        return StateError(f"state {db} is busy: another process kept it locked for more than 30 s ({text})",
                          str(db), "retry; `streamverse ctl state lock` shows who holds the apply lock")
    if "disk i/o" in low or "disk is full" in low:
        return StateError(f"I/O error on state {db} ({text})", str(db),
                          "check the disk; then " + _check_hint(directory))
    return StateCorrupt(f"state {db} is damaged ({text})", str(db), _check_hint(directory))


F = TypeVar("F", bound=Callable[..., Any])


def _guarded(fn: F) -> F:
    """Turn any sqlite error raised while using the store into a :class:`StateError` naming the file."""
    import functools

    @functools.wraps(fn)
    def wrapper(self: StateStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except StateError:
            raise
        except self._db.errors as exc:
            raise self._error(exc) from exc

    return wrapper  # type: ignore[return-value]


# ----- file-specific checks (a state that is a SQLite file in a directory) ------------------------
def _file_read_sidecar(directory: Path) -> str | None:
    try:
        text = (directory / SIDECAR).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read the lineage witness {directory / SIDECAR}: {exc.strerror}",
                         str(directory / SIDECAR)) from exc
    return text.split()[0] if text.split() else None


def _file_write_sidecar(directory: Path, lineage: str) -> None:
    tmp = directory / f".{SIDECAR}.{os.getpid()}.tmp"
    tmp.write_text(f"{lineage}\n", encoding="utf-8")
    os.replace(tmp, directory / SIDECAR)


def _file_preflight(directory: Path, db: Path, create: bool, ignore_witness: bool = False) -> str | None:
    """Check the location before SQLite touches it; return the lineage its witness expects (None: none yet).

    A missing directory is created only with ``create`` (the default location, ``state init``); an
    existing empty directory was made on purpose (``mktemp -d``) and may be initialised.
    """
    if not directory.exists():
        if not create:
            raise StateNotFound(
                f"state directory {directory} does not exist (a mistyped --state-dir or STREAMVERSE_STATE_DIR "
                "would otherwise start a new, empty store with locks of its own)", str(directory),
                f"if it is meant to be new, create it deliberately: streamverse ctl state init --state-dir {directory}")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create state directory {directory}: {exc.strerror}", str(directory),
                             "create it with the right permissions, or use another --state-dir") from exc
    if not directory.is_dir():
        raise StateError(f"state location {directory} is not a directory", str(directory),
                         "--state-dir / STREAMVERSE_STATE_DIR / the inventory's state.path name a directory")
    expected = None if ignore_witness else _file_read_sidecar(directory)
    try:
        size: int | None = db.stat().st_size
    except FileNotFoundError:
        size = None
    # (the file is never opened here: closing any descriptor of it would drop the POSIX locks of
    # SQLite connections this process holds on it; a file that is not SQLite is told by SQLite)
    if expected is not None and not size:
        found = "no state.db" if size is None else "an empty file (0 bytes)"
        raise StateReplaced(f"state {db} was emptied or replaced (lineage {expected} expected, found {found})",
                            str(db), way_out(directory))
    if expected is None and size == 0:
        raise StateCorrupt(f"state {db} is empty (0 bytes): a state is never legitimately empty", str(db),
                           way_out(directory))
    eff = os.access in os.supports_effective_ids  # what SQLite will be allowed to do, as this process
    dir_ok = os.access(directory, os.W_OK | os.X_OK, effective_ids=eff)
    if not dir_ok or (size is not None and not os.access(db, os.R_OK | os.W_OK, effective_ids=eff)):
        where = directory if not dir_ok else db
        raise StateReadOnly(f"state {where} is read-only for {whoami()}: locks, journals and the audit log need "
                            "write access", str(where),
                            f"give this user write access to {directory} and its files, or use another --state-dir")
    return expected


def _file_set_aside(db: Path) -> list[Path]:
    """Move a broken state file (and its WAL) aside, never deleting it; return the new names."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        src = db.with_name(db.name + suffix)
        if src.exists():
            dst = db.with_name(f"{db.name}{suffix}.broken-{stamp}")
            os.replace(src, dst)
            moved.append(dst)
    return moved


def _file_create(db: Path, initialise: Callable[[sqlite3.Connection], None]) -> None:
    """Make a new store under a temporary name and link it into place complete, so no crash ever
    leaves a 0-byte or half-made ``state.db`` (which would be refused as emptied)."""
    tmp = db.with_name(f".{db.name}.{os.getpid()}.new")
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        initialise(conn)
    finally:
        conn.close()  # the last connection folds the WAL into the file
    try:
        os.link(tmp, db)
    except FileExistsError:
        pass  # another process created it meanwhile: use theirs
    except OSError:  # no hard links on this file system
        if not db.exists():
            os.replace(tmp, db)
    finally:
        tmp.unlink(missing_ok=True)


def _sqlite_initialise(db: sqlite3.Connection) -> None:  # a new file, before any adapter
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    db.executemany("INSERT INTO meta VALUES (?,?)", [
        ("lineage", uuid.uuid4().hex), ("schema_version", str(SCHEMA_VERSION)), ("created_at", now())])


def _sqlite_integrity(db: sqlite3.Connection, full: bool = False, limit: int = 20) -> list[str]:
    """Problems found by ``PRAGMA quick_check`` (or the slower ``integrity_check``); empty when sound.

    quick_check costs about 1 ms per MB of state (4 ms with 5,000 audit rows), so it runs at every open.
    """
    rows = db.execute(f"PRAGMA {'integrity_check' if full else 'quick_check'}({int(limit)})").fetchall()
    out = [str(r[0]) for r in rows]
    return [] if out == ["ok"] else out


class StateStore:
    """The state of one location. ``create``: a missing directory may be created (default location,
    ``state init``); otherwise a missing one is refused, naming it and ``state init``."""

    backend = "sqlite"

    def __init__(self, directory: str | Path, *, create: bool = False, _ignore_witness: bool = False,
                 password_file: str | None = None) -> None:
        """``directory``: a state directory, ``sqlite:///DIR`` or a ``postgresql://`` URL."""
        where = parse_location(directory)
        self.location = where.display  # for every message: a URL's password is redacted
        self.inventory_id: str | None = None  # set by bind_inventory(); recorded with what it applies
        self._lock_conns: dict[str, Any] = {}  # PostgreSQL: lock name -> the connection holding it
        self._spare_conn: Any = None  # PostgreSQL: a lock connection kept after a release, for the next lock
        if where.url is not None:
            self._open_postgres(where.url, password_file)
            return
        assert where.directory is not None
        self.directory = where.directory
        self.path = self.directory / DB_NAME
        expected = _file_preflight(self.directory, self.path, create, _ignore_witness)
        try:
            if expected is None and not self.path.exists():
                _file_create(self.path, _sqlite_initialise)
            self._db: Adapter = SQLiteAdapter(
                sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False))
        except sqlite3.Error as exc:
            raise state_error(exc, self.path) from exc
        try:
            self._open(expected, witness=not _ignore_witness)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if "not a database" not in str(exc):
                raise state_error(exc, self.path) from exc
            if expected is not None:
                raise StateReplaced(f"state {self.path} was emptied or replaced (lineage {expected} expected, found "
                                    "a file that is not a SQLite database)", str(self.path),
                                    way_out(self.directory)) from exc
            raise StateCorrupt(f"state {self.path} is not a SQLite database", str(self.path),
                               way_out(self.directory)) from exc
        except sqlite3.Error as exc:
            self._db.close()
            raise state_error(exc, self.path) from exc
        except BaseException:
            self._db.close()
            raise

    def _error(self, exc: BaseException) -> StateError:
        if isinstance(exc, sqlite3.Error):
            return state_error(exc, self.path)
        return pg_state_error(exc, self.location)

    def _open_postgres(self, url: str, password_file: str | None) -> None:
        """The team store: schema made (or migrated forward) in one write transaction, so replicas
        starting at once do not race; no file witness (the server keeps the database)."""
        self.backend = "postgresql"
        self.path = cast(Path, self.location)  # messages name the (redacted) URL where a file is named
        self.directory = server_local_dir()  # local working data (sim.db, runbook artifacts)
        self.directory.mkdir(parents=True, exist_ok=True)
        adapter = PostgresAdapter(url, password_file)
        self._db = adapter
        try:
            with self._tx(check_moved=False):
                adapter.script(SCHEMA)
                self._migrate()
            lineage = self.meta().get("lineage")
            self._created = lineage is None
            lineage = lineage or self._new_lineage(reason="created")
            if self.meta().get("schema_version") != str(SCHEMA_VERSION):
                with self._tx(check_moved=False) as db:
                    db.execute(db.upsert("meta", ("key", "value"), ("key",)), ("schema_version", str(SCHEMA_VERSION)))
        except StateError:
            adapter.close()
            raise
        except adapter.errors as exc:
            adapter.close()
            raise pg_state_error(exc, self.location) from exc
        self._lineage = lineage

    def _open(self, expected: str | None, witness: bool = True) -> None:
        assert isinstance(self._db, SQLiteAdapter)
        problems = _sqlite_integrity(self._db.conn)
        if problems:
            raise StateCorrupt(f"state {self.path} failed its integrity check: " + "; ".join(problems[:3]),
                               str(self.path), _check_hint(self.directory))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.script(SCHEMA)
        self._migrate()
        meta = self.meta()
        lineage = meta.get("lineage")
        if lineage is None and expected is not None:
            raise StateReplaced(f"state {self.path} was emptied or replaced (lineage {expected} expected, found a "
                                "store without one)", str(self.path), way_out(self.directory))
        if lineage is not None and expected is not None and lineage != expected:
            raise StateReplaced(f"state {self.path} was emptied or replaced (lineage {expected} expected, found "
                                f"{lineage})", str(self.path), way_out(self.directory))
        if lineage is None:
            lineage = self._new_lineage(reason="created")
        elif meta.get("schema_version") != str(SCHEMA_VERSION):
            with self._tx(check_moved=False) as db:
                db.execute(db.upsert("meta", ("key", "value"), ("key",)), ("schema_version", str(SCHEMA_VERSION)))
        if expected is None and witness:
            _file_write_sidecar(self.directory, lineage)
        self._lineage = lineage

    def _new_lineage(self, reason: str, **detail: Any) -> str:
        """Give the store a new lineage (first creation, or ``state init --force-new``), audited."""
        lineage = uuid.uuid4().hex
        with self._tx(check_moved=False) as db:
            previous = db.execute("SELECT value FROM meta WHERE key='lineage'").fetchone()
            if previous is not None and reason == "created":  # another process created it meanwhile
                return str(previous[0])
            legacy = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] > 0
            db.executemany(db.upsert("meta", ("key", "value"), ("key",)), [
                ("lineage", lineage), ("schema_version", str(SCHEMA_VERSION)), ("created_at", now())])
            if legacy or reason != "created":  # a brand-new store's first audit entry stays the user's own
                self._audit(db, "state.lineage", str(self.path), "ok",
                            {"lineage": lineage, "reason": "adopted a store made before lineages"
                             if reason == "created" else reason,
                             "previous": previous[0] if previous else None, **detail})
        return lineage

    @property
    def lineage(self) -> str:
        """The identity of this store: made once when it was created, never changed by use."""
        return self._lineage

    def meta(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self._db.execute("SELECT key, value FROM meta").fetchall()}

    @classmethod
    def initialise(cls, directory: str | Path, *, force_new: bool = False, password_file: str | None = None
                   ) -> tuple[StateStore, dict[str, Any]]:
        """``state init``: create the location and the store, or with ``force_new`` give a broken,
        emptied or swapped one a new lineage (a broken file is moved aside, never deleted). Audited.

        On PostgreSQL the database must exist (made by its administrator); the tables are created."""
        if is_postgres(directory):
            store = cls(directory, password_file=password_file)
            if not force_new:
                return store, {"created": store._created, "lineage": store.lineage}
            old = store.lineage
            store._lineage = store._new_lineage("state init --force-new", found=old)
            return store, {"created": True, "lineage": store.lineage, "previous": old, "moved_aside": []}
        directory = local_directory(directory)
        if not force_new:
            existed = (directory / DB_NAME).exists()
            store = cls(directory, create=True)
            return store, {"created": not existed, "lineage": store.lineage}
        witness = _file_read_sidecar(directory) if directory.is_dir() else None
        moved: list[Path] = []
        try:
            store = cls(directory, create=True, _ignore_witness=True)
        except StateCorrupt:
            try:
                moved = _file_set_aside(directory / DB_NAME)
            except OSError as exc:
                raise StateReadOnly(f"cannot move the broken state {directory / DB_NAME} aside: {exc.strerror}",
                                    str(directory), f"give this user write access to {directory}") from exc
            store = cls(directory, create=True, _ignore_witness=True)
        try:
            found = store.lineage
            lineage = store._new_lineage("state init --force-new", witness=witness, found=found,
                                         moved_aside=[str(m) for m in moved])
            _file_write_sidecar(directory, lineage)
            store._lineage = lineage
        except sqlite3.Error as exc:
            store.close()
            raise state_error(exc, store.path) from exc
        return store, {"created": True, "lineage": lineage, "previous": witness,
                       "moved_aside": [str(m) for m in moved]}

    def check(self, full: bool = True) -> list[str]:
        """Integrity problems (empty when sound): ``state check`` and ``state info``."""
        if not isinstance(self._db, SQLiteAdapter):
            return []  # the PostgreSQL server keeps its own pages sound
        return _sqlite_integrity(self._db.conn, full=full)

    def info(self) -> dict[str, Any]:
        meta = self.meta()
        if self.backend == "sqlite":
            size = sum(p.stat().st_size for p in (self.path, self.path.with_name(DB_NAME + "-wal")) if p.exists())
        else:
            size = int(self._db.execute("SELECT pg_database_size(current_database())").fetchone()[0])
        problems = self.check(full=False)
        inventories = sorted({r[0] for r in self._db.execute("SELECT DISTINCT inventory FROM applied").fetchall()
                              if r[0]})
        return {"backend": self.backend, "location": self.location, "path": str(self.path), "lineage": self.lineage,
                "serial": int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]),
                "moved_to": meta.get("moved_to"),
                "schema_version": int(meta.get("schema_version", "0")), "created_at": meta.get("created_at"),
                "size_bytes": size, "integrity": "ok" if not problems else "; ".join(problems),
                "inventory_id": meta.get("inventory_id"), "applied_by": inventories,
                "applied_resources": self._db.execute("SELECT COUNT(*) FROM applied").fetchone()[0]}

    @property
    def option_value(self) -> str:
        """What --state-url takes to name this store (its directory, or the redacted URL)."""
        return str(self.directory) if self.backend == "sqlite" else self.location

    # ----- moving a state to another backend ---------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Rows per table (what ``state migrate`` verifies); locks are not moved."""
        return {t: int(self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES if t != "locks"}

    def migrate_to(self, target: str | Path, password_file: str | None = None) -> dict[str, Any]:
        """Copy everything (audit, journals, plans, overrides, regions, applied, meta and its lineage)
        into an empty store at ``target``, verify the row counts per table, and mark this store
        read-only "moved to <target>". Runs under this store's apply lock, so nothing writes meanwhile."""
        with self.lock("apply", purpose=f"state migrate --to {parse_location(target).display}"):
            dest = StateStore(target, create=True, password_file=password_file)
            try:
                return self._copy_into(dest)
            finally:
                dest.close()

    def _copy_into(self, dest: StateStore) -> dict[str, Any]:
        if dest.location == self.location:
            raise StateError(f"state {self.location} cannot be migrated onto itself", self.location)
        busy = {t: n for t, n in dest.counts().items() if n and t != "meta"}
        if busy:
            raise StateError(f"state {dest.location} is not empty ({', '.join(f'{t}: {n}' for t, n in busy.items())})"
                             ": a migration only fills a new store", dest.location,
                             "name a new directory or an empty database in --to")
        source = self.counts()
        with dest._tx() as db:
            db.execute("DELETE FROM meta")
            for table, (columns, _key) in TABLES.items():
                if table == "locks":
                    continue
                rows = self._db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
                if table == "meta":
                    rows = [r for r in rows if r[0] != "moved_to"]
                db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                               [tuple(r) for r in rows])
            if db.dialect == "postgresql":  # the identity goes on after the copied ids
                db.execute("SELECT setval(pg_get_serial_sequence('audit', 'id'), GREATEST(COALESCE(MAX(id), 0), 1), "
                           "MAX(id) IS NOT NULL) FROM audit")
        copied = dest.counts()
        expected = {**source, "meta": source["meta"] - (1 if "moved_to" in self.meta() else 0)}
        wrong = {t: (expected[t], copied.get(t, 0)) for t in expected if copied.get(t, 0) != expected[t]}
        if wrong:
            raise StateError(f"state migrate to {dest.location}: row counts differ ("
                             + ", ".join(f"{t}: {a} here, {b} there" for t, (a, b) in wrong.items())
                             + f"); {self.location} was left as it was", dest.location)
        dest._lineage = self.lineage
        if dest.backend == "sqlite":
            _file_write_sidecar(dest.directory, self.lineage)
        dest.audit("state.migrate", self.location, "ok", source=self.location, counts=copied)
        with self._tx() as db:
            self._audit(db, "state.migrate", dest.location, "ok", {"to": dest.location, "counts": copied})
            db.execute(db.upsert("meta", ("key", "value"), ("key",)), ("moved_to", dest.option_value))
        return {"from": self.location, "to": dest.option_value, "lineage": self.lineage, "counts": copied}

    # ----- inventory identity -------------------------------------------------------------------
    def bind_inventory(self, inventory_id: str) -> None:
        """Refuse if another inventory applied resources through this store; else remember who we are.

        Two inventories sharing one state would each plan to delete the resources of the other."""
        owner = self.meta().get("inventory_id")
        others = sorted(r[0] for r in self._db.execute(
            "SELECT DISTINCT inventory FROM applied WHERE inventory NOT IN ('', ?)", (inventory_id,)).fetchall())
        if (owner is not None and owner != inventory_id) or others:
            other = owner if owner is not None and owner != inventory_id else others[0]
            n = self._db.execute("SELECT COUNT(*) FROM applied WHERE inventory IN (?, '')", (other,)).fetchone()[0]
            raise StateInventoryMismatch(
                f"state {self.path} belongs to inventory '{other}' ({n} resources applied); this is inventory "
                f"'{inventory_id}': planning here would delete the other inventory's resources", str(self.path),
                "use another --state-dir (or state.path in the inventory) for this inventory")
        self.inventory_id = inventory_id

    def _claim(self, db: Adapter) -> None:
        """The first inventory to write its state (applied resources, overrides, failover) owns the store."""
        if self.inventory_id is not None:
            db.execute(db.insert_ignore("meta", ("key", "value")), ("inventory_id", self.inventory_id))

    def _migrate(self) -> None:
        """Bring an older schema forward (both backends; the columns tell what is missing)."""
        cols = self._db.columns("applied")
        if "digest" not in cols:  # state written by 0.1.0 before digests were kept
            self._db.execute("ALTER TABLE applied ADD COLUMN digest TEXT NOT NULL DEFAULT ''")
        if "inventory" not in cols:  # before stores knew which inventory applied what
            self._db.execute("ALTER TABLE applied ADD COLUMN inventory TEXT NOT NULL DEFAULT ''")
        if "digest" not in self._db.columns("plans"):
            self._db.execute("ALTER TABLE plans ADD COLUMN digest TEXT NOT NULL DEFAULT ''")  # saved-plan binding

    def close(self) -> None:
        for name in list(self._lock_conns):
            self._drop_lock_conn(name, keep=False)
        spare, self._spare_conn = self._spare_conn, None
        if spare is not None:
            try:
                spare.close()
            except Exception:
                pass
        self._db.close()

    @contextmanager
    def _tx(self, check_moved: bool = True) -> Iterator[Adapter]:
        """One write transaction (writers take turns); refused on a store that was moved elsewhere."""
        self._db.begin()
        try:
            if check_moved:
                moved = self._db.execute("SELECT value FROM meta WHERE key='moved_to'").fetchone()
                if moved is not None:
                    raise StateReadOnly(f"state {self.location} is read-only: it was moved to {moved[0]}",
                                        self.location, f"use --state-url {moved[0]}")
            yield self._db
        except BaseException:
            self._db.rollback()
            raise
        self._db.commit()

    # ----- locks --------------------------------------------------------------------------------
    # SQLite: the `locks` row is the lock; a row whose holder ran on this host and whose pid is gone
    # is stale. PostgreSQL: a session advisory lock, held by a connection of its own for the lock's
    # life, is the lock (the server frees it when the holder dies, on whatever host); the row only
    # says who holds it, and a row whose advisory lock is free is stale.
    def _pg_try(self, name: str) -> bool:
        conn = self._lock_conns.get(name)
        if conn is None:
            assert isinstance(self._db, PostgresAdapter)
            spare, self._spare_conn = self._spare_conn, None
            conn = self._lock_conns[name] = spare if spare is not None else self._db.connect()
        row = conn.execute("SELECT pg_try_advisory_lock(%s::int, %s::int)", (LOCK_CLASS, lock_key(name))).fetchone()
        return bool(row[0])

    def _drop_lock_conn(self, name: str, keep: bool = True) -> None:
        """Free the lock: unlock and keep the session as the spare for the next lock (a new session
        costs ~10-40 ms), or close it (closing a session frees its advisory locks, whatever else failed)."""
        conn = self._lock_conns.pop(name, None)
        if conn is None:
            return
        if keep and self._spare_conn is None:
            try:
                conn.execute("SELECT pg_advisory_unlock_all()")
                self._spare_conn = conn
                return
            except Exception:
                pass
        try:
            conn.close()
        except Exception:
            pass

    def _pg_held(self, name: str) -> int | None:
        """The server pid of the session holding the advisory lock ``name``, or None when it is free."""
        row = self._db.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND "
            "database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND "
            "classid::bigint = ? AND objid::bigint = ?", (LOCK_CLASS, lock_key(name))).fetchone()
        return int(row[0]) if row is not None else None

    @staticmethod
    def _lock_row(row: Any) -> LockInfo:
        return LockInfo(row["name"], row["owner"], row["host"], row["pid"], row["acquired_at"], row["purpose"])

    def acquire(self, name: str = "apply", purpose: str = "", timeout: float = 0.0, poll: float = 0.2) -> LockInfo:
        """Take the lock or raise :class:`LockHeld` after ``timeout`` seconds (the wait and a refusal
        are audited).

        SQLite: a lock whose holder ran on this host and whose pid is gone is stale and taken over
        (audited); a lock from another host is never taken over automatically. PostgreSQL: the
        server's advisory lock decides, whichever host the holder ran on.
        """
        deadline = time.monotonic() + timeout
        me = LockInfo(name, whoami(), socket.gethostname(), os.getpid(), now(), purpose)
        pg = self.backend == "postgresql"
        waited = False
        try:
            while True:
                got = self._pg_try(name) if pg else True
                with self._tx() as db:
                    row = db.execute("SELECT * FROM locks WHERE name=?", (name,)).fetchone()
                    if row is not None and got and (pg or (row["host"] == me.host and not _pid_alive(row["pid"]))):
                        db.execute("DELETE FROM locks WHERE name=?", (name,))
                        detail = {"stale_pid": row["pid"], "owner": row["owner"]}
                        if pg:
                            detail.update(host=row["host"], reason="its advisory lock was free: the holder's "
                                                                  "session ended")
                        self._audit(db, "lock.takeover", name, "ok", detail)
                        row = None
                    if row is None and got:
                        db.execute("INSERT INTO locks (name, owner, host, pid, acquired_at, purpose) "
                                   "VALUES (?,?,?,?,?,?)", (name, me.owner, me.host, me.pid, me.acquired_at, purpose))
                        if waited:
                            self._audit(db, "lock.acquired", name, "ok", {"after_wait": True, "purpose": purpose})
                        return me
                    held = (self._lock_row(row) if row is not None else
                            LockInfo(name, "(being taken)", "?", 0, now(), "another session is taking it"))
                    if not waited and timeout > 0:
                        self._audit(db, "lock.wait", name, "waiting", {"holder": f"{held.owner}@{held.host}",
                                                                       "pid": held.pid, "timeout_s": timeout,
                                                                       "purpose": purpose})
                        waited = True
                    refused = time.monotonic() >= deadline
                    if refused:  # audited in this transaction, which commits: then refuse
                        self._audit(db, "lock.refused", name, "refused", {
                            "holder": f"{held.owner}@{held.host}", "pid": held.pid, "since": held.acquired_at,
                            "holder_purpose": held.purpose, "purpose": purpose, "waited_s": timeout})
                if refused:
                    raise LockHeld(held)
                time.sleep(poll)
        except BaseException:
            if pg and not self._pg_owns_row(name, me):
                self._drop_lock_conn(name)
            raise

    def _pg_owns_row(self, name: str, me: LockInfo) -> bool:
        try:
            row = self._db.execute("SELECT pid, host, acquired_at FROM locks WHERE name=?", (name,)).fetchone()
        except Exception:
            return False
        return row is not None and (row[0], row[1], row[2]) == (me.pid, me.host, me.acquired_at)

    def release(self, name: str = "apply") -> None:
        try:
            with self._tx(check_moved=False) as db:
                db.execute("DELETE FROM locks WHERE name=? AND pid=? AND host=?", (name, os.getpid(),
                                                                                    socket.gethostname()))
        finally:
            self._drop_lock_conn(name)

    @contextmanager
    def lock(self, name: str = "apply", purpose: str = "", timeout: float = 0.0) -> Iterator[LockInfo]:
        info = self.acquire(name, purpose, timeout)
        try:
            yield info
        finally:
            self.release(name)

    def lock_info(self, name: str = "apply") -> LockInfo | None:
        row = self._db.execute("SELECT * FROM locks WHERE name=?", (name,)).fetchone()
        if row is None:
            return None
        if self.backend == "postgresql" and name not in self._lock_conns and self._pg_held(name) is None:
            return None  # stale: its holder's session is gone (the next acquire replaces the row, audited)
        return self._lock_row(row)

    def force_unlock(self, name: str = "apply") -> LockInfo | None:
        info = self.lock_info(name)
        if self.backend == "postgresql" and info is not None:
            raise LockHeld(info)  # alive: the server frees the lock when the holder ends, never a guess
        with self._tx() as db:
            row = db.execute("SELECT * FROM locks WHERE name=?", (name,)).fetchone()
            db.execute("DELETE FROM locks WHERE name=?", (name,))
            stale = info or (self._lock_row(row) if row is not None else None)
            if stale:
                self._audit(db, "lock.force-unlock", name, "ok", {"owner": stale.owner, "host": stale.host,
                                                                  "pid": stale.pid})
        return info if self.backend == "sqlite" else stale

    # ----- audit --------------------------------------------------------------------------------
    def _audit(self, db: Adapter, action: str, target: str, result: str,
               detail: Mapping[str, Any]) -> None:
        db.execute("INSERT INTO audit (at, who, host, action, target, result, detail) VALUES (?,?,?,?,?,?,?)",
                   (now(), whoami(), socket.gethostname(), action, target, result,
                    redact(json.dumps(detail, default=str, sort_keys=True))))

    def audit(self, action: str, target: str = "", result: str = "ok", **detail: Any) -> None:
        """Append to the audit log (append-only: nothing updates or deletes rows)."""
        with self._tx() as db:
            self._audit(db, action, target, result, detail)

    def audit_log(self, limit: int = 50, action: str | None = None) -> list[AuditEntry]:
        q = "SELECT * FROM audit"
        args: list[Any] = []
        if action:
            q += " WHERE action LIKE ?"
            args.append(action.replace("*", "%"))
        q += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        rows = self._db.execute(q, args).fetchall()
        return [AuditEntry(r["id"], r["at"], r["who"], r["host"], r["action"], r["target"], r["result"],
                           json.loads(r["detail"])) for r in reversed(rows)]

    # ----- journals -----------------------------------------------------------------------------
    def journal_start(self, kind: str, ref: str, items: list[str], data: Mapping[str, Any] | None = None,
                      run_id: str | None = None) -> str:
        run_id = run_id or f"{kind}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        with self._tx() as db:
            db.execute("INSERT INTO journal_runs VALUES (?,?,?,?,?,?,?,?)",
                       (run_id, kind, ref, "running", now(), None, whoami(), json.dumps(data or {}, default=str)))
            db.executemany("INSERT INTO journal_items VALUES (?,?,?,?,?,?,?)",
                           [(run_id, i, item, "pending", None, None, "{}") for i, item in enumerate(items)])
        return run_id

    def journal_add_items(self, run_id: str, items: list[str]) -> None:
        with self._tx() as db:
            start = db.execute("SELECT COALESCE(MAX(seq)+1, 0) FROM journal_items WHERE run_id=?",
                               (run_id,)).fetchone()[0]
            db.executemany("INSERT INTO journal_items VALUES (?,?,?,?,?,?,?)",
                           [(run_id, start + i, item, "pending", None, None, "{}") for i, item in enumerate(items)])

    def journal_mark(self, run_id: str, items: list[str] | str, status: str,
                     data: Mapping[str, Any] | None = None) -> None:
        names = [items] if isinstance(items, str) else items
        col = "started_at" if status == "running" else "finished_at"
        payload = json.dumps(data, default=str) if data is not None else None
        with self._tx() as db:
            for name in names:
                if payload is None:
                    db.execute(f"UPDATE journal_items SET status=?, {col}=? WHERE run_id=? AND item=?",
                               (status, now(), run_id, name))
                else:
                    db.execute(f"UPDATE journal_items SET status=?, {col}=?, data=? WHERE run_id=? AND item=?",
                               (status, now(), redact(payload), run_id, name))

    def journal_finish(self, run_id: str, status: str, data: Mapping[str, Any] | None = None) -> None:
        with self._tx() as db:
            if data is None:
                db.execute("UPDATE journal_runs SET status=?, finished_at=? WHERE id=?", (status, now(), run_id))
            else:
                db.execute("UPDATE journal_runs SET status=?, finished_at=?, data=? WHERE id=?",
                           (status, now(), json.dumps(data, default=str), run_id))

    def journal_run(self, run_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM journal_runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["data"] = json.loads(out["data"])
        return out

    def journal_items(self, run_id: str) -> list[JournalItem]:
        rows = self._db.execute("SELECT * FROM journal_items WHERE run_id=? ORDER BY seq", (run_id,)).fetchall()
        return [JournalItem(r["seq"], r["item"], r["status"], r["started_at"], r["finished_at"],
                            json.loads(r["data"])) for r in rows]

    def journal_runs(self, kind: str | None = None, limit: int = 20, status: str | None = None
                     ) -> list[dict[str, Any]]:
        q, args = "SELECT * FROM journal_runs WHERE 1=1", list[Any]()
        if kind:
            q += " AND kind=?"
            args.append(kind)
        if status:
            q += " AND status=?"
            args.append(status)
        q += " ORDER BY started_at DESC LIMIT ?"
        args.append(limit)
        out = []
        for r in self._db.execute(q, args).fetchall():
            d = dict(r)
            d["data"] = json.loads(d["data"])
            out.append(d)
        return out

    # ----- plans --------------------------------------------------------------------------------
    def record_plan(self, plan_id: str, fingerprint: str, inventory: str, changes: int, digest: str = "") -> None:
        """Remember a saved plan by its content digest: ``apply FILE`` accepts only a recorded, unedited plan."""
        with self._tx() as db:
            db.execute(db.upsert("plans", TABLES["plans"][0], ("id",)),
                       (plan_id, now(), whoami(), fingerprint, inventory, changes, digest))

    def plan_record(self, plan_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM plans WHERE id=?", (plan_id,)).fetchone()
        return dict(row) if row is not None else None

    # ----- last applied (for drift detection only; actual state is always read live) -------------
    def record_applied(self, provider: str, resource_id: str, spec: Mapping[str, Any] | None, run_id: str) -> None:
        with self._tx() as db:
            self._claim(db)
            if spec is None:
                db.execute("DELETE FROM applied WHERE provider=? AND id=?", (provider, resource_id))
            else:
                text = canonical_json(spec)
                db.execute(db.upsert("applied", TABLES["applied"][0], ("provider", "id")),
                           (provider, resource_id, text, now(), run_id, text_digest(text), self.inventory_id or ""))

    def applied_digests(self) -> dict[tuple[str, str], str]:
        """(provider, resource id) -> digest of the spec as the tool last wrote it."""
        rows = self._db.execute("SELECT provider, id, digest FROM applied").fetchall()
        out: dict[tuple[str, str], str] = {(r[0], r[1]): r[2] for r in rows}
        for key in [k for k, d in out.items() if not d]:  # rows written before digests were kept
            out[key] = spec_digest(self.applied_spec(*key) or {})
        return out

    def applied_spec(self, provider: str, resource_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT spec FROM applied WHERE provider=? AND id=?", (provider, resource_id)).fetchone()
        return json.loads(row["spec"]) if row else None

    # ----- overrides ----------------------------------------------------------------------------
    def set_override(self, kind: str, name: str, merge: Mapping[str, Any], reason: str = "") -> None:
        with self._tx() as db:
            self._claim(db)
            db.execute(db.upsert("overrides", TABLES["overrides"][0], ("kind", "name")),
                       (kind, name, json.dumps(merge, sort_keys=True), whoami(), now(), reason))

    def clear_override(self, kind: str, name: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM overrides WHERE kind=? AND name=?", (kind, name)).rowcount > 0

    def overrides(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM overrides ORDER BY kind, name").fetchall()
        return [{**dict(r), "merge": json.loads(r["merge"])} for r in rows]

    # ----- failover state -----------------------------------------------------------------------
    def set_region_status(self, region: str, status: str, reason: str = "") -> None:
        """``status`` is ``serving`` or ``drained``."""
        with self._tx() as db:
            self._claim(db)
            db.execute(db.upsert("regions", TABLES["regions"][0], ("name",)), (region, status, whoami(), now(), reason))

    def region_statuses(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: dict(r) for r in self._db.execute("SELECT * FROM regions").fetchall()}

    def drained_regions(self) -> frozenset[str]:
        return frozenset(n for n, r in self.region_statuses().items() if r["status"] == "drained")

    # ----- leader leases (the controller) ----------------------------------------------------------
    # One row per lease, read and written in one write transaction (BEGIN IMMEDIATE on SQLite, the
    # write advisory lock on PostgreSQL), so two replicas never both see it free. Expiry is judged on
    # the store's clock (PostgreSQL: the server's), never on the clocks of the replicas' machines.
    def _clock(self, db: Adapter) -> float:
        if db.dialect == "postgresql":
            return float(db.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())").fetchone()[0])
        return time.time()

    @staticmethod
    def _lease_row(row: Any, clock: float) -> LeaseInfo:
        return LeaseInfo(row["name"], row["holder"], row["host"], int(row["pid"]), row["acquired_at"],
                         row["renewed_at"], float(row["renewed_epoch"]), float(row["ttl"]),
                         int(row["transitions"]), clock)

    def lease_acquire(self, name: str, holder: str, ttl: float) -> LeaseInfo:
        """Take or renew the lease ``name`` for ``holder`` when it is free, expired or already ours;
        return the lease as it now is (``holder`` tells who has it). Taking it is audited."""
        with self._tx() as db:
            clock = self._clock(db)
            row = db.execute("SELECT * FROM leases WHERE name=?", (name,)).fetchone()
            cur = self._lease_row(row, clock) if row is not None else None
            stamp = datetime.fromtimestamp(clock, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            if cur is not None and cur.holder != holder and not cur.expired:
                return cur
            if cur is not None and cur.holder == holder:
                db.execute("UPDATE leases SET renewed_at=?, renewed_epoch=?, ttl=? WHERE name=? AND holder=?",
                           (stamp, clock, ttl, name, holder))
                return LeaseInfo(name, holder, cur.host, cur.pid, cur.acquired_at, stamp, clock, ttl,
                                 cur.transitions, clock)
            transitions = cur.transitions + 1 if cur is not None else 0
            db.execute(db.upsert("leases", ("name", "holder", "host", "pid", "acquired_at", "renewed_at",
                                            "renewed_epoch", "ttl", "transitions"), ("name",)),
                       (name, holder, socket.gethostname(), os.getpid(), stamp, stamp, clock, ttl, transitions))
            detail: dict[str, Any] = {"holder": holder, "ttl_s": ttl}
            if cur is not None:
                detail.update(previous=cur.holder, previous_renewed_at=cur.renewed_at,
                              reason="the previous holder's lease expired" if cur.holder != holder else "")
            self._audit(db, "lease.acquired", name, "ok", detail)
            return LeaseInfo(name, holder, socket.gethostname(), os.getpid(), stamp, stamp, clock, ttl,
                             transitions, clock)

    def lease_release(self, name: str, holder: str) -> bool:
        """Give the lease up (a clean shutdown), so another replica takes it at once; audited."""
        with self._tx(check_moved=False) as db:
            gone = db.execute("DELETE FROM leases WHERE name=? AND holder=?", (name, holder)).rowcount > 0
            if gone:
                self._audit(db, "lease.released", name, "ok", {"holder": holder})
            return gone

    def lease_info(self, name: str) -> LeaseInfo | None:
        row = self._db.execute("SELECT * FROM leases WHERE name=?", (name,)).fetchone()
        return self._lease_row(row, self._clock(self._db)) if row is not None else None

    # ----- the controller's own memory (observation counters, last remediation) --------------------
    def controller_get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT value FROM controller WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row is not None else None

    def controller_put(self, key: str, value: Mapping[str, Any]) -> None:
        with self._tx() as db:
            db.execute(db.upsert("controller", ("key", "value", "at"), ("key",)),
                       (key, json.dumps(value, sort_keys=True, default=str), now()))

    def controller_items(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        rows = self._db.execute("SELECT key, value FROM controller WHERE key LIKE ? ORDER BY key",
                                (prefix.replace("%", "") + "%",)).fetchall()
        return {r[0]: json.loads(r[1]) for r in rows}


def _guard_methods(cls: type) -> None:
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and callable(value) and not isinstance(value, classmethod | staticmethod):
            setattr(cls, name, _guarded(value))


_guard_methods(StateStore)  # every use of the store: a sqlite error names the file and the way out
