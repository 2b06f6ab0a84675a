"""Apply a plan behind guardrails: lock, re-check, guardrails, journal, audit, verify.

What was shown and confirmed is what is applied. Under the lock, a plan that was not made under
this same lock hold is checked against a fresh plan made from the state as it is now (actual state
re-read; overrides and drained regions another process wrote while this one waited included): if
the two would write anything different, nothing is written and :class:`StalePlan` says what
differs. A saved plan must also be the one ``plan --out`` recorded in this state backend, made from
the same inventory, desired state and providers (:func:`..plan.saved_plan_problems`).

A run is journaled change by change; a ``kill -9`` at any point leaves the journal showing what
finished. The next apply re-plans from actual state (never from the journal), so finished changes
are not repeated, and it marks the interrupted run as such in the journal and the audit log.

A provider that checks preconditions atomically with its writes (``Provider.atomic_preconditions``:
Route 53 change batches, RFC 2136 prerequisites) is not read a second time for the re-check of a
plan made in this process: its writes carry the plan's ``before`` values, and a write that finds
them changed writes nothing of its batch and raises :class:`StalePlan`, as the re-check would.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..core.errors import GuardrailRefused, Refusal, StalePlan
from ..core.resources import Change, Resource
from ..core.secrets import redact
from ..providers.base import VerifyResult
from .plan import Plan, effect_difference, saved_plan_problems
from .workspace import Workspace


class Reporter(Protocol):
    def stage(self, label: str, total: int) -> None: ...
    def started(self, changes: Sequence[Change]) -> None: ...
    def finished(self, changes: Sequence[Change], error: BaseException | None) -> None: ...
    def note(self, text: str) -> None: ...


class QuietReporter:
    def stage(self, label: str, total: int) -> None: ...
    def started(self, changes: Sequence[Change]) -> None: ...
    def finished(self, changes: Sequence[Change], error: BaseException | None) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class ApplyResult:
    run_id: str
    applied: int
    verify: list[VerifyResult] = field(default_factory=list)
    resumed_from: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return all(v.ok for v in self.verify)


def mark_interrupted(ws: Workspace, kind: str = "apply") -> list[str]:
    """Runs of ``kind`` still marked running whose process is gone: mark them interrupted."""
    out = []
    for run in ws.state.journal_runs(kind, status="running", limit=100):
        items = ws.state.journal_items(run["id"])
        done = sum(1 for i in items if i.status == "done")
        ws.state.journal_finish(run["id"], "interrupted")
        ws.state.audit(f"{kind}.interrupted", run["ref"], "interrupted", run_id=run["id"], done=done, total=len(items))
        out.append(f"{run['id']} ({done}/{len(items)} changes had finished)")
    return out


def apply_plan(ws: Workspace, plan: Plan, *, saved: bool = False, force: Collection[str] = (),
               lock_timeout: float = 0.0, reporter: Reporter | None = None, verify: bool = True,
               verify_timeout: float = 30.0, purpose: str = "apply",
               before_write: Callable[[], None] | None = None) -> ApplyResult:
    """Apply ``plan``. ``before_write`` runs under the lock once guardrails passed (e.g. to persist an
    override staged on the workspace), so a refused change leaves no trace but the audit entry."""
    rep = reporter or QuietReporter()
    with ws.locked(f"{purpose} {plan.id}", timeout=lock_timeout):
        resumed = mark_interrupted(ws)
        for r in resumed:
            rep.note(f"an earlier apply was interrupted: {r}; planning again from actual state")
        refusals = recheck(ws, plan, saved=saved, force=force, purpose=purpose)
        if refusals:
            ws.state.audit("apply", plan.id, "refused", refusals=[r.message for r in refusals],
                           forced=sorted(force))
            raise GuardrailRefused(refusals)
        if "foreign-state" in force and not plan.empty:  # a deliberate take-over: say from whom, in the audit log
            _audit_takeover(ws, plan)
        if before_write is not None:
            before_write()
        if plan.empty:
            ws.state.audit("apply", plan.id, "no-op")
            return ApplyResult("", 0, resumed_from=resumed)
        run_id = ws.state.journal_start("apply", plan.id, [c.id for c in plan.changes],
                                        {"inventory": plan.inventory, "summary": plan.summary(),
                                         "forced": sorted(force)})
        ws.state.audit("apply.start", plan.id, "started", run_id=run_id, summary=plan.summary(),
                       forced=sorted(force), changes=[f"{c.action} {c.id}" for c in plan.changes][:200])
        applied = 0
        try:
            for label, changes in plan.stages():
                rep.stage(label, len(changes))
                by_provider: dict[str, list[Change]] = {}
                for c in changes:
                    by_provider.setdefault(c.provider, []).append(c)
                for provider_name, group in by_provider.items():
                    provider = ws.provider(provider_name)

                    def started(batch: Sequence[Change], _e: BaseException | None) -> None:
                        ws.state.journal_mark(run_id, [c.id for c in batch], "running")
                        rep.started(batch)

                    def finished(batch: Sequence[Change], error: BaseException | None,
                                 _p: str = provider_name) -> None:
                        nonlocal applied
                        if error is None:
                            ws.state.journal_mark(run_id, [c.id for c in batch], "done")
                            for c in batch:
                                ws.state.record_applied(_p, c.id, c.after, run_id)
                            applied += len(batch)
                        else:
                            ws.state.journal_mark(run_id, [c.id for c in batch], "failed",
                                                  {"error": redact(str(error))})
                        rep.finished(batch, error)

                    provider.apply(group, started=started, finished=finished)
        except StalePlan as exc:  # a precondition the backend checked with the write failed
            ws.state.journal_finish(run_id, "failed")
            ws.state.audit("apply", plan.id, "refused", reason="stale plan", purpose=purpose, run_id=run_id,
                           applied=applied, problems=[redact(str(exc))])
            raise
        except BaseException as exc:
            ws.state.journal_finish(run_id, "failed")
            ws.state.audit("apply.finish", plan.id, "failed", run_id=run_id, applied=applied,
                           total=len(plan.changes), error=redact(str(exc)))
            raise
        ws.state.journal_finish(run_id, "done")
        ws.state.audit("apply.finish", plan.id, "ok", run_id=run_id, applied=applied)
    results: list[VerifyResult] = []
    if verify:
        results = verify_changes(ws, plan.changes, verify_timeout)
        bad = [v for v in results if not v.ok]
        ws.state.audit("verify", plan.id, "ok" if not bad else "mismatch", checked=len(results),
                       mismatched=[v.resource_id for v in bad][:50])
    return ApplyResult(run_id, applied, results, resumed)


def _audit_takeover(ws: Workspace, plan: Plan) -> None:
    """``state.takeover`` per state lineage whose resources this forced apply rewrites (their markers
    then name this state). Reads actual state once more, only when ``--force foreign-state`` is given."""
    from .guardrails import foreign_owners

    actual = ws.read_actual(sorted({c.provider for c in plan.changes}))
    for owner, ids in sorted(foreign_owners(plan.changes, actual, ws.state.lineage).items()):
        ws.state.audit("state.takeover", owner, "forced", plan_id=plan.id, lineage=ws.state.lineage,
                       count=len(ids), resources=ids[:200])


def recheck(ws: Workspace, plan: Plan, *, saved: bool, force: Collection[str], purpose: str) -> list[Refusal]:
    """Under the lock: refuse a plan that is not what the state gives now; return the guardrail refusals."""
    if not saved and plan.made_under is not None and ws.holding_lock and plan.made_under == ws.lock_epoch:
        return list(plan.refusals)  # planned under this very hold: nothing else wrote since
    now = ws.plan(plan.targets, force=sorted(force), actual=None if saved else _recheck_actual(ws, plan.changes))
    if saved:
        now.binding = ws.binding()
        record = ws.state.plan_record(plan.id)
        problems = saved_plan_problems(plan, now, record["digest"] if record else None, str(ws.state.path))
    else:
        problems = [] if plan.effect() == now.effect() else [effect_difference(plan, now)]
    if problems:
        ws.state.audit("apply", plan.id, "refused", reason="stale plan", purpose=purpose, problems=problems)
        raise StalePlan(f"plan {plan.id} is not what {'would' if saved else 'will'} be applied now, so nothing was "
                        "changed:\n" + "\n".join(f"  {p}" for p in problems) + "\nrun plan again")
    return list(now.refusals)


def _recheck_actual(ws: Workspace, changes: Sequence[Change]) -> list[Resource]:
    """Actual state for the re-check of a plan made in this process: a provider whose writes carry
    the plan's ``before`` values as atomic preconditions (``Provider.atomic_preconditions``) is not
    read again when it checks them for these changes (what its plan read is reused; a write that
    finds the zone changed is refused by the
    backend itself and raises StalePlan); every other provider is read afresh."""
    actual: list[Resource] = []
    for name, types in ws.scope().items():
        provider = ws.provider(name)
        mine = [c for c in changes if c.provider == name]
        cached = provider.last_read(types) if provider.preconditions_checked(mine) else None
        actual.extend(cached if cached is not None else provider.read(types))
    return actual


def verify_changes(ws: Workspace, changes: Sequence[Change], timeout: float = 30.0) -> list[VerifyResult]:
    """Ask each provider to prove the real system serves what was applied.

    A DNS name answers for all its record sets at once (weighted, geo, failover), so every desired
    record of a changed name and type is verified with it, not only the changed ones.
    """
    wanted = {c.id for c in changes if c.action != "delete"}
    names = {(c.provider, str(spec.get("fqdn")), str(spec.get("rtype")))
             for c in changes if c.type == "dns.record" for spec in (c.after or c.before or {},)}
    out: list[VerifyResult] = []
    for name, resources in ws.compiled.by_provider().items():
        mine = [r for r in resources if r.id in wanted or (
            r.type == "dns.record" and (name, str(r.spec.get("fqdn")), str(r.spec.get("rtype"))) in names)]
        if mine:
            out.extend(ws.provider(name).verify(mine, timeout))
    return out
