"""``CdnDistribution`` documents -> ``cdn.distribution`` resources (served by the cloudfront provider)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.resources import Resource
from ..inventory import models as m

DISTRIBUTION = "cdn.distribution"


def specificity(pattern: str) -> tuple[int, int, str]:
    """Sort key putting specific patterns first: paths (``/videos/x/*``) before suffix globs (``*.ts``),
    longer literal text before shorter."""
    literal = len(pattern.replace("*", "").replace("?", ""))
    return (0 if pattern.startswith("/") else 1, -literal, pattern)


def distribution_spec(spec: m.CdnDistributionSpec, ttl_overrides: Mapping[str, int] | None = None
                      ) -> dict[str, Any]:
    """The provider-neutral spec: origins, the default origin and TTL, path behaviours in precedence order
    (the document's own, then ``ttl_overrides`` of its ``ttlFrom`` policy, most specific first)."""
    default_origin = spec.default_origin or spec.origins[0].id
    behaviors = [{"path": b.path_pattern, "ttl": b.ttl, "origin": b.origin or default_origin}
                 for b in spec.cache_behaviors]
    own = {b["path"] for b in behaviors}
    for pattern in sorted((p for p in ttl_overrides or {} if p not in own), key=specificity):
        behaviors.append({"path": pattern, "ttl": int((ttl_overrides or {})[pattern]), "origin": default_origin})
    return {
        "comment": spec.comment,
        "enabled": spec.enabled,
        "price_class": spec.price_class,
        "default_origin": default_origin,
        "default_ttl": spec.default_ttl,
        "origins": [{"id": o.id, "domain_name": o.domain_name, "path": o.path, "protocol": o.protocol,
                     "http_port": o.http_port, "https_port": o.https_port} for o in spec.origins],
        "behaviors": behaviors,
    }


def distributions(models: Mapping[tuple[str, str], Any], origin: Callable[[str, str], str]) -> list[Resource]:
    out = []
    for (kind, name), spec in models.items():
        if kind == "CdnDistribution":
            assert isinstance(spec, m.CdnDistributionSpec)
            policy = models.get(("CacheWarmPolicy", spec.ttl_from)) if spec.ttl_from else None
            overrides = policy.ttl_overrides if isinstance(policy, m.CacheWarmPolicySpec) else None
            out.append(Resource(DISTRIBUTION, name, distribution_spec(spec, overrides), origin=origin(kind, name)))
    return out


def following(models: Mapping[tuple[str, str], Any], policy: str) -> list[str]:
    """``CdnDistribution/<name>`` of every distribution whose TTLs follow CacheWarmPolicy ``policy`` (what a
    TTL change of the policy must also plan and apply, e.g. ``cdn.set_ttl``'s targets)."""
    return sorted(f"CdnDistribution/{name}" for (kind, name), spec in models.items()
                  if kind == "CdnDistribution" and getattr(spec, "ttl_from", None) == policy)
