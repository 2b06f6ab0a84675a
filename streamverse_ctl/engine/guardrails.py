"""Guardrails checked before any write. Each refusal has a name that ``--force NAME`` overrides.

- ``change-size``: updates or deletes of one type at one provider (for DNS records: in one zone)
  above a share of what exists (30 % by default, once at least ``minExisting`` (10) exist; per provider and type in the
  inventory's ``Provider.spec.guardrails``).
- ``min-regions``: a traffic policy the plan touches would be served by fewer healthy regions
  than ``FailoverPolicy.minRegionsServing``.
- ``unhealthy-region``: a change would send traffic to a region that health marks down.
- ``adopt``: a change would take over a resource StreamVerse Control did not create.
- ``zero-serving`` is never overridable: no policy may be left with no serving region.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence

from ..compiler import Compiled
from ..core.errors import Refusal
from ..core.resources import Change, Resource
from ..inventory.models import Guardrails

FORCEABLE = ("change-size", "min-regions", "unhealthy-region", "adopt", "capacity")  # capacity: runbook checks
UNFORCEABLE = ("zero-serving",)


def serving_regions(records: Sequence[Resource | Mapping[str, object]]) -> set[str]:
    """Regions a policy's records send traffic to (weight > 0 for weighted records)."""
    out = set()
    for r in records:
        spec = r.spec if isinstance(r, Resource) else r
        if spec.get("routing") == "weighted" and not spec.get("weight"):
            continue
        if spec.get("routing") == "failover" and spec.get("failover") == "SECONDARY":
            continue  # a standby answers only when the primary fails
        region = spec.get("region")
        if isinstance(region, str):
            out.add(region)
    return out


def _limits(g: Guardrails, rtype: str) -> Guardrails:
    return g.types.get(rtype, g)


def check(changes: Sequence[Change], compiled: Compiled, actual: Sequence[Resource],
          health: Mapping[str, bool], force: Collection[str] = ()) -> list[Refusal]:
    refusals: list[Refusal] = []
    # change size, per provider and type (and per zone for DNS records)
    def scope(provider: str, rtype: str, spec: Mapping[str, object] | None) -> tuple[str, str, str]:
        zone = str((spec or {}).get("zone") or "") if rtype == "dns.record" else ""
        return provider, rtype, zone

    existing: Counter[tuple[str, str, str]] = Counter(scope(r.provider, r.type, r.spec) for r in actual if r.managed)
    counts: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for c in changes:
        counts[scope(c.provider, c.type, c.before or c.after)][c.action] += 1
    for (provider, rtype, zone), n in sorted(counts.items()):
        binding = compiled.bindings.get(provider)
        limits = _limits(binding.guardrails if binding else Guardrails(), rtype)
        have = existing[(provider, rtype, zone)]
        if have < max(1, limits.min_existing):
            continue
        where = f"in zone {zone} " if zone else ""
        for action, pct in (("update", limits.max_update_percent), ("delete", limits.max_delete_percent)):
            share = 100.0 * n[action] / have
            if share > pct:
                refusals.append(Refusal("change-size", f"{n[action]} {action}s of {have} existing {rtype} {where}at "
                                        f"provider '{provider}' is {share:.0f} %, above the {pct:g} % limit"))
    # traffic invariants, for each policy the plan touches
    touched = {str((c.after or c.before or {}).get("policy")) for c in changes if c.type == "dns.record"}
    touched.discard("None")
    minimum = compiled.failover.min_regions_serving
    desired_by_policy: dict[str, list[Resource]] = defaultdict(list)
    for r in compiled.resources:
        if r.type == "dns.record" and r.spec.get("policy"):
            desired_by_policy[str(r.spec["policy"])].append(r)
    for policy in sorted(touched):
        recs = desired_by_policy.get(policy, [])
        serving = serving_regions(recs)
        healthy = {r for r in serving if health.get(r, True)}
        if not healthy:
            refusals.append(Refusal("zero-serving", f"traffic policy '{policy}' would have no healthy region "
                                    f"serving (serving: {sorted(serving) or 'none'})"))
            continue
        routing = compiled.policies[policy].routing if policy in compiled.policies else ""
        need = min(minimum, len(_candidates(recs)))
        if routing != "failover" and len(healthy) < need:
            refusals.append(Refusal("min-regions", f"traffic policy '{policy}' would be served by "
                                    f"{len(healthy)} healthy region(s) {sorted(healthy)}; FailoverPolicy "
                                    f"minRegionsServing is {minimum}"))
    for c in changes:
        if c.reason.startswith("takes over"):  # any resource type, not only DNS records
            refusals.append(Refusal("adopt", f"{c.id} exists but was not created by StreamVerse Control"))
        if c.type != "dns.record" or c.after is None:
            continue
        gained = serving_regions([c.after]) - (serving_regions([c.before]) if c.before else set())
        for region in sorted(gained):
            if not health.get(region, True):
                refusals.append(Refusal("unhealthy-region", f"{c.id} would send traffic to region {region}, "
                                        "which health checks mark down"))
    return [r for r in refusals if r.name in UNFORCEABLE or r.name not in force]


def _candidates(recs: Sequence[Resource]) -> set[str]:
    """Regions a policy could be served by at all (its answers, whatever their weight)."""
    return {str(r.spec.get("region")) for r in recs if r.spec.get("region")}
