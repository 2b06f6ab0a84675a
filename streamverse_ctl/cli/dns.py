"""``streamverse ctl dns``: one-off DNS changes and verification against the authoritative servers."""

from __future__ import annotations

from typing import Annotated

import typer

from .apply import AutoApproveOpt, ForceOpt, LockTimeoutOpt, check_force, confirm_and_apply
from .common import (
    DEFAULT_INVENTORY,
    InventoryOpt,
    Output,
    OutputOpt,
    PlatformOpt,
    StateDirOpt,
    VarOpt,
    console,
    emit,
    simple_table,
    workspace,
)

app = typer.Typer(help="DNS traffic steering: set weights, list overrides, verify answers, query.",
                  no_args_is_help=True)


@app.command("set-weights")
def set_weights(
    policy: Annotated[str, typer.Argument(help="TrafficPolicy name")],
    weights: Annotated[list[str], typer.Argument(help="REGION=WEIGHT ... (regions not named keep theirs)")],
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why (kept in the audit log and shown by plan).")] = "",
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, auto_approve: AutoApproveOpt = False, force: ForceOpt = None,
    lock_timeout: LockTimeoutOpt = 0.0, output: OutputOpt = Output.table,
) -> None:
    """Change a weighted policy's weights now, through plan, guardrails, lock, journal and audit.

    The change is recorded as a deliberate override: later plans show it (with who, when and why)
    instead of reverting it as drift, until `dns clear-override POLICY`.
    """
    from ..engine.operations import persist_pending, stage_override, weights_merge

    parsed: dict[str, int] = {}
    for pair in weights:
        region, sep, value = pair.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            raise typer.BadParameter(f"'{pair}' is not REGION=WEIGHT (an integer)")
        parsed[region.strip()] = int(value)
    forced = check_force(force)
    ws = workspace(inventory, state_dir, var, platform)
    try:
        stage_override(ws, "TrafficPolicy", policy, weights_merge(ws, policy, parsed),
                       reason or "dns set-weights")
        plan = ws.plan([f"TrafficPolicy/{policy}"], force=forced)
        confirm_and_apply(ws, plan, saved=False, force=forced, auto_approve=auto_approve, lock_timeout=lock_timeout,
                          output=output, purpose=f"dns set-weights {policy}", before_write=lambda: persist_pending(ws))
    finally:
        ws.close()


@app.command("clear-override")
def clear_override(
    policy: Annotated[str, typer.Argument(help="TrafficPolicy name")],
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
) -> None:
    """Forget a set-weights override: the next plan/apply returns to the inventory's weights."""
    from ..engine.operations import clear_override as clear

    ws = workspace(inventory, state_dir)
    try:
        found = clear(ws, "TrafficPolicy", policy)
    finally:
        ws.close()
    console().print(f"override of TrafficPolicy/{policy} cleared; run plan/apply to converge" if found
                    else f"no override of TrafficPolicy/{policy}")


@app.command("overrides")
def overrides(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
              output: OutputOpt = Output.table) -> None:
    """Deliberate overrides in force (set-weights, runbook actions)."""
    ws = workspace(inventory, state_dir)
    try:
        items = ws.state.overrides()
    finally:
        ws.close()
    emit(items, output, lambda: simple_table("Overrides", ["target", "change", "who", "at", "reason"],
                                             [[f"{o['kind']}/{o['name']}", o["merge"], o["who"], o["at"], o["reason"]]
                                              for o in items]))
