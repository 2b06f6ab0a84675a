"""Run a runbook: render, gate, approve, execute, journal; resume after any interruption.

Journal (kind ``runbook``): one item per step (``id``), per for_each iteration (``id[i]``) and per
compensating step (``id/on_failure/cid``); each item's data holds inputs, outputs, attempts,
who, and approval. Resume skips items that are done or skipped, re-checks an item that was in
flight (the action's ``check``, else re-runs it: actions are idempotent), and continues.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.errors import Aborted, GuardrailRefused, InputError, LockHeld, PermanentError, StreamverseError
from ..core.registry import actions
from ..core.secrets import redact
from ..engine.workspace import Workspace
from ..state.store import JournalItem, whoami
from .context import ActionContext
from .errors import PreconditionFailed, RunPaused, StepFailed
from .events import Events
from .loader import LoadedRunbook
from .model import Step
from .params import resolve
from .probes import functions
from .render import render_duration, render_value, truthy
from .served import unserved

KIND = "runbook"
SKIPPED = "skipped"  # the output key of a step skipped because nothing real serves what it changes
RESUMABLE = ("failed", "paused", "refused", "interrupted", "running")
NOT_RETRIED = (GuardrailRefused, LockHeld, Aborted, InputError, RunPaused)

Approver = Callable[[str, str], bool]


@dataclass
class RunOptions:
    dry_run: bool = False
    approve_all: bool = False
    approve: frozenset[str] = frozenset()
    force: frozenset[str] = frozenset()
    approver: Approver | None = None  # (step id, question) -> approved; None: refuse when one is needed


@dataclass
class RunOutcome:
    run_id: str
    status: str
    outputs: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)


def _seconds_since(stamp: str | None) -> float:
    if not stamp:
        return float("inf")
    return time.time() - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class Runner:
    def __init__(self, ws: Workspace, rb: LoadedRunbook, options: RunOptions, events: Events | None = None) -> None:
        self.ws = ws
        self.rb = rb
        self.opts = options
        self.events = events or Events()
        self.run_id = "dry-run" if options.dry_run else ""
        self.params: dict[str, Any] = {}
        self.items: dict[str, JournalItem] = {}
        self.steps: dict[str, dict[str, Any]] = {}
        self.in_flight: set[str] = set()  # items that were running when the run was interrupted
        self.artifacts = ws.state_dir / "runbooks"

    # ----- entry points -------------------------------------------------------------------------
    def start(self, given: Mapping[str, Any]) -> RunOutcome:
        self.params = resolve(self.rb.model, given, list(self.ws.compiled.regions))
        ctx = self._template_context()
        failed = [pc.message for pc in self.rb.model.preconditions
                  if not truthy(pc.condition, ctx, "precondition")]
        if failed:
            raise PreconditionFailed(f"runbook {self.rb.name}: precondition not met: " + "; ".join(
                str(render_value(m, ctx, "precondition")) for m in failed))
        self._preflight(ctx)
        if self.opts.dry_run:
            self.events.run_id = self.run_id
            self.events("run.start", runbook=self.rb.name, params=self.params, dry_run=True,
                        steps=[s.id for s in self.rb.model.steps])
            return self._execute()
        data = {"runbook": self.rb.name, "file": str(self.rb.path), "digest": self.rb.digest,
                "params": self.params, "inventory": str(self.ws.inventory_dir), "platform": self.ws.platform,
                "force": sorted(self.opts.force)}
        with self.ws.state.lock(f"runbook:{self.rb.name}", purpose=f"runbook {self.rb.name}"):
            self.run_id = self.ws.state.journal_start(KIND, self.rb.name, [s.id for s in self.rb.model.steps], data)
            self.events.run_id = self.run_id
            self.ws.state.audit("runbook.start", self.rb.name, "started", run_id=self.run_id, params=self.params,
                                force=sorted(self.opts.force))
            self.events("run.start", runbook=self.rb.name, params=self.params, dry_run=False,
                        steps=[s.id for s in self.rb.model.steps])
            return self._guarded()

    def resume(self, run_id: str) -> RunOutcome:
        run = self.ws.state.journal_run(run_id)
        if run is None or run["kind"] != KIND:
            raise PermanentError(f"no runbook run '{run_id}' in the journal")
        if run["status"] not in RESUMABLE:
            raise PermanentError(f"run {run_id} is {run['status']}; only a run that is "
                                 f"{', '.join(RESUMABLE)} can be resumed")
        with self.ws.state.lock(f"runbook:{self.rb.name}", purpose=f"runbook {self.rb.name} resume {run_id}"):
            self.run_id = run_id
            self.events.run_id = run_id
            self.params = dict(run["data"].get("params", {}))
            self.opts.force = self.opts.force | frozenset(run["data"].get("force", []))
            self.items = {i.item: i for i in self.ws.state.journal_items(run_id)}
            self.in_flight = {k for k, i in self.items.items() if i.status == "running"}
            if run["data"].get("digest") != self.rb.digest:
                self.events("run.note", text=f"the runbook file changed since run {run_id} started; steps are "
                                             "matched by id")
            was = run["status"]
            resumed = int(run["data"].get("resumed", 0)) + 1
            self.ws.state.journal_finish(run_id, "running", {**run["data"], "resumed": resumed})
            self.ws.state.audit("runbook.resume", self.rb.name, "started", run_id=run_id, was=was)
            done = [k for k, i in self.items.items() if i.status in ("done", "skipped")]
            self.events("run.start", runbook=self.rb.name, params=self.params, dry_run=False, resumed=True,
                        was=was, finished_items=done, steps=[s.id for s in self.rb.model.steps])
            return self._guarded()

    # ----- the run ------------------------------------------------------------------------------
    def _guarded(self) -> RunOutcome:
        state = self.ws.state
        try:
            outcome = self._execute()
        except BaseException as exc:
            status = ("paused" if isinstance(exc, RunPaused) else
                      "aborted" if isinstance(exc, Aborted) and self._aborted() else
                      "refused" if isinstance(exc, GuardrailRefused | LockHeld | Aborted) else
                      "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
            run = state.journal_run(self.run_id) or {"data": {}}
            state.journal_finish(self.run_id, status, {**run["data"], "error": redact(str(exc))})
            state.audit("runbook.finish", self.rb.name, status, run_id=self.run_id, error=redact(str(exc)))
            self.events("run.finish", status=status, error=redact(str(exc)), exit_code=getattr(exc, "exit_code", 1))
            raise
        run = state.journal_run(self.run_id) or {"data": {}}
        state.journal_finish(self.run_id, "done", {**run["data"], "outputs": outcome.outputs})
        state.audit("runbook.finish", self.rb.name, "ok", run_id=self.run_id, outputs=outcome.outputs)
        return outcome

    def _execute(self) -> RunOutcome:
        for step in self.rb.model.steps:
            self._check_aborted()
            self._step(step)
        outputs = render_value(self.rb.model.outputs, self._template_context(), "outputs")
        status = "dry-run" if self.opts.dry_run else "done"
        self.events("run.finish", status=status, outputs=outputs, exit_code=0)
        return RunOutcome(self.run_id, status, outputs, self.steps)

    def _template_context(self, **extra: Any) -> dict[str, Any]:
        c = self.ws.compiled
        inventory = {
            "regions": {n: {"max_rps": r.capacity.max_rps, "failover_secondary": r.failover_secondary}
                        for n, r in c.regions.items()},
            "policies": {n: {"routing": p.routing, "weights": dict(p.weights or {})} for n, p in c.policies.items()},
            "failover": c.failover.model_dump(), "slo": c.slo.model_dump(),
            "pops": {r.name: dict(r.spec) for r in c.resources if r.type == "cdn.pop"},
            "pop_list": [{"name": r.name, "region": r.spec.get("region")} for r in c.resources if r.type == "cdn.pop"],
            "endpoints": sorted({e for r in c.regions.values() for e in r.endpoints}),
        }
        return {"params": self.params, "steps": self.steps, "inventory": inventory,
                "run": {"id": self.run_id, "dry_run": self.opts.dry_run, "runbook": self.rb.name},
                **functions(self.ws), **extra}

    def _preflight(self, ctx: Mapping[str, Any]) -> None:
        """Refuse, before anything runs (a dry run too), a run with steps that would change nothing real:
        what they change is served here only by the sim platform (or by nothing). Optional steps are
        skipped when they come (``skipped: ...; nothing changed``) instead."""
        problems = []
        for step in self.rb.model.steps:
            if step.optional:
                continue
            if step.when is not None:
                try:
                    if not truthy(step.when, ctx, f"{step.id}.when"):
                        continue
                except Exception:  # depends on earlier steps (or live state): it may run
                    pass
            try:
                args = render_value(step.with_, ctx, f"{step.id}.with")
            except Exception:  # depends on earlier steps or the item: judge by the arguments given
                args = step.with_
            args = {k.replace("-", "_"): v for k, v in dict(args).items()}
            reasons, _ = unserved(self.ws, actions.get(step.action), args)
            problems += [f"step {step.id} ({step.action}): {r}" for r in reasons]
        if problems:
            raise PreconditionFailed(
                f"runbook {self.rb.name} would report steps done that change nothing real on this inventory "
                f"({self.ws.inventory_dir}); nothing was run:\n" + "\n".join(f"  {p}" for p in problems)
                + "\nrehearse with --platform sim, or mark such a step `optional: true` in the runbook to skip it")

    # ----- steps --------------------------------------------------------------------------------
    def _step(self, step: Step) -> None:
        key = step.id
        prev = self.items.get(key)
        if prev is not None and prev.status in ("done", "skipped"):
            self.steps[key] = {"status": prev.status, "outputs": prev.data.get("outputs", {})}
            self.events("step.reuse", step=key, status=prev.status, title=self._title(step, self._template_context()))
            return
        ctx = self._template_context()
        if step.when is not None and not truthy(step.when, ctx, f"{key}.when"):
            self._mark(key, "skipped", {"reason": f"when: {step.when}"})
            self.steps[key] = {"status": "skipped", "outputs": {}}
            self.events("step.skip", step=key, title=self._title(step, ctx), reason=f"when: {step.when}")
            return
        title = self._title(step, ctx)
        approval = self._approve(step, key, ctx)
        if step.for_each is None:
            out = self._unit(step, key, ctx, approval, title=title)
            self.steps[key] = {"status": "skipped" if SKIPPED in out else "done", "outputs": out}
            return
        values = render_value(step.for_each, ctx, f"{key}.for_each")
        if not isinstance(values, list):
            raise PermanentError(f"step {key}: for_each must give a list, not {type(values).__name__}")
        interval = render_duration(step.interval, ctx, f"{key}.interval") if step.interval is not None else 0.0
        names = [f"{key}[{i}]" for i in range(len(values))]
        self._mark(key, "running", {**approval, "count": len(values)})
        missing = [n for n in names if n not in self.items]
        if missing and not self.opts.dry_run:
            self.ws.state.journal_add_items(self.run_id, missing)
            for ji in self.ws.state.journal_items(self.run_id):
                self.items.setdefault(ji.item, ji)
        results: list[Any] = []
        for i, (name, value) in enumerate(zip(names, values, strict=True)):
            item = self.items.get(name)
            if item is not None and item.status == "done":
                results.append(item.data.get("outputs", {}))
                self.events("step.reuse", step=name, status="done", title=f"{title} ({i + 1}/{len(values)})")
                continue
            if i > 0 and interval > 0:
                prev_item = self.items.get(names[i - 1])
                waited = _seconds_since(prev_item.finished_at) if prev_item is not None else 0.0
                self._sleep(name, max(0.0, interval - waited), f"interval before {title} "
                                                                 f"({i + 1}/{len(values)})")
            sub_ctx = {**self._template_context(), "item": value, "index": i}
            results.append(self._unit(step, name, sub_ctx, {}, title=f"{title} ({i + 1}/{len(values)})"))
        out = {"items": results, "last": results[-1] if results else {}}
        status = "skipped" if results and all(SKIPPED in r for r in results) else "done"
        self._mark(key, status, {**approval, "count": len(values), "outputs": out})
        self.steps[key] = {"status": status, "outputs": out}

    def _title(self, step: Step, ctx: Mapping[str, Any]) -> str:
        try:
            return str(render_value(step.title, ctx, f"{step.id}.name"))
        except PermanentError:
            return step.title

    def _unit(self, step: Step, key: str, ctx: Mapping[str, Any], approval: Mapping[str, Any],
              title: str | None = None) -> dict[str, Any]:
        title = title or self._title(step, ctx)
        args = render_value(step.with_, ctx, f"{key}.with")
        args = {k.replace("-", "_"): v for k, v in args.items()}
        fn = actions.get(step.action)
        actx = ActionContext(self.ws, self.rb.name, self.run_id, key, self.opts.dry_run,
                             self.opts.force | frozenset(step.force), self.events, self.rb.directory,
                             self.artifacts / (self.run_id or "dry-run"), optional=step.optional)
        prev = self.items.get(key)
        attempts_before = int(prev.data.get("attempts", 0)) if prev is not None else 0
        base = {**approval, "inputs": args, "action": step.action}
        reasons, only = unserved(self.ws, fn, args)
        if reasons and not step.optional:  # the preflight refuses these; a resumed older run may still get here
            msg = f"step {key} ({step.action}): " + "; ".join(reasons) + "; nothing was changed"
            self._mark(key, "failed", {**base, "attempts": attempts_before, "error": msg})
            self._audit("runbook.step", key, "failed", error=msg)
            self.events("step.fail", step=key, title=title, status="failed", error=msg)
            raise PermanentError(msg)
        if reasons and only:
            why = "skipped: " + "; ".join(reasons) + "; nothing changed"
            self._mark(key, "skipped", {**base, "reason": why})
            self._audit("runbook.step", key, "skipped", reason=why)
            self.events("step.skip", step=key, title=title, reason=why)
            return {SKIPPED: why, "changed": "nothing (skipped)"}
        if prev is not None and key in self.in_flight and not self.opts.dry_run:
            self.in_flight.discard(key)
            check = getattr(fn, "check", None)
            found = check(actx, **args) if check is not None else None
            if found is not None:
                self._mark(key, "done", {**base, "attempts": attempts_before, "outputs": found,
                                         "note": "in flight when the run stopped; its check found it done"})
                self.events("step.done", step=key, title=title, outputs=found, rechecked=True)
                return dict(found)
            self.events("step.note", step=key, text="was in flight when the run stopped; running it again "
                                                    "(actions are idempotent)")
        retry = step.retry
        for attempt in range(1, retry.attempts + 1):
            n = attempts_before + attempt
            self._mark(key, "running", {**base, "attempts": n, "who": whoami(), "pid": os.getpid()})
            self._audit("runbook.step", key, "started", attempt=n, step_action=step.action)
            self.events("step.start", step=key, title=title, action=step.action, inputs=args, attempt=n,
                        dry_run=self.opts.dry_run)
            try:
                out = dict(fn(actx, **args) or {})
                self._wait(step, key, {**ctx, "result": out})
            except NOT_RETRIED as exc:
                status = "paused" if isinstance(exc, RunPaused) else "refused" if not isinstance(
                    exc, InputError) else "failed"
                self._mark(key, status, {**base, "attempts": n, "error": redact(str(exc))})
                self._audit("runbook.step", key, status, error=redact(str(exc)))
                self.events("step.fail", step=key, title=title, status=status, error=redact(str(exc)))
                raise
            except Exception as exc:
                if attempt < retry.attempts and not isinstance(exc, PermanentError):  # permanent: retrying won't help
                    delay = render_duration(retry.delay, ctx, f"{key}.retries.delay")
                    self.events("step.retry", step=key, title=title, attempt=n, error=redact(str(exc)), delay=delay)
                    time.sleep(delay)
                    continue
                self._mark(key, "failed", {**base, "attempts": n, "error": redact(str(exc))})
                self._audit("runbook.step", key, "failed", error=redact(str(exc)))
                self.events("step.fail", step=key, title=title, status="failed", error=redact(str(exc)))
                self._compensate(step, key, ctx, exc)
                if isinstance(exc, StreamverseError):
                    raise
                raise StepFailed(f"step {key} ({step.action}) failed: {type(exc).__name__}: {exc}") from exc
            self._mark(key, "done", {**base, "attempts": n, "who": whoami(), "outputs": out})
            self._audit("runbook.step", key, "done", attempt=n)
            self.events("step.done", step=key, title=title, outputs=out, dry_run=self.opts.dry_run)
            return out
        raise AssertionError("unreachable")

    def _compensate(self, step: Step, key: str, ctx: Mapping[str, Any], exc: BaseException) -> None:
        if not step.on_failure:
            return
        names = [f"{key}/on_failure/{c.id}" for c in step.on_failure]
        missing = [n for n in names if n not in self.items]
        if missing and not self.opts.dry_run:
            self.ws.state.journal_add_items(self.run_id, missing)
            for i in self.ws.state.journal_items(self.run_id):
                self.items.setdefault(i.item, i)
        for c, name in zip(step.on_failure, names, strict=True):
            if (item := self.items.get(name)) is not None and item.status == "done":
                continue
            try:
                self._unit(c, name, {**ctx, "error": redact(str(exc))}, {}, title=f"undo: {c.title}")
            except Exception as undo_exc:  # keep compensating; the original failure is what is raised
                self.events("step.note", step=name, text=f"compensating step failed: {undo_exc}")

    def _wait(self, step: Step, key: str, ctx: Mapping[str, Any]) -> None:
        w = step.wait_until
        if w is None:
            return
        try:
            what = str(render_value(w.description, ctx, f"{key}.wait_until.description")) or w.condition
        except PermanentError:
            what = w.description or w.condition
        if self.opts.dry_run:
            self.events("step.note", step=key, text=f"would wait until {what}")
            return
        timeout = render_duration(w.timeout, ctx, f"{key}.wait_until.timeout")
        poll = max(0.05, render_duration(w.poll, ctx, f"{key}.wait_until.poll"))
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        while True:
            if truthy(w.condition, {**ctx, **functions(self.ws)}, f"{key}.wait_until"):
                self.events("step.note", step=key, text=f"condition met after {time.monotonic() - started:.1f} s: "
                                                        f"{what}")
                return
            if time.monotonic() >= deadline:
                msg = f"step {key}: not true after {timeout:g} s: {what}"
                if w.on_timeout == "pause":
                    raise RunPaused(msg + f"; the run is paused (fix it, then: streamverse ctl runbook resume "
                                          f"{self.run_id})")
                raise StepFailed(msg)
            self.events("step.wait", step=key, text=what, remaining=round(deadline - time.monotonic(), 1))
            self._check_aborted()
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    def _sleep(self, key: str, seconds: float, why: str) -> None:
        if seconds <= 0:
            return
        if self.opts.dry_run:
            self.events("step.note", step=key, text=f"would wait {seconds:g} s ({why})")
            return
        self.events("step.wait", step=key, text=why, remaining=round(seconds, 1))
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(1.0, left))
            self._check_aborted()
            self.events("step.wait", step=key, text=why, remaining=round(max(0.0, end - time.monotonic()), 1))

    # ----- approvals ----------------------------------------------------------------------------
    def _approve(self, step: Step, key: str, ctx: Mapping[str, Any]) -> dict[str, Any]:
        if not step.approve:
            return {}
        prev = self.items.get(key)
        if prev is not None and prev.data.get("approved_by"):
            return {k: prev.data[k] for k in ("approved_by", "approved_at", "approved_how") if k in prev.data}
        question = (str(render_value(step.approve, ctx, f"{key}.approve")) if isinstance(step.approve, str)
                    else f"Run step '{step.title}'?")
        if self.opts.dry_run:
            self.events("approval", step=key, question=question, result="would ask")
            return {}
        how = "--yes" if self.opts.approve_all else "--approve" if key in self.opts.approve else "prompt"
        approved = how != "prompt" or (self.opts.approver is not None and self.opts.approver(key, question))
        from ..state.store import now

        self.events("approval", step=key, question=question, result="approved" if approved else "refused", how=how)
        self._audit("runbook.approval", key, "approved" if approved else "refused", question=question, how=how)
        if not approved:
            self._mark(key, "refused", {"question": question, "refused_by": whoami(), "refused_at": now()})
            raise Aborted(f"approval for step '{key}' refused: run {self.run_id} stopped cleanly "
                          f"(to continue later: streamverse ctl runbook resume {self.run_id} --approve {key})")
        data = {"approved_by": whoami(), "approved_at": now(), "approved_how": how}
        self._mark(key, "running", {**data, "question": question})
        return data

    # ----- journal ------------------------------------------------------------------------------
    def _mark(self, key: str, status: str, data: dict[str, Any]) -> None:
        if self.opts.dry_run:
            return
        self.ws.state.journal_mark(self.run_id, key, status, data)
        self.items[key] = JournalItem(self.items[key].seq if key in self.items else -1, key, status,
                                      None, None, data)
        if status == "done":
            fresh = {i.item: i for i in self.ws.state.journal_items(self.run_id)}
            if key in fresh:
                self.items[key] = fresh[key]

    def _audit(self, what: str, key: str, result: str, **detail: Any) -> None:
        if not self.opts.dry_run:
            self.ws.state.audit(what, f"{self.rb.name}/{key}", result, run_id=self.run_id, **detail)

    def _aborted(self) -> bool:
        if self.opts.dry_run or not self.run_id:
            return False
        run = self.ws.state.journal_run(self.run_id)
        return run is not None and run["status"] == "aborted"

    def _check_aborted(self) -> None:
        if self._aborted():
            raise Aborted(f"run {self.run_id} was aborted (streamverse ctl runbook abort)")


def abort(ws: Workspace, run_id: str, reason: str = "") -> dict[str, Any]:
    """Mark a run aborted: a live run stops before its next step; a stopped one cannot be resumed."""
    run = ws.state.journal_run(run_id)
    if run is None or run["kind"] != KIND:
        raise PermanentError(f"no runbook run '{run_id}' in the journal")
    if run["status"] in ("done", "aborted"):
        raise PermanentError(f"run {run_id} is already {run['status']}")
    ws.state.journal_finish(run_id, "aborted", {**run["data"], "aborted_by": whoami(), "abort_reason": reason})
    ws.state.audit("runbook.abort", run["ref"], "ok", run_id=run_id, was=run["status"], reason=reason)
    return {"run_id": run_id, "was": run["status"], "status": "aborted"}


def runbook_path_of(ws: Workspace, run_id: str) -> Path:
    run = ws.state.journal_run(run_id)
    if run is None or run["kind"] != KIND:
        raise PermanentError(f"no runbook run '{run_id}' in the journal")
    return Path(run["data"]["file"])
