"""The reconciler: plan every interval and, when allowed, converge — the controller form of ``apply``.

Each iteration builds a fresh workspace, so edits to the inventory, overrides and failover state
are picked up. Changes are applied only with ``apply=True``, never with ``--force``: a plan a
guardrail refuses is reported and left for a human. Errors do not stop the loop; they are reported
and retried at the next interval (a held lock simply waits for the next turn).

Replicas: with an :class:`~.leader.Elector`, only the holder of the lease converges; the others
plan and report ("follower; leader is X since T"). A hook (``after``) runs at the end of every
iteration with the open workspace: the CLI uses it for automatic remediation (a runbook-layer
concern this layer may not import).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import LockHeld, StreamverseError
from ..core.secrets import redact
from .apply import apply_plan
from .leader import Elector
from .workspace import Workspace

Hook = Callable[[Workspace, "Tick"], None]


@dataclass
class Tick:
    """What one iteration saw and did."""

    iteration: int
    at: str
    status: str  # in-sync | pending | applied | refused | locked | error
    changes: int = 0
    drift: int = 0
    applied: int = 0
    detail: str = ""
    refusals: list[str] = field(default_factory=list)
    role: str = ""  # leader | follower ('' without leader election)
    leader: str = ""  # the lease holder, as this replica sees it
    remediation: list[dict[str, Any]] = field(default_factory=list)  # what the remediation hook saw and did
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def reconcile(inventory: str | Path, *, state_dir: str | Path | None = None, variables: Mapping[str, str] | None = None,
              platform: str | None = None, apply: bool = False, interval: float = 60.0, iterations: int = 0,
              stop: Callable[[], bool] = lambda: False, elector: Elector | None = None,
              after: Hook | None = None) -> Iterator[Tick]:
    """Yield one :class:`Tick` per iteration; ``iterations`` 0 runs until ``stop()`` says so."""
    n = 0
    while True:
        n += 1
        yield _once(n, inventory, state_dir, variables, platform, apply, elector, after)
        if (iterations and n >= iterations) or stop():
            return
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline:
            if stop():
                return
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _once(n: int, inventory: str | Path, state_dir: str | Path | None, variables: Mapping[str, str] | None,
          platform: str | None, apply: bool, elector: Elector | None = None, after: Hook | None = None) -> Tick:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    status = elector.status() if elector is not None else None
    writer = apply and (status is None or status.leader)
    ws = Workspace(inventory, state_dir=state_dir, variables=variables, platform=platform)
    try:
        tick = _converge(n, at, ws, writer, audit=status is None or status.leader)
        if status is not None:
            tick.role, tick.leader = ("leader" if status.leader else "follower"), status.holder
            if not status.leader:
                tick.detail = status.describe() + (f"; {tick.detail}" if tick.detail else "")
        if after is not None and tick.status != "error":
            try:
                after(ws, tick)
            except StreamverseError as exc:
                tick.remediation.append({"action": "error", "detail": redact(str(exc))})
    finally:
        ws.close()
    tick.seconds = round(time.monotonic() - started, 3)
    return tick


def _converge(n: int, at: str, ws: Workspace, apply: bool, audit: bool = True) -> Tick:
    try:
        # converging: plan under the lock, so a failover or override written meanwhile is never undone
        with ws.locked("reconcile", timeout=0.0) if apply else nullcontext():
            plan = ws.plan()
            drift = len(ws.drift())
            tick = Tick(n, at, "in-sync" if plan.empty else "pending", len(plan.changes), drift)
            if plan.empty:
                return tick
            if plan.refusals:
                tick.status, tick.refusals = "refused", [f"[{r.name}] {r.message}" for r in plan.refusals]
                if audit:  # a follower reports; only the leader audits (once, not once per replica)
                    ws.state.audit("reconcile", plan.id, "refused", refusals=tick.refusals)
                return tick
            if apply:
                result = apply_plan(ws, plan, purpose="reconcile", lock_timeout=0.0)
                tick.status, tick.applied = "applied", result.applied
                bad = [v.resource_id for v in result.verify if not v.ok]
                if bad:
                    tick.status, tick.detail = "error", f"{len(bad)} resource(s) did not converge: {', '.join(bad[:3])}"
            return tick
    except LockHeld as exc:
        return Tick(n, at, "locked", detail=str(exc))
    except StreamverseError as exc:
        return Tick(n, at, "error", detail=redact(str(exc)))
