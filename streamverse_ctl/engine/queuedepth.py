"""Queue-depth scaling at plan time: measure each queue-scaled pool's depth through the provider that
serves it, so the compiler can size the pool (``desired_nodes``) and reconcile's plain plan/apply
scales it.

Only providers that implement ``queue_depth(queue, region, prometheus_url)`` (autoscaling) are asked;
a pool on Kubernetes scales on the same metric through its HorizontalPodAutoscaler instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..compiler import Compiled
from ..core.errors import PermanentError, StreamverseError

if TYPE_CHECKING:
    from .workspace import Workspace


def measure(ws: Workspace, compiled: Compiled) -> dict[str, float]:
    """Pool name -> queue depth, for every queue-scaled ``transcode.pool`` bound to a measuring provider."""
    depths: dict[str, float] = {}
    for r in compiled.resources:
        if r.type != "transcode.pool" or not isinstance(r.spec.get("queue"), dict):
            continue
        if r.provider not in compiled.bindings or compiled.bindings[r.provider].type == "sim":
            continue
        provider = ws.provider(r.provider)
        fn = getattr(provider, "queue_depth", None)
        if callable(fn):
            try:
                depths[r.name] = float(fn(r.spec["queue"], str(r.spec["region"]), compiled.slo.prometheus_url))
            except StreamverseError as exc:
                raise PermanentError(f"queue depth of {r.origin or r.id} (sizes the pool; nothing was changed): "
                                     f"{exc}") from exc
    return depths
