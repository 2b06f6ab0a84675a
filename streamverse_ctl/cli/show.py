from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .plan import PlanOutput


def command(
    planfile: Annotated[Path, typer.Argument(metavar="PLANFILE", help="A plan saved by `plan --out`.")],
    output: Annotated[PlanOutput, typer.Option("--output", "-o", help="table, json, yaml or markdown")] =
        PlanOutput.table,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every change.")] = False,
) -> None:
    """Show a plan saved by `plan --out`, without reading any provider or the state.

    The file must be exactly what `plan --out` wrote: a modified file is an error (exit 1). Whether it
    can still be applied is decided by `apply PLANFILE` under the lock.

    Example: streamverse ctl show plan.json -o markdown
    """
    from ..engine.plan import Plan
    from .common import Output, console, emit
    from .render import plan_markdown, plan_table

    plan = Plan.load(planfile)
    if output == PlanOutput.markdown:
        console().file.write(plan_markdown(plan))
        return

    def table() -> None:
        con = console()
        where = f"{plan.inventory or 'an inventory'}" + (f", platform {plan.platform}" if plan.platform else "")
        con.print(f"Saved plan {plan.id}, made {plan.created_at} from {where}"
                  + (f", targets {', '.join(plan.targets)}" if plan.targets else "") + ".")
        plan_table(plan, verbose)

    emit(plan.as_saved(), Output(output.value), table)  # the file as saved, digest included
