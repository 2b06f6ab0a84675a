#!/usr/bin/env python3
"""State backends: the apply lock's acquire+release round trip, a lease renewal, and one reconcile
iteration of inventories/demo on the sim platform, on SQLite and on PostgreSQL.

PostgreSQL 15 is started by this script on a free loopback port (tests/servers/postgres.py: initdb +
pg_ctl, no system service) and stopped at the end. Each round trip is repeated --repeat times; the
median and the 95th percentile are reported. The reconcile iterations are timed in-process (no
interpreter start): the first one converges the demo (73 changes through apply: lock, journal,
audit, verify), the next ones find it in sync (plan + drift under the lock). Writes
bench/results/state.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamverse_ctl.engine.reconcile import reconcile  # noqa: E402
from streamverse_ctl.state.store import StateStore  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def row(name: str, times: list[float], **extra: Any) -> dict[str, Any]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    r = {"name": name, "seconds": round(statistics.median(times), 5), "p95_s": round(p95, 5), "runs": len(times),
         **extra}
    print(f"  {name:<44} median {r['seconds'] * 1000:8.2f} ms   p95 {p95 * 1000:8.2f} ms   ({len(times)} runs)")
    return r


def bench_backend(label: str, location: str, work: Path, repeat: int, iterations: int) -> list[dict[str, Any]]:
    store = StateStore(location, create=True)
    results = []
    try:
        def lock_round_trip() -> None:
            store.acquire("bench", purpose="bench")
            store.release("bench")

        lock_round_trip()  # warm: the lock's own connection, prepared plans
        results.append(row(f"{label}: lock acquire+release", timed(lock_round_trip, repeat)))
        store.lease_acquire("bench-lease", "bench", 15)
        results.append(row(f"{label}: lease renew", timed(lambda: store.lease_acquire("bench-lease", "bench", 15),
                                                           repeat)))
    finally:
        store.close()

    inv = work / f"inventories-{label}"
    for name in ("base", "demo"):
        shutil.copytree(ROOT / "inventories" / name, inv / name)
    os.environ["STREAMVERSE_LOCAL_DIR"] = str(work / f"local-{label}")  # the sim platform beside a server store

    def one() -> str:
        tick = next(iter(reconcile(inv / "demo", state_dir=location, platform="sim", apply=True, iterations=1)))
        if tick.status not in ("applied", "in-sync"):
            raise SystemExit(f"{label}: reconcile iteration ended {tick.status}: {tick.detail}")
        return tick.status

    t0 = time.perf_counter()
    status = one()
    first = time.perf_counter() - t0
    assert status == "applied", status
    results.append(row(f"{label}: reconcile iteration (converge, 73 changes)", [first]))
    results.append(row(f"{label}: reconcile iteration (in sync)", timed(one, iterations)))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=200, help="lock and lease round trips per backend")
    ap.add_argument("--iterations", type=int, default=10, help="in-sync reconcile iterations per backend")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "state.json")
    args = ap.parse_args(argv)
    for var in [v for v in os.environ if v.startswith("STREAMVERSE_") and v != "STREAMVERSE_CACHE_DIR"]:
        del os.environ[var]
    work = Path(tempfile.mkdtemp(prefix="sv-bench-state-"))
    os.environ.setdefault("STREAMVERSE_CACHE_DIR", str(work / "cache"))
    pg = PostgresServer().start()
    results: list[dict[str, Any]] = []
    try:
        (work / "sqlite").mkdir()
        results += bench_backend("sqlite", str(work / "sqlite"), work, args.repeat, args.iterations)
        results += bench_backend("postgresql", pg.new_database(), work, args.repeat, args.iterations)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "state", "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "postgresql": "15 on 127.0.0.1 (tests/servers/postgres.py)", "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
