"""Post a JSON notification to a webhook (the ``notify`` runbook action's backend)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ..core.errors import PermanentError, TemporaryError


def post_json(url: str, payload: Mapping[str, Any], timeout: float = 10.0,
              headers: Mapping[str, str] | None = None) -> int:
    """POST ``payload``; returns the status. 5xx and network errors are temporary, 4xx permanent."""
    try:
        resp = httpx.post(url, json=dict(payload), timeout=timeout, headers=dict(headers or {}))
    except httpx.HTTPError as exc:
        raise TemporaryError(f"webhook {url}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code >= 500:
        raise TemporaryError(f"webhook {url} answered {resp.status_code}")
    if resp.status_code >= 400:
        raise PermanentError(f"webhook {url} answered {resp.status_code}: {resp.text[:200]}")
    return resp.status_code
