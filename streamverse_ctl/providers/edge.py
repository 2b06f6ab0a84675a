"""What a CDN provider offers the runbook's ``cdn.*`` and ``ratelimit.*`` actions and hit-ratio probe.

TTLs and warm sets are resources (``cdn.cache_policy``, ``cdn.warm_set``) that go through plan and apply
like any other; the operations below act on the edge outside the inventory. A provider declares which
of the sim-only operation types it implements in ``implements`` (``cdn.warm_job``, ``cdn.rate_limit``),
so a step using one is not refused as "sim only" on an inventory whose PoPs it serves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class EdgeChange:
    """One thing an edge operation changed (or, in a dry run, would change) on one PoP."""

    provider: str
    pop: str
    what: str  # e.g. "warmed clip42: 124/124 objects HIT"

    def __str__(self) -> str:
        return f"{self.provider}: {self.pop}: {self.what}"


@runtime_checkable
class EdgeCache(Protocol):
    name: str

    def warm(self, pops: Sequence[str], titles: Mapping[str, Sequence[str]] | None = None) -> list[EdgeChange]:
        """Fetch the titles (default: each PoP's warm sets) through the PoPs' caches and verify them as hits."""

    def set_rate_limit(self, scope: str, rps: int | None, pops: Sequence[str] | None = None,
                       dry_run: bool = False) -> list[EdgeChange]:
        """Set (``None``: remove) the per-client-IP request limit of ``scope`` (``video:ID`` or ``global``)."""

    def rate_limits(self) -> Mapping[str, Mapping[str, int]]:
        """PoP -> scope -> req/s in force."""

    def hit_ratios(self) -> Mapping[str, float]:
        """PoP -> cache hit ratio of recent client requests, measured by the PoPs themselves."""

    def request_rates(self, window: float = 60.0) -> Mapping[str, float]:
        """PoP -> client requests per second over the last ``window`` seconds, measured by the PoPs."""
