from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, PlatformOpt, StateDirOpt, VarOpt, emit, workspace
from .selector import SelectorOpt


class PlanOutput(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"
    markdown = "markdown"


def command(
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    state_dir: StateDirOpt = None,
    var: VarOpt = None,
    platform: PlatformOpt = None,
    output: Annotated[PlanOutput, typer.Option("--output", "-o", help="table, json, yaml or markdown")] =
        PlanOutput.table,
    out: Annotated[Path | None, typer.Option("--out", metavar="FILE",
        help="Save the plan to FILE for `apply FILE`.")] = None,
    target: Annotated[list[str] | None, typer.Option(
        "--target", metavar="KIND/NAME",
        help="Only this inventory document (Kind/name) or resource id; globs ok; repeatable.")] = None,
    selector: SelectorOpt = None,
    detailed_exitcode: Annotated[bool, typer.Option(
        "--detailed-exitcode", help="Exit 0 with no changes, 2 with changes, 1 on error.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every change.")] = False,
) -> None:
    """Show what differs between the inventory and actual state, field by field, in apply order.

    Example: streamverse ctl plan -l continent=eu --out plan.json
    """
    from . import selector as sel
    from .common import Output, console
    from .render import plan_markdown, plan_table

    ws = workspace(inventory, state_dir, var, platform)
    try:
        plan = ws.plan(sel.targets(ws.inventory, selector, target))
        if out:
            plan.binding = ws.binding()
            ws.state.record_plan(plan.id, plan.fingerprint, str(inventory), len(plan.changes), plan.save(out))
    finally:
        ws.close()
    if output == PlanOutput.markdown:
        console().file.write(plan_markdown(plan))
    else:
        emit(plan.to_dict(), Output(output.value), lambda: plan_table(plan, verbose))
    if out and output == PlanOutput.table:
        console().print(f"Saved plan {plan.id} to {out}. Apply it with: streamverse ctl apply {out}")
    if detailed_exitcode and not plan.empty:
        raise typer.Exit(2)
