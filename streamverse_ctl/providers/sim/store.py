"""The sim platform's database: resources, region and PoP health, demand, faults, an event log."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ...core.gcpause import paused_gc
from ...core.resources import canonical_json

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
  type TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL, managed INTEGER NOT NULL DEFAULT 1,
  updated_at TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '', PRIMARY KEY (type, name));
CREATE TABLE IF NOT EXISTS region_health (
  region TEXT PRIMARY KEY, healthy INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '', at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edge_health (
  site TEXT PRIMARY KEY, healthy INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '', at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pop_metrics (
  pop TEXT PRIMARY KEY, hit_ratio REAL NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rate_limits (
  scope TEXT PRIMARY KEY, rps INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS origin_nodes (
  region TEXT PRIMARY KEY, nodes INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS viral (
  video TEXT PRIMARY KEY, started_at REAL NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pop_warm (
  pop TEXT PRIMARY KEY, warmed_at REAL NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
"""

DEFAULTS: dict[str, Any] = {
    "demand_rps": 6_000_000,  # peak global requests per second (100 M users)
    "write_errors": 0,  # the next N writes fail with a retryable error (throttling)
    "write_delay": 0.0,  # seconds each write takes (to rehearse a kill -9 mid-apply)
    "base_hit_ratio": 0.97,  # CDN hit ratio of a warm PoP
    "viral_recovery_seconds": 3.0,  # how long a PoP takes to reach its hit ratio once a viral video is warm
    "egress_mbps_per_request": 9.25,  # edge sites' egress per request/s (the CapacityModel's 55.5 Tbps / 6 M)
}


_LONG_DIGITS = re.compile(r"[0-9][0-9]{18}")  # an integer orjson may not hold (beyond 64 bits), or a long fraction


def _loads(text: str) -> Any:
    """Parse stored canonical JSON: orjson (5x faster than json, and it shares the repeated keys
    of 100,000 specs instead of allocating them per spec), json for what orjson refuses (NaN,
    integers beyond 64 bits, which orjson would turn into floats), so the result is always what
    ``json.loads`` gives."""
    if _LONG_DIGITS.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SimStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        columns = {r["name"] for r in self.db.execute("PRAGMA table_info(resources)")}
        if "owner" not in columns:  # a sim database from before ownership lineages: its resources read owner ""
            self.db.execute("ALTER TABLE resources ADD COLUMN owner TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ----- settings and faults ------------------------------------------------------------------
    def setting(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return json.loads(row["value"]) if row else DEFAULTS[key]

    def set_setting(self, key: str, value: Any) -> None:
        if key not in DEFAULTS:
            raise KeyError(key)
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO settings VALUES (?,?)", (key, json.dumps(value)))
            self._event(db, "setting", {key: value})

    def take_write_error(self) -> bool:
        """Consume one injected write error, if any is left."""
        with self.tx() as db:
            row = db.execute("SELECT value FROM settings WHERE key='write_errors'").fetchone()
            left = json.loads(row["value"]) if row else 0
            if left <= 0:
                return False
            db.execute("INSERT OR REPLACE INTO settings VALUES ('write_errors', ?)", (json.dumps(left - 1),))
            return True

    def write_delay(self) -> None:
        delay = float(self.setting("write_delay"))
        if delay > 0:
            time.sleep(delay)

    # ----- resources ----------------------------------------------------------------------------
    def read(self, types: list[str]) -> list[tuple[str, str, dict[str, Any], bool]]:
        return [(t, n, spec, managed) for t, n, spec, managed, _, _ in self.read_with_text(types)]

    @paused_gc()
    def read_with_text(self, types: list[str]) -> list[tuple[str, str, dict[str, Any], bool, str, str]]:
        """Resources with the canonical JSON text they are stored as, and the lineage that wrote them."""
        return list(self.iter_with_text(types))

    def iter_with_text(self, types: list[str]) -> Iterator[tuple[str, str, dict[str, Any], bool, str, str]]:
        """:meth:`read_with_text` one row at a time, so a caller can drop what it does not keep."""
        marks = ",".join("?" * len(types))
        cur = self.db.execute(f"SELECT type, name, spec, managed, owner FROM resources WHERE type IN ({marks})"
                              " ORDER BY type, name", types)
        cur.row_factory = None  # plain tuples: this reads every resource on every plan
        for t, n, text, m, o in cur:
            yield t, n, _loads(text), bool(m), text, o

    def get(self, rtype: str, name: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT spec FROM resources WHERE type=? AND name=?", (rtype, name)).fetchone()
        return json.loads(row["spec"]) if row else None

    def put(self, db: sqlite3.Connection, rtype: str, name: str, spec: Mapping[str, Any], managed: bool = True,
            owner: str | None = None) -> None:
        """Write a resource; ``owner`` (the writing state's lineage) replaces its ownership marker,
        None keeps the one it has (a change behind the tool's back leaves the marker alone)."""
        db.execute("INSERT INTO resources (type, name, spec, managed, updated_at, owner) VALUES (?,?,?,?,?,?) "
                   "ON CONFLICT (type, name) DO UPDATE SET spec=excluded.spec, managed=excluded.managed, "
                   "updated_at=excluded.updated_at, owner=COALESCE(?, resources.owner)",
                   (rtype, name, canonical_json(spec), int(managed), _now(), owner or "", owner))

    def delete(self, db: sqlite3.Connection, rtype: str, name: str) -> int:
        return db.execute("DELETE FROM resources WHERE type=? AND name=?", (rtype, name)).rowcount

    def count(self) -> dict[str, int]:
        return {r["type"]: r["n"] for r in self.db.execute(
            "SELECT type, COUNT(*) AS n FROM resources GROUP BY type").fetchall()}

    # ----- health and metrics -------------------------------------------------------------------
    def set_region_health(self, region: str, healthy: bool, reason: str = "") -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO region_health VALUES (?,?,?,?)", (region, int(healthy), reason, _now()))
            self._event(db, "region.fail" if not healthy else "region.heal", {"region": region, "reason": reason})

    def region_health(self) -> dict[str, bool]:
        """Regions the sim knows (those with a platform.region resource); healthy unless failed."""
        known = [r[1] for r in self.read(["platform.region"])]
        failed = {r["region"]: not r["healthy"] for r in self.db.execute("SELECT * FROM region_health").fetchall()}
        return {name: not failed.get(name, False) for name in known}

    def set_hit_ratio(self, pop: str, ratio: float) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO pop_metrics VALUES (?,?,?)", (pop, ratio, _now()))
            self._event(db, "pop.hit_ratio", {"pop": pop, "hit_ratio": ratio})

    def hit_ratios(self) -> dict[str, float]:
        base = float(self.setting("base_hit_ratio"))
        measured = {r["pop"]: r["hit_ratio"] for r in self.db.execute("SELECT * FROM pop_metrics").fetchall()}
        out = {name: measured.get(name, base) for _, name, _, _ in self.read(["cdn.pop"])}
        videos = self.viral_videos()
        if videos:
            from .model import viral_hit_ratio

            warm_sets = self._updated("cdn.warm_set")
            policies = self._updated("cdn.cache_policy")
            recovery = float(self.setting("viral_recovery_seconds"))
            for pop in out:
                for video, started in videos.items():
                    out[pop] = min(out[pop], viral_hit_ratio(base, video, started, pop, warm_sets, policies,
                                                             recovery))
        return out

    def _updated(self, rtype: str) -> list[tuple[dict[str, Any], float]]:
        rows = self.db.execute("SELECT spec, updated_at FROM resources WHERE type=?", (rtype,)).fetchall()
        return [(json.loads(r["spec"]), datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00")).timestamp())
                for r in rows]

    # ----- viral content, rate limits, origin capacity, cache warming (sim-only models) ----------
    def start_viral(self, video: str) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO viral VALUES (?,?,?)", (video, time.time(), _now()))
            self._event(db, "viral.start", {"video": video})

    def end_viral(self, video: str | None = None) -> int:
        with self.tx() as db:
            n = (db.execute("DELETE FROM viral WHERE video=?", (video,)) if video
                 else db.execute("DELETE FROM viral")).rowcount
            self._event(db, "viral.end", {"video": video})
            return n

    def viral_videos(self) -> dict[str, float]:
        return {r["video"]: r["started_at"] for r in self.db.execute("SELECT * FROM viral").fetchall()}

    def set_rate_limit(self, scope: str, rps: int | None) -> None:
        with self.tx() as db:
            if rps is None:
                db.execute("DELETE FROM rate_limits WHERE scope=?", (scope,))
            else:
                db.execute("INSERT OR REPLACE INTO rate_limits VALUES (?,?,?)", (scope, int(rps), _now()))
            self._event(db, "ratelimit.set", {"scope": scope, "rps": rps})

    def rate_limits(self) -> dict[str, int]:
        return {r["scope"]: r["rps"] for r in self.db.execute("SELECT * FROM rate_limits ORDER BY scope").fetchall()}

    def set_origin_nodes(self, region: str, nodes: int | None) -> None:
        with self.tx() as db:
            if nodes is None:
                db.execute("DELETE FROM origin_nodes WHERE region=?", (region,))
            else:
                db.execute("INSERT OR REPLACE INTO origin_nodes VALUES (?,?,?)", (region, int(nodes), _now()))
            self._event(db, "origin.scale", {"region": region, "nodes": nodes})

    def origin_nodes(self) -> dict[str, int]:
        return {r["region"]: r["nodes"] for r in self.db.execute("SELECT * FROM origin_nodes ORDER BY region")}

    def region_loads(self) -> dict[str, float]:
        """Region -> requests/s the simulated demand puts on it (served DNS weights and health applied)."""
        from ...core.resources import Resource
        from .model import region_load, traffic_shares

        records = [Resource(t, n, s) for t, n, s, _ in self.read(["dns.record"])]
        return region_load(traffic_shares(records, self.region_health()), float(self.setting("demand_rps")))

    def warm_pops(self, pops: list[str]) -> None:
        """A cache-warming job for these PoPs: their hit ratio is back at the base one."""
        with self.tx() as db:
            for pop in pops:
                db.execute("INSERT OR REPLACE INTO pop_warm VALUES (?,?,?)", (pop, time.time(), _now()))
                db.execute("DELETE FROM pop_metrics WHERE pop=?", (pop,))
            self._event(db, "cdn.warm", {"pops": pops})

    def warmed_pops(self) -> dict[str, str]:
        return {r["pop"]: r["at"] for r in self.db.execute("SELECT * FROM pop_warm ORDER BY pop")}

    # ----- events -------------------------------------------------------------------------------
    def _event(self, db: sqlite3.Connection, kind: str, detail: Mapping[str, Any]) -> None:
        db.execute("INSERT INTO events (at, kind, detail) VALUES (?,?,?)", (_now(), kind, json.dumps(detail)))

    def event(self, kind: str, **detail: Any) -> None:
        with self.tx() as db:
            self._event(db, kind, detail)

    def events(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{"at": r["at"], "kind": r["kind"], "detail": json.loads(r["detail"])} for r in reversed(rows)]

    def reset(self) -> None:
        with self.tx() as db:
            for table in ("resources", "region_health", "pop_metrics", "settings", "events", "rate_limits",
                          "origin_nodes", "viral", "pop_warm", "edge_health"):
                db.execute(f"DELETE FROM {table}")
            self._event(db, "reset", {})
