"""What an action receives: the workspace, the run, and helpers to apply changes behind guardrails."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import PermanentError
from .events import Events

if TYPE_CHECKING:
    from ..engine.plan import Plan
    from ..engine.workspace import Workspace
    from .simplatform import SimPlatform


@dataclass
class ActionContext:
    ws: Workspace
    runbook: str
    run_id: str
    step: str
    dry_run: bool
    force: frozenset[str]
    events: Events
    runbook_dir: Path
    artifacts_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)
    optional: bool = False  # the step is optional: a part nothing real serves is skipped, saying so

    @property
    def purpose(self) -> str:
        return f"runbook {self.runbook} {self.run_id} step {self.step}"

    def note(self, text: str, **data: Any) -> None:
        self.events("step.note", step=self.step, text=text, **data)

    def sim(self) -> SimPlatform | None:
        """The sim platform (its store) when the workspace runs on it, else None."""
        for name, binding in self.ws.compiled.bindings.items():
            if binding.type == "sim":
                return self.ws.provider(name).store  # type: ignore[attr-defined, no-any-return]
        return None

    def require_sim(self, what: str, rtype: str | None = None) -> SimPlatform:
        """The sim store, to change ``rtype`` (a type only the sim implements) — refused unless the run is
        on the sim platform: a sim stand-in next to real providers changes nothing real."""
        from .served import not_served

        reason = not_served(self.ws, rtype) if rtype is not None else None
        store = self.sim()
        if reason is None and store is None:
            reason = "no provider for this exists yet except the sim platform; this inventory binds no sim provider"
        if reason is not None or store is None:
            raise PermanentError(f"step {self.step}: {what}: {reason}; nothing was changed (run with --platform "
                                 "sim to rehearse)")
        return store

    def unserved(self, rtype: str) -> str | None:
        """Why nothing real would change ``rtype`` here (None: something real does, or this is the sim platform)."""
        from .served import not_served

        return not_served(self.ws, rtype)

    def apply(self, targets: Sequence[str], *, stage: Callable[[], object] | None = None) -> dict[str, Any]:
        """Plan ``targets`` and apply behind lock, guardrails, journal and audit (``apply``'s path).

        ``stage`` stages deliberate changes (overrides, region states) under the lock, so the step acts
        on the state as it is, not as it was before a wait; they are persisted only once the
        guardrails pass (:func:`..engine.overrides.apply_staged`). In a dry run the plan is reported
        and nothing is written.
        """
        from ..engine.overrides import apply_staged

        out = apply_staged(self.ws, list(targets), purpose=self.purpose, force=self.force, stage=stage,
                           dry_run=self.dry_run, lock_timeout=60.0, show=self._report,
                           audit={"runbook": self.runbook, "run_id": self.run_id, "step": self.step})
        plan = out.plan
        summary = {"plan_id": plan.id, "summary": plan.summary(),
                   "changes": [f"{c.action} {c.id}" for c in plan.changes][:50],
                   "changed": changed(plan, self.ws, dry_run=self.dry_run)}
        if out.result is None:  # a dry run
            if plan.refusals:
                self.note("the guardrails would refuse this step: "
                          + "; ".join(f"[{r.name}] {r.message}" for r in plan.refusals))
            return {**summary, "applied": 0, "dry_run": True}
        result = out.result
        bad = [v.resource_id for v in result.verify if not v.ok]
        if bad:
            raise PermanentError(f"applied, but {len(bad)} resource(s) did not converge: {', '.join(bad[:5])}")
        return {**summary, "applied": result.applied, "apply_run": result.run_id, "verified": len(result.verify),
                **({"cleared": ", ".join(out.cleared)} if out.cleared else {})}

    def _report(self, plan: Plan) -> None:
        changes = [{"action": c.action, "id": c.id,
                    "fields": [{"path": f.path, "before": f.before, "after": f.after} for f in c.fields][:8]}
                   for c in plan.changes[:40]]
        self.events("step.plan", step=self.step, plan_id=plan.id, summary=plan.summary(), changes=changes,
                    refusals=[{"name": r.name, "message": r.message} for r in plan.refusals])

    def audit(self, action: str, target: str, result: str = "ok", **detail: Any) -> None:
        if not self.dry_run:
            self.ws.state.audit(action, target, result, runbook=self.runbook, run_id=self.run_id,
                                step=self.step, **detail)


def changed(plan: Plan, ws: Workspace, dry_run: bool = False) -> str:
    """What a plan changes, on which system: ``route53 (route53): 6 dns.record updated; sim (sim): ...``."""
    counts: dict[tuple[str, str, str], int] = {}
    for c in plan.changes:
        key = (c.provider, c.type, {"create": "created", "update": "updated", "delete": "deleted"}[c.action])
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "nothing to change"
    bindings = ws.compiled.bindings
    by_provider: dict[str, list[str]] = {}
    for (provider, rtype, done), n in sorted(counts.items()):
        by_provider.setdefault(provider, []).append(f"{n} {rtype} {done}")
    parts = []
    for provider, items in by_provider.items():
        kind = bindings[provider].type if provider in bindings else "?"
        label = provider if kind == provider else f"{provider} ({kind})"
        parts.append(f"{label}: {', '.join(items)}")
    return ("would change: " if dry_run else "") + "; ".join(parts)
