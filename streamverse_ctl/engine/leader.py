"""Leader election for replicas of the controller: a lease with a TTL that only one holds.

Two backends behind one small interface (:class:`LeaseBackend`): the state backend's ``leases``
table (:class:`StateLease`, SQLite or PostgreSQL, the default) and a Kubernetes
``coordination.k8s.io/v1`` Lease (:class:`~streamverse_ctl.providers.k8slease.KubeLease`).

:class:`Elector` keeps the lease in a thread of its own: the holder renews it every ``ttl / 3``
seconds (an iteration that takes longer than the TTL, such as a long apply, does not lose it) and
the others try every ``ttl / 10`` seconds, so after a ``kill -9`` of the holder another replica has
it at most a tenth of the TTL after it expired. A holder that could not renew for a whole TTL
(its backend unreachable) stops calling itself leader at once, before anyone else can take over.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.errors import PermanentError
from ..core.lease import LeaseView
from ..core.secrets import redact

LEASE_NAME = "reconcile"
DEFAULT_TTL = 15.0


class LeaseBackend(Protocol):
    where: str

    def try_acquire(self, holder: str, ttl: float) -> LeaseView | None:
        """Take or renew the lease for ``holder`` when free, expired or ours; the lease as it is now."""

    def release(self, holder: str) -> None: ...

    def close(self) -> None: ...


class StateLease:
    """The lease as a row of the state backend (``--lease state``)."""

    def __init__(self, open_store: Callable[[], Any], name: str = LEASE_NAME) -> None:
        self._open, self.name = open_store, name
        self._store: Any = None
        self.where = "state"

    def _s(self) -> Any:
        if self._store is None:
            self._store = self._open()
            self.where = f"state {self._store.location}"
        return self._store

    def try_acquire(self, holder: str, ttl: float) -> LeaseView | None:
        try:
            info = self._s().lease_acquire(self.name, holder, ttl)
        except BaseException:
            self.close()  # reopen at the next attempt (the server may be back)
            raise
        return LeaseView(info.holder, info.host, info.acquired_at, info.renewed_at, info.ttl, info.age,
                         info.transitions)

    def release(self, holder: str) -> None:
        self._s().lease_release(self.name, holder)

    def close(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            finally:
                self._store = None


def holder_id() -> str:
    """This replica's identity: host, pid and a random suffix (a restarted pid is another holder)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:6]}"


@dataclass
class Status:
    leader: bool
    holder: str  # who holds it ('' when nobody does or it is unknown)
    since: str = ""
    age: float = 0.0  # seconds the current holder has held it
    error: str = ""

    def describe(self) -> str:
        if self.leader:
            return f"leader since {self.since}"
        if self.error:
            return f"follower; lease unavailable ({self.error})"
        return f"follower; leader is {self.holder} since {self.since}" if self.holder else "follower; no leader"


class Elector:
    """Hold (or wait for) the lease in a background thread; ask :meth:`status` before writing."""

    def __init__(self, backend: LeaseBackend, ttl: float = DEFAULT_TTL, holder: str | None = None,
                 on_change: Callable[[Status, Status], None] | None = None) -> None:
        self.backend, self.ttl = backend, ttl
        self.holder = holder or holder_id()
        self.on_change = on_change
        self._status = Status(False, "")
        self._confirmed = 0.0  # monotonic time of the last successful take/renew
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: Exception | None = None

    # ----- the loop -------------------------------------------------------------------------------
    def start(self) -> Elector:
        """First attempt at once (know the answer before the first iteration); a configuration error
        (PermanentError: no kubeconfig, a bad state URL) is raised, a server that is down is retried."""
        self.attempt()
        if isinstance(self.last_error, PermanentError):
            raise self.last_error
        self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.ttl / 3 if self.status().leader else max(0.1, self.ttl / 10)):
            self.attempt()

    def attempt(self) -> Status:
        started = time.monotonic()
        try:
            view = self.backend.try_acquire(self.holder, self.ttl)
        except Exception as exc:  # unreachable backend: a leader keeps its lease only until the TTL runs out
            self.last_error = exc
            with self._lock:
                still = self._status.leader and started - self._confirmed < self.ttl
                new = Status(still, self._status.holder, self._status.since, self._status.age,
                             redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            return self._set(new)
        self.last_error = None
        if view is None:
            return self._set(Status(False, ""))
        mine = view.holder == self.holder
        if mine:
            self._confirmed = started
        return self._set(Status(mine, view.holder, view.since, view.age))

    def _set(self, new: Status) -> Status:
        with self._lock:
            old, self._status = self._status, new
        if self.on_change is not None and (old.leader != new.leader or old.holder != new.holder):
            self.on_change(old, new)
        return new

    def status(self) -> Status:
        """The current view; a leader whose last renewal is older than the TTL is no longer one."""
        with self._lock:
            st = self._status
            if st.leader and time.monotonic() - self._confirmed >= self.ttl:
                return Status(False, "", error="lease not renewed within its TTL")
            return st

    def stop(self, release: bool = True) -> bool:
        """Stop renewing and (``release``) give the lease up so another replica takes it at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.ttl)
        released = False
        try:
            if release and self.status().leader:
                self.backend.release(self.holder)
                released = True
        finally:
            self.backend.close()
        return released
