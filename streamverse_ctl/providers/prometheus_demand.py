"""Current demand from Prometheus for ``capacity --live``: request rate, egress and hit ratio.

Metrics (the CDN edges' counters, as in :mod:`.prometheus`):

``cdn_requests_total{pop, region}``
    requests/s per region: ``sum by (region) (rate(cdn_requests_total[5m]))``
``cdn_egress_bytes_total{pop, region}`` (optional)
    egress Gbps per region: ``sum by (region) (rate(cdn_egress_bytes_total[5m])) * 8 / 1e9``; without it
    the capacity model's egress per request turns the request rate into Gbps
``cdn_cache_hits_total{pop, region}``
    hit ratio per PoP (:meth:`.prometheus.PrometheusSource.hit_ratio`)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REQUEST_RATE = "sum by (region) (rate(cdn_requests_total[{window}]))"
EGRESS_GBPS = "sum by (region) (rate(cdn_egress_bytes_total[{window}])) * 8 / 1e9"


@dataclass
class LiveDemand:
    source: str
    rps: dict[str, float]  # region -> req/s
    egress_gbps: dict[str, float] = field(default_factory=dict)  # region -> Gbps (empty: not measured)
    hit_ratio: dict[str, float] = field(default_factory=dict)  # pop -> 0..1


def live_demand(source: Any) -> LiveDemand:
    """Read the current demand through a :class:`.prometheus.PrometheusSource`."""
    window = source.window
    when = source._time()
    where = f"prometheus {source.url}" + (f" at {when:.0f}" if when is not None else "")
    return LiveDemand(where, source.vector(REQUEST_RATE.format(window=window), "region"),
                      source.vector(EGRESS_GBPS.format(window=window), "region"), source.hit_ratio("pop"))
