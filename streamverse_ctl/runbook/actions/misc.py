"""Small actions: ``apply`` (a targeted plan/apply), ``sleep`` and ``notify`` (a webhook)."""

from __future__ import annotations

import os
import time
from typing import Any

from ..context import ActionContext


def apply(ctx: ActionContext, targets: list[str] | None = None) -> dict[str, Any]:
    """Converge the given inventory documents/resources (``Kind/name`` or resource ids, globs)."""
    return ctx.apply(list(targets or []))


def sleep(ctx: ActionContext, seconds: Any) -> dict[str, Any]:
    """Wait (a duration like 30s or seconds). A dry run does not wait."""
    from ...inventory.models import parse_duration

    s = parse_duration(seconds)
    if ctx.dry_run:
        ctx.note(f"would sleep {s:g} s")
        return {"slept": 0}
    end = time.monotonic() + s
    while (left := end - time.monotonic()) > 0:
        ctx.events("step.wait", step=ctx.step, text="sleep", remaining=round(left, 1))
        time.sleep(min(1.0, left))
    return {"slept": s}


def notify(ctx: ActionContext, message: str, url: str | None = None, data: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """POST ``{"text": message, "runbook", "run_id", "step", "data"}`` to ``url`` (default
    STREAMVERSE_WEBHOOK_URL); without either, the notification is only noted."""
    target = url or os.environ.get("STREAMVERSE_WEBHOOK_URL")
    payload = {"text": message, "runbook": ctx.runbook, "run_id": ctx.run_id, "step": ctx.step, "data": data or {}}
    if not target:
        ctx.note(f"no webhook configured (url or STREAMVERSE_WEBHOOK_URL); message: {message}")
        return {"sent": False}
    if ctx.dry_run:
        ctx.note(f"would notify {target}: {message}")
        return {"sent": False, "dry_run": True}
    from ...providers.webhook import post_json  # imported here: httpx loads only when a webhook is sent

    status = post_json(target, payload)
    ctx.audit("notify", target, "ok", status=status)
    return {"sent": True, "status": status}
