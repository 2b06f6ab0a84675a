from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, Output, OutputOpt, PlatformOpt, StateDirOpt, VarOpt, workspace
from .selector import SelectorOpt

if TYPE_CHECKING:
    from ..engine.apply import ApplyResult
    from ..engine.plan import Plan
    from ..engine.workspace import Workspace

ForceOpt = Annotated[list[str] | None, typer.Option(
    "--force", metavar="GUARDRAIL", help="Override one named guardrail: change-size, min-regions, unhealthy-region, "
    "adopt, foreign-state (repeatable; zero-serving cannot be overridden).")]
AutoApproveOpt = Annotated[bool, typer.Option("--auto-approve", "--yes", "-y", help="Do not ask for confirmation.")]
LockTimeoutOpt = Annotated[float, typer.Option("--lock-timeout", metavar="SECONDS",
    help="Seconds to wait for the lock.")]


def check_force(force: list[str] | None) -> list[str]:
    from ..engine.guardrails import FORCEABLE, UNFORCEABLE

    for name in force or []:
        if name in UNFORCEABLE:
            raise typer.BadParameter(f"'{name}' is an invariant and cannot be forced", param_hint="--force")
        if name not in FORCEABLE:
            raise typer.BadParameter(f"unknown guardrail '{name}' (one of: {', '.join(FORCEABLE)})",
                                     param_hint="--force")
    return list(force or [])


def confirm_and_apply(ws: Workspace, plan: Plan, *, saved: bool, force: list[str], auto_approve: bool,
                      lock_timeout: float, output: Output, purpose: str = "apply",
                      before_write: Callable[[], None] | None = None) -> ApplyResult | None:
    """Shared by ``apply`` and one-off verbs (``dns set-weights``): show, confirm, apply, report."""
    from ..core.errors import Aborted, GuardrailRefused, ProviderError
    from ..engine.apply import apply_plan
    from .common import emit, interactive
    from .progress import RichReporter
    from .render import plan_table

    if output == Output.table:
        plan_table(plan)
    if plan.refusals and not {r.name for r in plan.refusals} <= set(force):
        refused = [r for r in plan.refusals if r.name not in force]
        ws.state.audit("apply", plan.id, "refused", purpose=purpose,
                       refusals=[f"[{r.name}] {r.message}" for r in refused], forced=sorted(force))
        raise GuardrailRefused(refused)
    if plan.empty and before_write is None and not saved:
        # nothing to write (a saved plan still goes through the re-check under the lock)
        emit({"plan_id": plan.id, "run_id": "", "applied": 0, "verified": True, "verify": [], "resumed_from": []},
             output, lambda: None)  # the table view already said "No changes"
        return None
    if not auto_approve and not plan.empty:
        if not interactive():
            raise Aborted("confirmation needed: rerun with --auto-approve (no terminal to ask on)")
        if not typer.confirm(f"Apply these {len(plan.changes)} changes?", default=False):
            raise Aborted("apply cancelled; nothing was changed")
    with RichReporter(enabled=output == Output.table) as rep:
        result = apply_plan(ws, plan, saved=saved, force=force, lock_timeout=lock_timeout,
                            reporter=rep, purpose=purpose, before_write=before_write)
    data = {"plan_id": plan.id, "run_id": result.run_id, "applied": result.applied, "verified": result.verified,
            "verify": [v.__dict__ for v in result.verify], "resumed_from": result.resumed_from}

    def table() -> None:
        print_applied(result)

    emit(data, output, table)
    if not result.verified:
        bad = [v.resource_id for v in result.verify if not v.ok]
        raise ProviderError(f"applied {result.applied} change(s), but {len(bad)} resource(s) did not converge: "
                            + ", ".join(bad[:5]) + (" …" if len(bad) > 5 else ""))
    return result


def command(
    planfile: Annotated[Path | None, typer.Argument(help="A plan saved by `plan --out`; default: plan now.")] = None,
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    state_dir: StateDirOpt = None,
    var: VarOpt = None,
    platform: PlatformOpt = None,
    target: Annotated[list[str] | None, typer.Option("--target", metavar="KIND/NAME", help="As for plan.")] = None,
    selector: SelectorOpt = None,
    auto_approve: AutoApproveOpt = False,
    force: ForceOpt = None,
    lock_timeout: LockTimeoutOpt = 0.0,
    output: OutputOpt = Output.table,
) -> None:
    """Converge actual state to the inventory, behind the lock and guardrails, journaled and audited.

    Example: streamverse ctl apply plan.json
    """
    from ..engine.plan import Plan
    from . import selector as sel

    forced = check_force(force)
    if planfile is not None and selector:
        raise typer.BadParameter("a saved plan carries its own selection: give --selector to `plan --out`, "
                                 "not to `apply PLANFILE`", param_hint=sel.PARAM)
    ws = workspace(inventory, state_dir, var, platform)
    try:
        if planfile is not None:
            plan = Plan.load(planfile)
            if plan.platform and platform is None:
                ws.platform = plan.platform
            # shown from the file; under the lock it must be exactly what the state gives now
            confirm_and_apply(ws, plan, saved=True, force=forced, auto_approve=auto_approve,
                              lock_timeout=lock_timeout, output=output)
        else:
            # lock first, then plan (as Terraform does): a waiter plans from what the holder left
            with ws.locked("apply", timeout=lock_timeout):
                plan = ws.plan(sel.targets(ws.inventory, selector, target), force=forced)
                confirm_and_apply(ws, plan, saved=False, force=forced, auto_approve=auto_approve,
                                  lock_timeout=lock_timeout, output=output)
    finally:
        ws.close()


def print_applied(result: Any) -> None:
    """An apply's outcome for people: the changes applied (and the run), what verified, what did not."""
    from .common import console

    con = console()
    con.print(f"[green]Applied {result.applied} change(s)[/]" + (f" (run {result.run_id})." if result.run_id
                                                                else "."))
    bad = [v for v in result.verify if not v.ok]
    if result.verify:
        slowest = max(v.seconds for v in result.verify)
        con.print(f"Verified {len(result.verify) - len(bad)}/{len(result.verify)} resources"
                  f" (slowest converged in {slowest:.1f} s).")
    for v in bad:
        con.print(f"[red]not converged[/] {v.resource_id}: {v.detail}")
