from __future__ import annotations

from typing import Annotated

import typer

from .common import (
    DEFAULT_INVENTORY,
    InventoryOpt,
    Output,
    OutputOpt,
    PlatformOpt,
    StateDirOpt,
    VarOpt,
    emit,
    workspace,
)


def command(
    inventory: InventoryOpt = DEFAULT_INVENTORY,
    state_dir: StateDirOpt = None,
    var: VarOpt = None,
    platform: PlatformOpt = None,
    output: OutputOpt = Output.table,
    detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode", help="Exit 2 when there is drift.")] = False,
) -> None:
    """Show drift: what changed outside StreamVerse Control since it last wrote. Never acts.

    Example: streamverse ctl diff --detailed-exitcode
    """
    from .render import drift_table

    ws = workspace(inventory, state_dir, var, platform)
    try:
        drift = ws.drift()
    finally:
        ws.close()
    emit({"drift": drift}, output, lambda: drift_table(drift))
    if detailed_exitcode and drift:
        raise typer.Exit(2)
