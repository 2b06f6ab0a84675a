"""A PoP's cache-status log (``log_format sv_cache '$msec $upstream_cache_status $status $request_method $uri'``,
client requests only): its hit ratio and request rate."""

from __future__ import annotations

from collections.abc import Sequence

HIT_STATES = {"HIT", "STALE", "UPDATING", "REVALIDATED"}
MISS_STATES = {"MISS", "EXPIRED", "BYPASS"}


def cache_log_ratio(text: str, lines: int, partial: bool = False) -> float | None:
    """Hit ratio of the last ``lines`` lines of a ``sv_cache`` log (``$msec $upstream_cache_status ...``)."""
    rows = text.splitlines()
    if partial and rows:
        rows = rows[1:]  # a byte range starts mid-line
    hits = misses = 0
    for row in rows[-lines:]:
        parts = row.split()
        if len(parts) < 2:
            continue
        if parts[1] in HIT_STATES:
            hits += 1
        elif parts[1] in MISS_STATES:
            misses += 1
    return hits / (hits + misses) if hits + misses else None


def recent_rate(rows: Sequence[str], now: float, window: float) -> float:
    """Requests per second logged in the ``window`` seconds before ``now``."""
    recent = 0
    for row in rows:
        try:
            recent += float(row.split(" ", 1)[0]) >= now - window
        except ValueError:
            continue
    return recent / window
