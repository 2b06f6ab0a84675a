"""The connection adapters under :class:`~.store.StateStore`: SQLite (sqlite3) and PostgreSQL (psycopg 3).

The store writes its SQL once, in SQLite's dialect with ``?`` parameters; an adapter runs it on its
database: PostgreSQL gets ``%s`` parameters, ``ON CONFLICT`` upserts, an identity column for the
audit log and, for a write transaction, a transaction-scoped advisory lock that makes writers take
turns as ``BEGIN IMMEDIATE`` does on SQLite.

Locations: a plain path or ``sqlite:///DIR`` is a local store in DIR; ``postgresql://...`` (or
``postgres://``) is the team store. A password comes from libpq (PGPASSWORD, PGPASSFILE,
~/.pgpass) or from ``passwordFile`` (``?passwordFile=/path`` in the URL, or the inventory's
``state.passwordFile``); it is never printed: every message shows :func:`redact_url`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..core.errors import StateError

PG_SCHEMES = ("postgresql", "postgres")
LOCK_CLASS = 0x53565354  # advisory-lock key space of this tool ("SVST"); the second key is the lock name's
WRITE_KEY = 1  # the transaction-scoped advisory lock every write transaction takes on PostgreSQL


def is_postgres(location: str | Path) -> bool:
    return isinstance(location, str) and location.split(":", 1)[0].lower() in PG_SCHEMES and "://" in location


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (and no passwordFile path), for every message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://(unparseable URL)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = [(k, "***" if "password" in k.lower() else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="/*"), ""))


def local_directory(location: str | Path) -> Path:
    """The directory of a local store: a plain path, or ``sqlite:///DIR`` (``sqlite:////abs`` is absolute)."""
    if isinstance(location, Path):
        return location
    if location.startswith("sqlite://"):
        rest = location[len("sqlite://"):]
        return Path(rest[1:] if rest.startswith("/") and not rest.startswith("//") else rest[1:] or ".")
    if "://" in location:
        scheme = location.split("://", 1)[0]
        raise StateError(f"state URL scheme '{scheme}' is not known", redact_url(location),
                         "use a directory, sqlite:///DIR or postgresql://USER@HOST:PORT/DB")
    return Path(location)


LOCAL_DIR_ENV = "STREAMVERSE_LOCAL_DIR"
DEFAULT_LOCAL_DIR = ".streamverse"


def server_local_dir() -> Path:
    """Where local working data lives when the state is on a server: the sim platform's sim.db and
    runbook artifacts (env STREAMVERSE_LOCAL_DIR, default ./.streamverse). Point two working
    directories at one sim platform by giving both the same STREAMVERSE_LOCAL_DIR."""
    return Path(os.environ.get(LOCAL_DIR_ENV) or Path.cwd() / DEFAULT_LOCAL_DIR)


def local_dir(location: str | Path) -> Path:
    """The local directory of a state location (the store's own directory, or :func:`server_local_dir`)."""
    return server_local_dir() if is_postgres(location) else local_directory(location)


@dataclass
class Location:
    kind: str  # sqlite | postgresql
    display: str  # redacted
    directory: Path | None = None
    url: str | None = None


def parse_location(location: str | Path) -> Location:
    if is_postgres(location):
        return Location("postgresql", redact_url(str(location)), url=str(location))
    d = local_directory(location)
    return Location("sqlite", str(d / "state.db"), directory=d)


# ----- rows: by index and by name, as sqlite3.Row -----------------------------------------------------
class Row(tuple):  # type: ignore[type-arg]
    _names: dict[str, int]

    def __new__(cls, names: dict[str, int], values: Sequence[Any]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _pg_row_factory(cursor: Any) -> Any:
    names = {c.name: i for i, c in enumerate(cursor.description or [])}
    return lambda values: Row(names, values)


class Adapter:
    """What the store needs of a connection."""

    dialect = ""
    errors: tuple[type[BaseException], ...] = ()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def upsert(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        raise NotImplementedError

    def insert_ignore(self, table: str, columns: Sequence[str]) -> str:
        raise NotImplementedError

    def columns(self, table: str) -> set[str]:
        raise NotImplementedError

    def script(self, sql: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SQLiteAdapter(Adapter):
    dialect = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.row_factory = sqlite3.Row

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def upsert(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        return f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

    def insert_ignore(self, table: str, columns: Sequence[str]) -> str:
        return f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

    def columns(self, table: str) -> set[str]:
        return {r["name"] for r in self.conn.execute(f"PRAGMA table_info({table})").fetchall()}

    def script(self, sql: str) -> None:
        self.conn.executescript(sql)

    def close(self) -> None:
        self.conn.close()


def _pg_sql(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresAdapter(Adapter):
    dialect = "postgresql"

    def __init__(self, url: str, password_file: str | None = None) -> None:
        self.url, self.display = url, redact_url(url)
        self.password_file = password_file
        self.conn = self.connect()
        import psycopg

        self.errors = (psycopg.Error,)

    def connect(self) -> Any:
        """A new autocommit connection (the store's own, or one that holds a lock for its life)."""
        import psycopg

        parts = urlsplit(self.url)
        query = dict(parse_qsl(parts.query))
        pw_file = query.pop("passwordFile", None) or self.password_file
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": _pg_row_factory,
                                  "application_name": "streamverse-ctl"}
        if pw_file:
            try:
                kwargs["password"] = Path(pw_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise StateError(f"cannot read the state passwordFile {pw_file}: {exc.strerror}", pw_file,
                                 "name a readable file that holds the PostgreSQL password") from exc
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
        try:
            return psycopg.connect(url, connect_timeout=10, **kwargs)
        except psycopg.Error as exc:
            raise pg_state_error(exc, self.display) from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(_pg_sql(sql), tuple(params))  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(_pg_sql(sql), rows)

    def begin(self) -> None:
        self.conn.execute("BEGIN")
        self.conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, WRITE_KEY))

    def upsert(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        rest = [c for c in columns if c not in key]
        update = ", ".join(f"{c}=EXCLUDED.{c}" for c in rest)
        return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                f"ON CONFLICT ({', '.join(key)}) " + (f"DO UPDATE SET {update}" if rest else "DO NOTHING"))

    def insert_ignore(self, table: str, columns: Sequence[str]) -> str:
        return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                "ON CONFLICT DO NOTHING")

    def columns(self, table: str) -> set[str]:
        rows = self.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                            "current_schema() AND table_name = ?", (table,)).fetchall()
        return {r[0] for r in rows}

    def script(self, sql: str) -> None:
        sql = re.sub(r"INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql)
        for stmt in (s.strip() for s in sql.split(";")):
            if stmt:
                self.conn.execute(stmt)

    def close(self) -> None:
        self.conn.close()


def lock_key(name: str) -> int:
    """The advisory-lock key of a named lock (a stable 31-bit hash, so it reads the same in pg_locks)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def pg_state_error(exc: BaseException, where: str) -> StateError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = text.lower()
    if "password" in low or "authentication" in low:
        return StateError(f"cannot log in to state {where} ({text})", where,
                          "give the password in PGPASSWORD or PGPASSFILE (libpq), or a passwordFile")
    if "read-only" in low or "permission denied" in low:
        return StateError(f"state {where} is not writable for this role ({text})", where,
                          "grant this role write access to the state tables, or use another --state-url")
    return StateError(f"cannot use state {where} ({text})", where,
                      "check that the PostgreSQL server is up and the URL names an existing database")
