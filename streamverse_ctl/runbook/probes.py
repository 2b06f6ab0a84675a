"""Functions templates may call (``health()``, ``healthy(r)``, ``hit_ratio()``, ``weights(p)``, ...).

They read live state each time they are called, so a ``wait_until`` condition sees fresh values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.workspace import Workspace


def dns_weights(ws: Workspace, policy: str) -> dict[str, int]:
    """Weights the DNS provider serves now for a weighted policy (region -> weight)."""
    out: dict[str, int] = {}
    for name, types in ws.scope().items():
        if "dns.record" not in types:
            continue
        for r in ws.provider(name).read(["dns.record"]):
            if r.spec.get("policy") == policy and r.spec.get("routing") == "weighted" and r.spec.get("region"):
                out[str(r.spec["region"])] = int(r.spec.get("weight") or 0)
    return dict(sorted(out.items()))


def hit_ratios(ws: Workspace) -> dict[str, float]:
    """PoP -> CDN hit ratio: from the SLO's Prometheus when the inventory names one, else from the PoPs'
    own cache status (edge-cache providers, e.g. nginx's cache log), else the sim."""
    prom = ws.metrics_source()
    if prom is not None:
        return dict(prom.hit_ratio("pop"))
    from .actions.cdn import edge_providers

    edge = edge_providers(ws)
    if edge:
        out: dict[str, float] = {}
        for provider, pops in edge.values():
            out.update({p: v for p, v in provider.hit_ratios().items() if p in pops})
        return out
    for name, binding in ws.compiled.bindings.items():
        if binding.type == "sim":
            return dict(ws.provider(name).hit_ratios())  # type: ignore[attr-defined]
    return {}


def functions(ws: Workspace) -> dict[str, Callable[..., Any]]:
    def health() -> dict[str, bool]:
        return ws.health()

    def healthy(*regions: Any) -> bool:
        h = ws.health()
        names: list[str] = []
        for r in regions:
            names += list(r) if isinstance(r, list | tuple) else [str(r)]
        return all(h.get(n, True) for n in names)

    def all_healthy() -> bool:
        return all(ws.health().values())

    def hit_ratio(pops: list[str] | None = None) -> float:
        hr = hit_ratios(ws)
        values = [v for k, v in hr.items() if pops is None or k in pops]
        return sum(values) / len(values) if values else 1.0

    def min_hit_ratio(pops: list[str] | None = None) -> float:
        hr = hit_ratios(ws)
        values = [v for k, v in hr.items() if pops is None or k in pops]
        return min(values) if values else 1.0

    def weights(policy: str) -> dict[str, int]:
        return dns_weights(ws, policy)

    return {"health": health, "healthy": healthy, "all_healthy": all_healthy, "hit_ratio": hit_ratio,
            "min_hit_ratio": min_hit_ratio, "weights": weights}
