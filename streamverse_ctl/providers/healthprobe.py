"""One-shot health probes run by the tool itself (for DNS servers without health checks of their own).

A probe is HTTP(S) ``GET http(s)://target:port/path`` (healthy on a 2xx or 3xx status) or a TCP
connect to ``target:port``. A target is unhealthy only when ``min(failure_threshold, 2)``
consecutive attempts fail, so one lost packet does not fail a region over.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from .dnsrecords import healthcheck_url


def probe(spec: Mapping[str, Any], timeout: float = 2.0) -> bool:
    attempts = max(1, min(int(spec.get("failure_threshold", 1)), 2))
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.1)
        if _probe_once(spec, timeout):
            return True
    return False


def _probe_once(spec: Mapping[str, Any], timeout: float) -> bool:
    if spec.get("protocol") == "TCP":
        try:
            with socket.create_connection((str(spec["target"]), int(spec["port"])), timeout=timeout):
                return True
        except OSError:
            return False
    try:
        resp = httpx.get(healthcheck_url(spec), timeout=timeout, verify=False, follow_redirects=False)
    except httpx.HTTPError:
        return False
    return 200 <= resp.status_code < 400


def probe_many(specs: Mapping[str, Mapping[str, Any]], timeout: float = 2.0) -> dict[str, bool]:
    """Health check name -> healthy, probing all at once."""
    if not specs:
        return {}
    names = list(specs)
    with ThreadPoolExecutor(max_workers=min(16, len(names))) as pool:
        results = list(pool.map(lambda n: probe(specs[n], timeout), names))
    return dict(zip(names, results, strict=True))
