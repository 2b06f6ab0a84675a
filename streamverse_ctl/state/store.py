"""SQLite (WAL) state backend under ``.streamverse/`` (or wherever the inventory says).

Every write is its own short transaction, so a ``kill -9`` at any point leaves a consistent file.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import LockHeld, LockInfo
from ..core.resources import canonical_json, spec_digest, text_digest
from ..core.secrets import redact

SCHEMA = """
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
  digest TEXT NOT NULL DEFAULT '', PRIMARY KEY (provider, id));
CREATE TABLE IF NOT EXISTS regions (
  name TEXT PRIMARY KEY, status TEXT NOT NULL, who TEXT NOT NULL, at TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '');
"""

ACTIVE = ("running", "interrupted")


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


class StateStore:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "state.db"
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        cols = {r["name"] for r in self._db.execute("PRAGMA table_info(applied)").fetchall()}
        if "digest" not in cols:  # state written by 0.1.0 before digests were kept
            self._db.execute("ALTER TABLE applied ADD COLUMN digest TEXT NOT NULL DEFAULT ''")
        if "digest" not in {r["name"] for r in self._db.execute("PRAGMA table_info(plans)").fetchall()}:
            self._db.execute("ALTER TABLE plans ADD COLUMN digest TEXT NOT NULL DEFAULT ''")  # saved-plan binding

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ----- locks --------------------------------------------------------------------------------
    def acquire(self, name: str = "apply", purpose: str = "", timeout: float = 0.0, poll: float = 0.2) -> LockInfo:
        """Take the lock or raise :class:`LockHeld` after ``timeout`` seconds.

        A lock whose holder ran on this host and whose pid is gone is stale and taken over (and the
        takeover is audited); a lock from another host is never taken over automatically.
        """
        deadline = time.monotonic() + timeout
        me = LockInfo(name, whoami(), socket.gethostname(), os.getpid(), now(), purpose)
        while True:
            with self._tx() as db:
                row = db.execute("SELECT * FROM locks WHERE name=?", (name,)).fetchone()
                if row is not None and row["host"] == me.host and not _pid_alive(row["pid"]):
                    db.execute("DELETE FROM locks WHERE name=?", (name,))
                    self._audit(db, "lock.takeover", name, "ok", {"stale_pid": row["pid"], "owner": row["owner"]})
                    row = None
                if row is None:
                    db.execute("INSERT INTO locks VALUES (?,?,?,?,?,?)",
                               (name, me.owner, me.host, me.pid, me.acquired_at, purpose))
                    return me
                held = LockInfo(row["name"], row["owner"], row["host"], row["pid"], row["acquired_at"],
                                row["purpose"])
            if time.monotonic() >= deadline:
                raise LockHeld(held)
            time.sleep(poll)

    def release(self, name: str = "apply") -> None:
        with self._tx() as db:
            db.execute("DELETE FROM locks WHERE name=? AND pid=? AND host=?", (name, os.getpid(),
                                                                                socket.gethostname()))

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
        return LockInfo(row["name"], row["owner"], row["host"], row["pid"], row["acquired_at"], row["purpose"])

    def force_unlock(self, name: str = "apply") -> LockInfo | None:
        info = self.lock_info(name)
        with self._tx() as db:
            db.execute("DELETE FROM locks WHERE name=?", (name,))
            if info:
                self._audit(db, "lock.force-unlock", name, "ok", {"owner": info.owner, "host": info.host,
                                                                  "pid": info.pid})
        return info

    # ----- audit --------------------------------------------------------------------------------
    def _audit(self, db: sqlite3.Connection, action: str, target: str, result: str,
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
            db.execute("INSERT OR REPLACE INTO plans (id, created_at, who, fingerprint, inventory, changes, digest) "
                       "VALUES (?,?,?,?,?,?,?)", (plan_id, now(), whoami(), fingerprint, inventory, changes, digest))

    def plan_record(self, plan_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM plans WHERE id=?", (plan_id,)).fetchone()
        return dict(row) if row is not None else None

    # ----- last applied (for drift detection only; actual state is always read live) -------------
    def record_applied(self, provider: str, resource_id: str, spec: Mapping[str, Any] | None, run_id: str) -> None:
        with self._tx() as db:
            if spec is None:
                db.execute("DELETE FROM applied WHERE provider=? AND id=?", (provider, resource_id))
            else:
                text = canonical_json(spec)
                db.execute("INSERT OR REPLACE INTO applied (provider, id, spec, at, run_id, digest) "
                           "VALUES (?,?,?,?,?,?)", (provider, resource_id, text, now(), run_id, text_digest(text)))

    def applied_digests(self) -> dict[tuple[str, str], str]:
        """(provider, resource id) -> digest of the spec as the tool last wrote it."""
        cur = self._db.execute("SELECT provider, id, digest FROM applied")
        cur.row_factory = None  # plain tuples: this runs on every plan over every resource
        out: dict[tuple[str, str], str] = {(p, i): d for p, i, d in cur.fetchall()}
        for key in [k for k, d in out.items() if not d]:  # rows written before digests were kept
            out[key] = spec_digest(self.applied_spec(*key) or {})
        return out

    def applied_spec(self, provider: str, resource_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT spec FROM applied WHERE provider=? AND id=?", (provider, resource_id)).fetchone()
        return json.loads(row["spec"]) if row else None

    # ----- overrides ----------------------------------------------------------------------------
    def set_override(self, kind: str, name: str, merge: Mapping[str, Any], reason: str = "") -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO overrides VALUES (?,?,?,?,?,?)",
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
            db.execute("INSERT OR REPLACE INTO regions VALUES (?,?,?,?,?)", (region, status, whoami(), now(), reason))

    def region_statuses(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: dict(r) for r in self._db.execute("SELECT * FROM regions").fetchall()}

    def drained_regions(self) -> frozenset[str]:
        return frozenset(n for n, r in self.region_statuses().items() if r["status"] == "drained")
