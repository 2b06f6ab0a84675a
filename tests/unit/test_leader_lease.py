"""The controller's leader lease in the state backend: SQLite and a real PostgreSQL (tests/servers/postgres.py).

Exactly one holder at a time, also when many processes race for a free or expired lease; the
holder renews; an expired lease is taken over (audited, naming the previous holder); a released
one is free at once; and the Elector steps down when it cannot renew.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamverse_ctl.engine.leader import Elector, StateLease
from streamverse_ctl.state.store import StateStore


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "state")
    else:
        yield request.getfixturevalue("postgres_url")


def open_store(location: str) -> StateStore:
    return StateStore(location, create=True)


def test_one_holder_renewal_expiry_takeover_and_release(location: str) -> None:
    a, b = open_store(location), open_store(location)
    try:
        assert a.lease_acquire("ctl", "a", 2).holder == "a"
        held = b.lease_acquire("ctl", "b", 2)
        assert held.holder == "a" and not held.expired  # b is refused while a's lease is valid
        time.sleep(1.2)
        assert a.lease_acquire("ctl", "a", 2).holder == "a"  # renewed: valid for another TTL
        time.sleep(1.2)
        assert b.lease_acquire("ctl", "b", 2).holder == "a"  # 2.4 s since acquired, 1.2 s since renewed
        time.sleep(2.3)  # a stops renewing (killed): the lease expires
        took = b.lease_acquire("ctl", "b", 2)
        assert took.holder == "b" and took.transitions == 1
        assert a.lease_acquire("ctl", "a", 2).holder == "b"
        assert b.lease_release("ctl", "b") and not a.lease_release("ctl", "b")
        assert a.lease_info("ctl") is None
        assert a.lease_acquire("ctl", "a", 30).holder == "a"  # free at once after a release
        audit = [(e.action, e.detail.get("holder"), e.detail.get("previous")) for e in a.audit_log(50, "lease.*")]
        assert audit == [("lease.acquired", "a", None), ("lease.acquired", "b", "a"),
                         ("lease.released", "b", None), ("lease.acquired", "a", None)]
    finally:
        a.close()
        b.close()


def _race(location: str, holder: str, start: float, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = StateStore(location)
    while time.time() < start:
        time.sleep(0.001)
    queue.put((holder, store.lease_acquire("race", holder, 30).holder))
    store.close()


def test_racing_processes_elect_exactly_one(location: str) -> None:
    open_store(location).close()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start = time.time() + 2.0
    procs = [ctx.Process(target=_race, args=(location, f"p{i}", start, queue)) for i in range(6)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    winners = {seen for _, seen in results}
    assert len(winners) == 1, results  # every racer sees the same single holder
    assert sum(1 for me, seen in results if me == seen) == 1, results


def test_elector_hands_over_on_release_and_a_dead_holder_is_replaced(location: str) -> None:
    open_store(location).close()
    first = Elector(StateLease(lambda: StateStore(location)), ttl=1.0, holder="first").start()
    second = Elector(StateLease(lambda: StateStore(location)), ttl=1.0, holder="second").start()
    try:
        assert first.status().leader and not second.status().leader
        assert second.status().holder == "first" and "leader is first since" in second.status().describe()
        assert first.stop(release=True)  # SIGTERM: give it up
        for _ in range(400):
            if second.status().leader:
                break
            time.sleep(0.05)
        assert second.status().leader
        second._stop.set()  # "kill -9": it stops renewing and never releases
        assert second._thread is not None
        second._thread.join()
        third = Elector(StateLease(lambda: StateStore(location)), ttl=1.0, holder="third").start()
        try:
            for _ in range(400):
                if third.status().leader:
                    break
                time.sleep(0.05)
            assert third.status().leader
            assert not second.status().leader  # its own view: not renewed within the TTL
        finally:
            third.stop()
    finally:
        first.stop()
        second.stop(release=False)


class Unreachable:
    where = "nowhere"

    def __init__(self) -> None:
        self.up = True

    def try_acquire(self, holder: str, ttl: float):  # type: ignore[no-untyped-def]
        from streamverse_ctl.core.lease import LeaseView

        if not self.up:
            raise ConnectionError("server closed the connection")
        return LeaseView(holder, "h", "t0", "t1", ttl, 0.0)

    def release(self, holder: str) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_leader_that_cannot_renew_steps_down_within_the_ttl() -> None:
    # a mock lease backend: what is tested is the elector's own rule, not a server
    backend = Unreachable()
    el = Elector(backend, ttl=0.5, holder="me")
    assert el.attempt().leader
    backend.up = False
    assert el.attempt().leader  # one failed renewal: still within the TTL
    time.sleep(0.55)
    st = el.status()
    assert not st.leader and "not renewed" in st.error
