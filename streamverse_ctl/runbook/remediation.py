"""Automatic remediation: ``FailoverPolicy.mode: automatic`` read by the controller.

Called at the end of every reconcile iteration with that iteration's workspace. Each region's
health (``Workspace.health``: provider health checks, the sim platform, the SLO's Prometheus) is
one *observation*; the consecutive counts live in the state backend (``controller`` table), so a
restarted or another replica continues them instead of starting again.

When a serving region has been unhealthy for ``unhealthyObservations`` observations in a row:
- ``mode: automatic`` and this replica holds the lease: run the ``regional-failover`` runbook
  (the same runbook, journal, locks and guardrails as ``streamverse ctl failover``; nothing is
  forced beyond what the runbook's own steps declare, so a capacity or min-regions refusal stops
  it), at most one region per ``cooldown``, audited (``remediation.failover``) and notified
  (STREAMVERSE_WEBHOOK_URL);
- ``mode: manual``, or a follower: report what would be done, change nothing.

No ping-pong: one healthy observation resets the count; a drained region is never failed over
again; a failover that is running (its runbook lock is held) or was interrupted is left to finish
or to a human (``runbook resume``), never started twice. Failback of a drained region that has
been healthy for N observations is automatic only with ``autoFailback`` (the gradual
``regional-failback`` runbook, with its health gates); otherwise it is reported for a human.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import GuardrailRefused, LockHeld, StreamverseError
from ..core.secrets import redact
from ..engine.workspace import Workspace
from ..inventory.models import parse_duration
from .errors import PreconditionFailed, RunPaused

FAILOVER, FAILBACK = "regional-failover", "regional-failback"
LAST = "remediation:last"
Sink = Callable[[dict[str, Any]], None]


def observe(ws: Workspace, leader: bool) -> dict[str, dict[str, Any]]:
    """Region -> {unhealthy, healthy} consecutive observations, counted by the leader (capped at N,
    so a steady state writes nothing) and read as they are by a follower."""
    n = ws.compiled.failover.unhealthy_observations
    health = ws.health()
    state = ws.state
    out: dict[str, dict[str, Any]] = {}
    for region in ws.compiled.regions:
        key = f"observe:{region}"
        prev = state.controller_get(key) or {"unhealthy": 0, "healthy": 0}
        cur = dict(prev)
        if leader:
            ok = health.get(region, True)
            cur = {"unhealthy": 0 if ok else min(int(prev["unhealthy"]) + 1, n),
                   "healthy": min(int(prev["healthy"]) + 1, n) if ok else 0}
            if cur != prev:
                state.controller_put(key, cur)
        out[region] = {**cur, "ok": health.get(region, True)}
    return out


def remediate(ws: Workspace, *, leader: bool, act: bool | None = None, runbooks: Sequence[Path] = (),
              sink: Sink | None = None, clock: Callable[[], float] = time.time) -> list[dict[str, Any]]:
    """Observe, decide and (automatic mode, ``act``: the leader with --apply) act; what was seen and
    done, for the tick. ``leader``: this replica counts the observations (writes them)."""
    act = leader if act is None else act
    policy = ws.compiled.failover
    n = policy.unhealthy_observations
    seen = observe(ws, leader)
    drained = ws.drained()
    out: list[dict[str, Any]] = []
    down = sorted((r for r, o in seen.items() if r not in drained and o["unhealthy"] >= n),
                  key=lambda r: (-seen[r]["unhealthy"], r))
    back = sorted(r for r, o in seen.items() if r in drained and o["healthy"] >= n and o["ok"])
    for r, o in seen.items():
        if not o["ok"] and r not in drained and o["unhealthy"] < n:
            out.append({"action": "observe", "region": r, "observations": o["unhealthy"],
                        "detail": f"{r} unhealthy ({o['unhealthy']}/{n} observations)"})
    wanted = [("failover", r) for r in down] + [("failback", r) for r in back]
    if not wanted:
        return out
    busy = _in_progress(ws)
    last = ws.state.controller_get(LAST)
    cooldown = parse_duration(policy.cooldown)
    acted = False
    for action, region in wanted:
        item: dict[str, Any] = {"action": action, "region": region, "observations":
                                seen[region]["unhealthy" if action == "failover" else "healthy"]}
        why = (f"{region} unhealthy for {item['observations']}/{n} observations" if action == "failover"
               else f"{region} drained and healthy for {item['observations']}/{n} observations")
        if action == "failback" and not policy.auto_failback:
            out.append({**item, "result": "human", "detail": f"{why}: failback stays a human decision "
                        f"(streamverse ctl failback {region}; or FailoverPolicy autoFailback: true)"})
            continue
        if policy.mode != "automatic":
            out.append({**item, "result": "would", "detail": f"{why}: mode manual, would run "
                        f"{_runbook(action)} for {region} (streamverse ctl {action} {region})"})
            continue
        if not leader:
            out.append({**item, "result": "would", "detail": f"{why}: the leader runs {_runbook(action)}"})
            continue
        if not act:
            out.append({**item, "result": "would", "detail": f"{why}: would run {_runbook(action)} for {region} "
                        "(reconcile without --apply changes nothing)"})
            continue
        if busy:
            out.append({**item, "result": "waiting", "detail": f"{why}: {busy}"})
            continue
        if acted:
            out.append({**item, "result": "waiting", "detail": f"{why}: one remediation per iteration"})
            continue
        if last is not None and clock() - float(last["at_epoch"]) < cooldown:
            left = cooldown - (clock() - float(last["at_epoch"]))
            out.append({**item, "result": "cooldown", "detail": f"{why}: cooldown {policy.cooldown} after the "
                        f"{last['action']} of {last['region']} ({left:.0f} s left)"})
            continue
        acted = True
        out.append(_run(ws, action, region, why, item, runbooks, sink, clock))
    return out


def _runbook(action: str) -> str:
    return FAILOVER if action == "failover" else FAILBACK


def _in_progress(ws: Workspace) -> str:
    """Why no remediation may start now ('' when one may): a failover or failback that is running
    (its runbook lock is held) or was interrupted and is left for a human to resume."""
    for name in (FAILOVER, FAILBACK):
        held = ws.state.lock_info(f"runbook:{name}")
        if held is not None:
            return f"runbook {name} is running ({held.owner}@{held.host}, pid {held.pid}, since {held.acquired_at})"
    for run in ws.state.journal_runs("runbook", limit=20):
        if run["ref"] in (FAILOVER, FAILBACK) and run["status"] in ("running", "interrupted", "paused"):
            return (f"run {run['id']} of {run['ref']} is {run['status']}: a human resumes or aborts it "
                    f"(streamverse ctl runbook resume {run['id']})")
    return ""


def _run(ws: Workspace, action: str, region: str, why: str, item: dict[str, Any], runbooks: Sequence[Path],
         sink: Sink | None, clock: Callable[[], float]) -> dict[str, Any]:
    from . import loader
    from .engine import Runner, RunOptions
    from .events import Events

    name = _runbook(action)
    params: dict[str, Any] = {"from": region} if action == "failover" else {"region": region}
    audit_action = f"remediation.{action}"
    ws.state.audit(audit_action, region, "started", runbook=name, reason=why, mode="automatic", params=params)
    events = Events([sink] if sink is not None else [])
    # approval: the FailoverPolicy's mode automatic is the standing approval; guardrails are not forced
    runner = Runner(ws, loader.load(loader.find(name, list(runbooks))), RunOptions(approve_all=True), events)
    result, detail = "ok", ""
    try:
        outcome = runner.start(params)
        detail = f"{why}: {name} run {outcome.run_id} {outcome.status}"
    except GuardrailRefused as exc:
        result, detail = "refused", f"{why}: {name} refused by a guardrail, nothing forced: {redact(str(exc))}"
    except PreconditionFailed as exc:
        result, detail = "refused", f"{why}: {name} not started: {redact(str(exc))}"
    except RunPaused as exc:
        result, detail = "paused", f"{why}: {name} paused, a human resumes it: {redact(str(exc))}"
    except LockHeld as exc:
        result, detail = "waiting", f"{why}: {redact(str(exc))}"
    except StreamverseError as exc:
        result, detail = "failed", f"{why}: {name} failed: {redact(str(exc))}"
    run_id = runner.run_id
    if result in ("ok", "failed", "paused"):  # something may have changed: the cooldown starts
        ws.state.controller_put(LAST, {"action": action, "region": region, "at_epoch": clock(), "run_id": run_id,
                                       "result": result})
    ws.state.audit(audit_action, region, result, runbook=name, run_id=run_id, detail=detail)
    _notify(ws, f"streamverse controller: automatic {action} of {region}: {result} ({detail})",
            {"action": action, "region": region, "result": result, "run_id": run_id})
    return {**item, "result": result, "run_id": run_id, "detail": detail}


def _notify(ws: Workspace, text: str, data: dict[str, Any]) -> None:
    url = os.environ.get("STREAMVERSE_WEBHOOK_URL")
    if not url:
        return
    from ..providers.webhook import post_json

    try:
        status = post_json(url, {"text": text, "data": data})
        ws.state.audit("notify", url, "ok", status=status, about="remediation")
    except Exception as exc:  # a notification that fails never stops the controller
        ws.state.audit("notify", url, "failed", error=redact(str(exc)), about="remediation")
