"""Prometheus as a metrics source (prometheus-api-client): region health, CDN hit ratio, API latency.

:class:`PrometheusSource` answers the questions the workspace asks (is a region healthy, how well
do PoPs cache, how fast is the API) with instant PromQL queries. It is read only.

Metrics StreamVerse expects
---------------------------
``probe_success{job="region-ingress", region="<region>", instance=...}``
    blackbox-exporter probes of each region's ingress (1 up, 0 down). A region is healthy when
    every probe of it succeeds: ``min by (region) (probe_success{job="region-ingress"}) == 1``.
    A region with no probe sample at the evaluation time is reported unhealthy (unknown is not up).
``cdn_requests_total{pop="<pop>", region="<region>"}`` and ``cdn_cache_hits_total{pop, region}``
    counters of the CDN edges; the hit ratio is
    ``sum by (pop) (rate(cdn_cache_hits_total[5m])) / sum by (pop) (rate(cdn_requests_total[5m]))``
    (or ``by (region)``). A PoP without requests in the window has no ratio (left out).
``streamverse_api_request_duration_seconds_bucket{le=...}``
    the API's latency histogram; p95 in milliseconds is
    ``histogram_quantile(0.95, sum by (le) (rate(streamverse_api_request_duration_seconds_bucket[5m]))) * 1000``.

The recording rules in :data:`RECORDING_RULES` precompute the same expressions (deploy them in the
Prometheus rule files: ``streamverse ctl slo rules --out DIR`` writes them as
``streamverse.rules.yml``); the queries here use the raw expressions, so they work with or without them.

Time
----
``at`` (a datetime or Unix seconds) evaluates every query at that instant instead of "now". An
instant query only sees samples from the 5 minutes before its evaluation time, so data that
ended earlier (backfilled, or a replay of an incident) must be queried at its own time.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from ..compiler.slo_rules import base_rule_file, to_yaml
from ..core.errors import PermanentError, ProviderError, TemporaryError
from ..core.secrets import redact

log = logging.getLogger("streamverse.providers.prometheus")

REGION_HEALTH = 'min by (region) (probe_success{job="region-ingress"})'
HIT_RATIO = ("sum by ({by}) (rate(cdn_cache_hits_total[{window}])) / "
             "sum by ({by}) (rate(cdn_requests_total[{window}]))")
API_P95_MS = ("histogram_quantile(0.95, sum by (le) "
              "(rate(streamverse_api_request_duration_seconds_bucket[{window}]))) * 1000")

# the one source of the rule text: streamverse_ctl.compiler.slo_rules (also written by `slo rules`)
RECORDING_RULES = to_yaml(base_rule_file())


class PrometheusSource:
    """Instant PromQL queries against one Prometheus server.

    ``url``      e.g. ``http://prometheus.monitoring:9090``
    ``timeout``  seconds per query (connect and read)
    ``at``       evaluate at this time (datetime or Unix seconds) instead of now
    ``window``   the rate window of the built-in queries (default ``5m``)
    ``headers``  extra HTTP headers (e.g. an ``Authorization`` built from a secret); never logged
    """

    def __init__(self, url: str, *, timeout: float = 5.0, at: datetime | float | None = None,
                 window: str = "5m", headers: Mapping[str, str] | None = None) -> None:
        if not url:
            raise PermanentError("prometheus: no URL given")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.at = at
        self.window = window
        # no urllib3 retries: callers (the engine's retry policy) decide; a down server fails fast
        retry = Retry(total=0, connect=0, read=0, redirect=0, status=0)
        self._client = PrometheusConnect(url=self.url, headers=dict(headers or {}), retry=retry,
                                         timeout=timeout)  # type: ignore[arg-type]  # float is fine

    def close(self) -> None:
        self._client._session.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- generic ------------------------------------------------------------------------------
    def _time(self) -> float | None:
        if self.at is None:
            return None
        return self.at.timestamp() if isinstance(self.at, datetime) else float(self.at)

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Raw instant-query result: ``[{"metric": {labels}, "value": [time, "text"]}, ...]``."""
        params: dict[str, Any] = {}
        when = self._time()
        if when is not None:
            params["time"] = f"{when:.3f}"
        where = f"prometheus {self.url}"
        try:
            result = self._client.custom_query(promql, params=params, timeout=self.timeout)  # type: ignore[arg-type]
        except PrometheusApiClientException as exc:
            text = str(exc)
            m = re.search(r"Status Code (\d+)", text)
            code = int(m.group(1)) if m else 0
            if code in (400, 422):
                raise PermanentError(f"{where}: query rejected (HTTP {code}): {promql}: {_api_error(text)}") from None
            if code in (401, 403):
                raise PermanentError(f"{where}: not authorized (HTTP {code}); check the credentials") from None
            raise TemporaryError(f"{where}: query failed (HTTP {code}): {_api_error(redact(text))}") from None
        except requests.Timeout:
            raise TemporaryError(f"{where}: no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise TemporaryError(f"{where}: cannot connect: {_net_reason(exc)}") from None
        except requests.RequestException as exc:
            raise ProviderError(f"{where}: request failed: {redact(str(exc))[:300]}") from None
        except ValueError as exc:  # not JSON: not a Prometheus server
            raise ProviderError(f"{where}: the answer is not a Prometheus API response ({exc})") from None
        if not isinstance(result, list):  # matrix/scalar/string results are not lists of series
            raise ProviderError(f"{where}: expected an instant vector from {promql}, got {type(result).__name__}")
        return [dict(r) for r in result]

    def vector(self, promql: str, label: str) -> dict[str, float]:
        """An instant vector keyed by one label; NaN samples (0/0) are left out."""
        out: dict[str, float] = {}
        for series in self.query(promql):
            key = (series.get("metric") or {}).get(label)
            value = _value(series)
            if key is not None and value is not None:
                out[str(key)] = value
        return out

    # ----- questions ----------------------------------------------------------------------------
    def region_health(self, regions: Iterable[str]) -> dict[str, bool]:
        """Region -> every ingress probe succeeds. Regions without probe data are False (logged)."""
        mins = self.vector(REGION_HEALTH, "region")
        out = {}
        for region in regions:
            if region not in mins:
                log.warning("prometheus %s: no probe_success data for region %s: reported unhealthy",
                            self.url, region)
            out[region] = mins.get(region) == 1.0
        return out

    def hit_ratio(self, by: Literal["pop", "region"] = "pop") -> dict[str, float]:
        """Cache hit ratio (0..1) per PoP or region over the rate window."""
        if by not in ("pop", "region"):
            raise PermanentError(f"prometheus: hit_ratio by must be 'pop' or 'region', not {by!r}")
        return self.vector(HIT_RATIO.format(by=by, window=self.window), by)

    def api_p95_ms(self) -> float | None:
        """The API's 95th percentile latency in milliseconds, or None without data."""
        result = self.query(API_P95_MS.format(window=self.window))
        values = [v for v in (_value(s) for s in result) if v is not None]
        return values[0] if values else None


def _value(series: Mapping[str, Any]) -> float | None:
    try:
        value = float(series["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _api_error(text: str) -> str:
    """The ``error`` field of a Prometheus error body quoted in a client exception."""
    marker = '"error":"'
    if marker in text:
        return text.split(marker, 1)[1].split('"', 1)[0]
    return text[:300]


def _net_reason(exc: BaseException) -> str:
    text = str(exc)
    for known in ("Connection refused", "Name or service not known", "Connection reset", "timed out"):
        if known.lower() in text.lower():
            return known.lower()
    return redact(text)[:200]
