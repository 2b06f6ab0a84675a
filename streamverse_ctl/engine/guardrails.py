"""Guardrails checked before any write. Each refusal has a name that ``--force NAME`` overrides.

- ``change-size``: updates or deletes of one type at one provider (for DNS records: in one zone)
  above a share of what exists (30 % by default, once at least ``minExisting`` (10) exist; per provider and type in the
  inventory's ``Provider.spec.guardrails``). Deletes of health checks no record uses (the tool's
  orphans and duplicates) are not counted, neither as changes nor as existing.
- ``min-regions``: a traffic policy the plan touches would be served by fewer healthy regions
  than ``FailoverPolicy.minRegionsServing``.
- ``unhealthy-region``: a change would send MORE traffic to a region that health marks down: its
  weight goes up (not only 0 -> >0), its share of a weighted set goes up at an unchanged weight
  (the other regions' weights went down), or it is added to a latency/geo/failover set (or made a
  failover PRIMARY). Lowering a down region's weight, or removing it, is always allowed. Also: a PoP
  switched to fetch from a down region's origin (``cdn.pop`` ``origin_region``, cdn.set_origin).
- ``adopt``: a change would take over a resource StreamVerse Control did not create.
- ``foreign-state``: a change would write a resource whose ownership marker names another state's
  lineage than this workspace's (two state backends driving one platform: a CI runner without the
  team's ``--state-url`` would otherwise revert the laptop's incident override as drift). Forcing
  it takes over: the apply is audited (``state.takeover``) and the written resources' markers
  name this state from then on. Resources whose markers name no lineage (written before
  lineages were recorded) are adopted silently by the next apply that writes them.
- ``zero-serving`` is never overridable: no policy may be left with no serving region. A failover
  pair whose PRIMARY is down and whose SECONDARY is healthy is serving (by the SECONDARY).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence

from ..compiler import Compiled
from ..core.errors import Refusal
from ..core.resources import Change, Resource
from ..inventory.models import Guardrails

FORCEABLE = ("change-size", "min-regions", "unhealthy-region", "adopt", "foreign-state",
             "capacity")  # capacity: runbook checks
UNFORCEABLE = ("zero-serving",)


def serving_regions(records: Sequence[Resource | Mapping[str, object]],
                    health: Mapping[str, bool] | None = None) -> set[str]:
    """Regions a policy's records send traffic to (weight > 0 for weighted records).

    A failover SECONDARY is a standby and serves only when its PRIMARY fails: with ``health``
    given, a name/type whose PRIMARY regions are all down is served by its SECONDARY regions.
    """
    out = set()
    standby: dict[tuple[str, str], set[str]] = defaultdict(set)
    primaries: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        spec = r.spec if isinstance(r, Resource) else r
        region = spec.get("region")
        if spec.get("routing") == "weighted" and not spec.get("weight"):
            continue
        if spec.get("routing") == "failover":
            key = (str(spec.get("fqdn") or ""), str(spec.get("rtype") or ""))
            if isinstance(region, str):
                (standby if spec.get("failover") == "SECONDARY" else primaries)[key].add(region)
            if spec.get("failover") == "SECONDARY":
                continue  # a standby answers only when the primary fails
        if isinstance(region, str):
            out.add(region)
    if health is not None:
        for key, regions in standby.items():
            if not any(health.get(p, True) for p in primaries.get(key, set())):
                out |= regions
    return out


def _unused_check_deletes(changes: Sequence[Change], actual: Sequence[Resource]) -> set[tuple[str, str]]:
    """(provider, id) of health check deletes that no record uses: the tool's own garbage (orphans of
    a lost response or a crash, duplicates), counted apart from ``change-size`` (still in the plan).
    Deleting them changes no answer."""
    used = {(r.provider, str(r.spec.get("health_check"))) for r in actual
            if r.type == "dns.record" and r.spec.get("health_check")}
    return {(c.provider, c.id) for c in changes
            if c.type == "dns.healthcheck" and c.action == "delete" and (c.provider, c.name) not in used}


def _limits(g: Guardrails, rtype: str) -> Guardrails:
    return g.types.get(rtype, g)


def foreign_owners(changes: Sequence[Change], actual: Sequence[Resource], lineage: str | None
                   ) -> dict[str, list[str]]:
    """Owning lineage -> ids of the resources ``changes`` would write that another state owns."""
    owners = {(r.provider, r.id): r.owner for r in actual if r.owner}
    out: dict[str, list[str]] = defaultdict(list)
    for c in changes:
        owner = owners.get((c.provider, c.id))
        if owner and owner != lineage:
            out[owner].append(c.id)
    return dict(out)


def _foreign_state(changes: Sequence[Change], actual: Sequence[Resource], lineage: str | None,
                   location: str) -> list[Refusal]:
    refusals = []
    mine = f"lineage {lineage}" if lineage else "no lineage"
    for owner, ids in sorted(foreign_owners(changes, actual, lineage).items()):
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        refusals.append(Refusal("foreign-state", (
            f"{len(ids)} resource(s) this plan would write ({shown}) are owned by the state with lineage {owner}; "
            f"this run's state{f' ({location})' if location else ''} has {mine}. Point this run at the owning "
            f"state with --state-url URL or STREAMVERSE_STATE_URL (`streamverse ctl state info` where that state "
            f"is used shows its location and lineage); take over only on purpose")))
    return refusals


def check(changes: Sequence[Change], compiled: Compiled, actual: Sequence[Resource],
          health: Mapping[str, bool], force: Collection[str] = (), *, lineage: str | None = None,
          state_location: str = "") -> list[Refusal]:
    """Refusals of the guardrails not in ``force``. ``lineage`` is the workspace's state's (for
    ``foreign-state``); without it, only resources whose markers name no lineage are writable."""
    refusals: list[Refusal] = _foreign_state(changes, actual, lineage, state_location)
    # change size, per provider and type (and per zone for DNS records)
    def scope(provider: str, rtype: str, spec: Mapping[str, object] | None) -> tuple[str, str, str]:
        zone = str((spec or {}).get("zone") or "") if rtype == "dns.record" else ""
        return provider, rtype, zone

    garbage = _unused_check_deletes(changes, actual)
    existing: Counter[tuple[str, str, str]] = Counter(scope(r.provider, r.type, r.spec) for r in actual
                                                      if r.managed and (r.provider, r.id) not in garbage)
    counts: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for c in changes:
        if (c.provider, c.id) not in garbage:
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
        serving = serving_regions(recs, health)
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
        if c.takeover:  # any resource type, not only DNS records
            refusals.append(Refusal("adopt", f"{c.id} exists but was not created by StreamVerse Control"))
    refusals += _more_traffic_to_down_regions(changes, actual, health)
    refusals += _origin_to_down_regions(changes, health)
    return [r for r in refusals if r.name in UNFORCEABLE or r.name not in force]


def _candidates(recs: Sequence[Resource]) -> set[str]:
    """Regions a policy could be served by at all (its answers, whatever their weight)."""
    return {str(r.spec.get("region")) for r in recs if r.spec.get("region")}


def _traffic(specs: Sequence[Mapping[str, object]]) -> tuple[dict[str, float], dict[str, set[str]]]:
    """Per region: its weight in weighted sets, and the routed sets (latency/geo/failover role) it is in."""
    weights: dict[str, float] = defaultdict(float)
    member: dict[str, set[str]] = defaultdict(set)
    for spec in specs:
        region = spec.get("region")
        if not isinstance(region, str):
            continue
        routing = str(spec.get("routing") or "simple")
        if routing == "weighted":
            w = spec.get("weight")
            weights[region] += float(w) if isinstance(w, int | float) else 0.0
        elif routing == "failover":
            member[region].add(f"failover {spec.get('failover') or 'PRIMARY'}")
        else:
            member[region].add(routing)
    return weights, member


def _more_traffic_to_down_regions(changes: Sequence[Change], actual: Sequence[Resource],
                                  health: Mapping[str, bool]) -> list[Refusal]:
    """``unhealthy-region``: any increase of the traffic a down region gets, per name/type of a policy.

    Before is actual state; after is actual state with the plan's changes applied (so a narrowed
    plan is judged on what it really leaves). Weighted: the region's weight goes up, or its share
    goes up at an unchanged weight. Latency/geo/failover/simple: the region joins a set (or a role,
    e.g. becomes a failover PRIMARY) it was not in. A lower weight is always allowed.
    """
    down = {r for r, ok in health.items() if not ok}
    if not down:
        return []
    Key = tuple[str, str, str, str]  # provider, policy, fqdn, rtype

    def key(provider: str, spec: Mapping[str, object]) -> Key:
        return (provider, str(spec.get("policy") or ""), str(spec.get("fqdn") or "").lower(),
                str(spec.get("rtype") or "").upper())

    touched: dict[Key, list[Change]] = defaultdict(list)
    for c in changes:
        if c.type == "dns.record":
            for spec in (c.before, c.after):
                if spec is not None and spec.get("policy"):
                    touched[key(c.provider, spec)].append(c)
    if not touched:
        return []
    state: dict[tuple[str, str], Mapping[str, object]] = {
        (r.provider, r.id): r.spec for r in actual if r.type == "dns.record" and r.spec.get("policy")}
    after_state = dict(state)
    for c in changes:
        if c.type != "dns.record":
            continue
        if c.after is None:
            after_state.pop((c.provider, c.id), None)
        else:
            after_state[(c.provider, c.id)] = c.after
    before_by: dict[Key, list[Mapping[str, object]]] = defaultdict(list)
    after_by: dict[Key, list[Mapping[str, object]]] = defaultdict(list)
    for grouped, specs in ((before_by, state), (after_by, after_state)):
        for (prov, _), spec in specs.items():
            k = key(prov, spec)
            if k in touched:
                grouped[k].append(spec)
    refusals = []
    for k in sorted(touched):
        before, after = before_by[k], after_by[k]
        wb, mb = _traffic(before)
        wa, ma = _traffic(after)
        total_b, total_a = sum(wb.values()), sum(wa.values())
        where = f"traffic policy '{k[1]}' ({k[2]}/{k[3]})"
        for region in sorted(down):
            b, a = wb.get(region, 0.0), wa.get(region, 0.0)
            what = ""
            if a > b:
                what = f"its weight goes from {b:g} to {a:g}"
            elif a == b > 0 and total_a > 0:
                share_b = b / total_b if total_b else 0.0
                share_a = a / total_a
                if share_a > share_b + 1e-9:
                    what = f"its share goes from {share_b:.0%} to {share_a:.0%} at weight {a:g}"
            joined = sorted(ma.get(region, set()) - mb.get(region, set()))
            if not what and joined:
                what = f"it is added to the {', '.join(joined)} set"
            if what:
                refusals.append(Refusal("unhealthy-region", f"{where} would send more traffic to region "
                                        f"{region} ({what}), which health checks mark down"))
    return refusals


def _origin_to_down_regions(changes: Sequence[Change], health: Mapping[str, bool]) -> list[Refusal]:
    """``unhealthy-region``: PoPs whose origin would move to a region health marks down."""
    def origin_of(spec: Mapping[str, object] | None) -> str | None:
        return None if spec is None else str(spec.get("origin_region") or spec.get("region") or "")

    moved: dict[str, list[str]] = defaultdict(list)
    for c in changes:
        if c.type == "cdn.pop" and c.after is not None:
            after = origin_of(c.after)
            if after and after != origin_of(c.before) and health.get(after, True) is False:
                moved[after].append(c.name)
    return [Refusal("unhealthy-region", f"{len(pops)} PoP(s) would fetch from the origin of {region}, which "
                    f"health marks down: {', '.join(sorted(pops)[:5])}" + (" ..." if len(pops) > 5 else ""))
            for region, pops in sorted(moved.items())]
