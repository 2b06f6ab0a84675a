"""The provider protocol. Public methods hold the policy; subclasses implement ``_read``/``_apply``.

A provider instance is created from an inventory ``Provider`` document (or the implicit ``sim``
one) with its settings, secret references already resolved to :class:`Secret` values.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from ..core.errors import ProviderError, StalePlan, StreamverseError, TemporaryError
from ..core.resources import Change, Resource
from ..core.secrets import redact

log = logging.getLogger("streamverse.providers")


@dataclass
class ProviderContext:
    """What the engine hands every provider."""

    state_dir: Path
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: region name -> {"cloud_region", "kube_context", ...} from the inventory's Region documents
    regions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the lineage of the workspace's state: written into every ownership marker a write leaves
    #: (None: nothing to write, e.g. a store without one), read back as ``Resource.owner``
    lineage: str | None = None


#: the field of an ownership marker (DNS marker key) that holds the writing state's lineage
LINEAGE_FIELD = "lineage"


@dataclass
class VerifyResult:
    """Outcome of checking one resource against what the real system answers."""

    resource_id: str
    ok: bool
    seconds: float  # time until it converged (or until giving up)
    detail: str = ""
    server: str = ""


BatchListener = Callable[[Sequence[Change], BaseException | None], None]


def _wait_for(state: RetryCallState) -> float:
    """Back off exponentially (0.2 s, 0.4 s, ...) but at least what a TemporaryError asked for."""
    exc = state.outcome.exception() if state.outcome else None
    hinted = exc.delay if isinstance(exc, TemporaryError) else 0.0
    backoff = min(0.2 * (2 ** (state.attempt_number - 1)), 10.0)
    return max(hinted, backoff)


class Provider(abc.ABC):
    #: resource types this provider can own
    resource_types: ClassVar[frozenset[str]] = frozenset()
    #: features it supports; a desired resource whose ``requires`` is not covered is refused at plan time
    features: ClassVar[frozenset[str]] = frozenset()
    #: at most this many batches in flight at once
    max_concurrency: ClassVar[int] = 4
    #: attempts for a batch or read that raises TemporaryError
    retry_attempts: ClassVar[int] = 5
    #: the pydantic model of ``Provider.spec.settings`` (validate checks it, schema exports it); the
    #: built-ins' live in :mod:`streamverse_ctl.inventory.provider_settings`, so validating never imports a client
    settings_model: ClassVar[type[Any] | None] = None
    #: its writes carry the plan's ``before`` values as preconditions that the backend checks
    #: atomically with the write (Route 53 change batches, RFC 2136 prerequisites): a write whose
    #: precondition fails changes nothing of its batch and raises :class:`StalePlan`. For such a
    #: provider the re-check under the apply lock reuses the read the plan was made from
    #: (:meth:`last_read`) instead of reading the whole zone again.
    atomic_preconditions: ClassVar[bool] = False

    def __init__(self, name: str, settings: Mapping[str, Any], context: ProviderContext) -> None:
        self.name = name
        self.settings = dict(settings)
        self.context = context
        #: resource id -> the desired spec, set by the engine before a read: a provider may hand back
        #: that very object for a resource it reads as equal to it (a no-change plan of 100,000
        #: resources then holds one copy of each spec, not two)
        self.expected: Mapping[str, Mapping[str, Any]] = {}
        self.concurrency = int(self.settings.get("concurrency", type(self).max_concurrency))
        self.attempts = int(self.settings.get("retries", type(self).retry_attempts))
        self._last_read: tuple[frozenset[str], list[Resource]] | None = None

    # ----- capabilities -------------------------------------------------------------------------
    @classmethod
    def serves(cls, resource_type: str) -> bool:
        """Whether this provider manages resources of ``resource_type`` (default: ``resource_types``)."""
        return resource_type in cls.resource_types

    def check(self, desired: Sequence[Resource]) -> list[str]:
        """Messages for every desired resource this provider cannot serve (empty list: all fine)."""
        problems = []
        served: dict[str, bool] = {}  # serves() once per type, not once per resource
        for r in desired:
            ok = served.get(r.type)
            if ok is None:
                ok = served[r.type] = self.serves(r.type)
            if not ok:
                problems.append(f"provider '{self.name}' ({self.type_name()}) does not manage {r.type} "
                                f"(needed by {r.origin or r.id})")
                continue
            missing = [f for f in r.requires if f not in self.features]
            if missing:
                problems.append(
                    f"provider '{self.name}' ({self.type_name()}) does not support {', '.join(missing)} "
                    f"needed by {r.origin or r.id}"
                )
        return problems

    @property
    def lineage(self) -> str | None:
        """The lineage this provider writes into its ownership markers (the workspace's state's)."""
        return self.context.lineage

    @classmethod
    def type_name(cls) -> str:
        return getattr(cls, "provider_type", cls.__name__)

    # ----- read ---------------------------------------------------------------------------------
    def read(self, types: Collection[str]) -> list[Resource]:
        """Actual state of the given types, managed and unmanaged (``managed=False``) alike; each
        managed one with ``owner``: the lineage its ownership marker names ("" if none)."""
        wanted = [t for t in types if self.serves(t)]
        if not wanted:
            return []
        result: list[Resource] = self._retrying(lambda: self._read(wanted), "read")
        self._last_read = (frozenset(wanted), list(result))
        return result

    def preconditions_checked(self, changes: Sequence[Change]) -> bool:
        """Whether writing these changes checks their ``before`` values atomically (default: the
        class's ``atomic_preconditions``); a provider may say no for kinds of change it cannot check."""
        return self.atomic_preconditions

    def last_read(self, types: Collection[str]) -> list[Resource] | None:
        """What the latest :meth:`read` of exactly these types returned (None: not read yet)."""
        wanted = frozenset(t for t in types if self.serves(t))
        if not wanted:
            return []
        if self._last_read is None or self._last_read[0] != wanted:
            return None
        return list(self._last_read[1])

    @abc.abstractmethod
    def _read(self, types: Sequence[str]) -> list[Resource]: ...

    # ----- apply --------------------------------------------------------------------------------
    def apply(self, changes: Sequence[Change], *, started: BatchListener | None = None,
              finished: BatchListener | None = None) -> None:
        """Apply changes that do not depend on each other (the engine calls once per stage).

        Batches run at most ``concurrency`` (setting, default ``max_concurrency``) at a time; a batch
        that raises TemporaryError is retried with backoff; on a permanent failure no new batch is
        started, running ones finish, and a :class:`ProviderError` naming the provider is raised.
        """
        batches = [list(b) for b in self._batches(changes) if b]
        if not batches:
            return
        self._last_read = None  # what it read is no longer what the backend holds
        lock = threading.Lock()

        def run(batch: list[Change]) -> None:
            if started:
                with lock:
                    started(batch, None)
            try:
                self._retrying(lambda: self._apply(batch), f"apply of {len(batch)} change(s)")
            except BaseException as exc:
                if finished:
                    with lock:
                        finished(batch, exc)
                raise
            if finished:
                with lock:
                    finished(batch, None)

        if self.concurrency <= 1 or len(batches) == 1:
            for b in batches:
                run(b)
            return
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=self.name) as pool:
            pending = list(batches)
            running: set[Future[None]] = set()
            error: BaseException | None = None
            while (pending or running) and error is None:
                while pending and len(running) < self.concurrency:
                    running.add(pool.submit(run, pending.pop(0)))
                done, running = wait(running, return_when=FIRST_EXCEPTION)
                for fut in done:
                    if fut.exception() is not None and error is None:
                        error = fut.exception()
            if running:
                wait(running)
            if error is not None:
                raise error

    def _batches(self, changes: Sequence[Change]) -> Sequence[Sequence[Change]]:
        """How to group changes into calls; the default is one change per call."""
        return [[c] for c in changes]

    @abc.abstractmethod
    def _apply(self, batch: Sequence[Change]) -> None: ...

    # ----- optional -----------------------------------------------------------------------------
    def region_health(self) -> Mapping[str, bool]:
        """Region name -> healthy, for providers that know (the sim platform, health checks)."""
        return {}

    def verify(self, desired: Sequence[Resource], timeout: float = 30.0) -> list[VerifyResult]:
        """Prove the real system serves ``desired``; providers without a way to check return []."""
        return []

    def verify_by_reading(self, desired: Sequence[Resource], server: str, *, subset: bool = False
                          ) -> list[VerifyResult]:
        """Verify by one read-back of the desired types: each resource must be there, ours, and equal to its
        spec (``subset``: every desired field equal; the system may hold more). For providers whose read is
        the system's own answer (an API server, a cloud API)."""
        start = time.monotonic()
        types = sorted({r.type for r in desired if r.type in self.resource_types})
        actual = {r.id: r for r in self._read(types)} if types else {}
        out = []
        for r in desired:
            if r.type not in self.resource_types:
                continue
            cur = actual.get(r.id)
            same = cur is not None and (all(cur.spec.get(k) == v for k, v in r.spec.items()) if subset
                                        else dict(cur.spec) == dict(r.spec))
            ok = cur is not None and cur.managed and same
            detail = "" if ok else ("missing" if cur is None else "differs" if cur.managed else "not managed")
            out.append(VerifyResult(r.id, ok, time.monotonic() - start, detail, server))
        return out

    def close(self) -> None:
        """Release connections."""

    # ----- helpers ------------------------------------------------------------------------------
    def _retrying(self, fn: Callable[[], Any], what: str) -> Any:
        retryer = Retrying(
            retry=retry_if_exception_type(TemporaryError),
            stop=stop_after_attempt(max(1, self.attempts)),
            wait=_wait_for,
            reraise=True,
            before_sleep=lambda s: log.warning(
                "%s: %s failed (attempt %d): %s; retrying", self.name, what, s.attempt_number,
                redact(str(s.outcome.exception() if s.outcome else "")),
            ),
        )
        try:
            return retryer(fn)
        except TemporaryError as exc:
            raise ProviderError(f"provider '{self.name}': {what} still failing after "
                                f"{self.attempts} attempts: {redact(str(exc))}") from exc
        except (ProviderError, StalePlan):
            raise
        except StreamverseError as exc:
            raise ProviderError(f"provider '{self.name}': {what} failed: {redact(str(exc))}") from exc
