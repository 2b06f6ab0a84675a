from __future__ import annotations

import signal
from typing import Annotated

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, Output, OutputOpt, PlatformOpt, StateDirOpt, VarOpt


def command(
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None,
    apply: Annotated[bool, typer.Option("--apply", help="Converge pending changes (never forced); "
                                                         "without it, only report.")] = False,
    interval: Annotated[str, typer.Option("--interval", metavar="DURATION",
        help="Time between iterations, e.g. 30s, 5m.")] = "60s",
    iterations: Annotated[int, typer.Option("--iterations", "-n", metavar="N",
        help="Stop after N iterations (0: run until "
                                                                        "SIGTERM or Ctrl-C).")] = 0,
    output: OutputOpt = Output.table,
) -> None:
    """Keep reconciling: plan every interval, report drift and pending changes, converge with --apply.

    Example: streamverse ctl reconcile --interval 5m --apply
    """
    from ..engine.reconcile import reconcile
    from ..inventory.models import parse_duration
    from .common import console, emit_event, parse_vars

    try:
        seconds = parse_duration(interval)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--interval") from exc
    stopping = {"now": False}

    def stop(_sig: int, _frame: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    colors = {"in-sync": "green", "pending": "yellow", "applied": "cyan", "refused": "bold yellow",
              "locked": "magenta", "error": "red"}
    worst = 0
    for tick in reconcile(inventory, state_dir=state_dir, variables=parse_vars(var), platform=platform,
                          apply=apply, interval=seconds, iterations=iterations, stop=lambda: stopping["now"]):
        if tick.status in ("error", "refused"):
            worst = 1
        if output == Output.table:
            from rich.markup import escape

            extra = f" {tick.changes} change(s)" if tick.changes else ""
            extra += f", {tick.drift} drifted" if tick.drift else ""
            extra += f", applied {tick.applied}" if tick.applied else ""
            console().print(f"{tick.at} #{tick.iteration} [{colors[tick.status]}]{tick.status}[/]{extra}"
                            + (f": {escape(tick.detail)}" if tick.detail else ""), highlight=False)
            for r in tick.refusals:
                console().print(f"    {escape(r)}", highlight=False)
        else:
            emit_event(tick.as_dict(), output)
    if iterations and worst:
        raise typer.Exit(1)
