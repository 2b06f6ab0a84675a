from __future__ import annotations

from typing import Annotated

import typer

from .apply import ForceOpt
from .common import DEFAULT_INVENTORY, InventoryOpt, Output, OutputOpt, PlatformOpt, StateDirOpt, VarOpt
from .runbook import ApproveOpt, DryRunOpt, RunbooksOpt, YesOpt, execute


def command(
    region: Annotated[str, typer.Argument(help="The drained region to bring back.")],
    step: Annotated[int, typer.Option("--step", metavar="PERCENT",
        help="Percent per step (default: FailoverPolicy, 10).")] = 0,
    interval: Annotated[str, typer.Option("--interval", metavar="DURATION",
        help="Pause between steps (default: FailoverPolicy, 10m).")] = "",
    gate_timeout: Annotated[str, typer.Option("--gate-timeout", metavar="DURATION",
        help="Health gate per step before pausing.")] = "2m",
    policy: Annotated[str, typer.Option("--policy", metavar="POLICY", help="Weighted TrafficPolicy.")] = "www",
    dry_run: DryRunOpt = False, yes: YesOpt = False, approve: ApproveOpt = None, force: ForceOpt = None,
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, runbooks: RunbooksOpt = None, output: OutputOpt = Output.table,
) -> None:
    """Bring a drained region back gradually (the regional-failback runbook), pausing on regression.

    Weights return step by step: health is checked before each raise and watched after it; if the
    region (or a region it serves with) goes down, the weights step back and the run pauses. At the
    end the drained mark and the weights override are cleared. Resume a paused run with
    `streamverse ctl runbook resume RUN_ID`.

    Example: streamverse ctl failback us-east --step 10 --interval 5m
    """
    execute("regional-failback", {"region": region, "policy": policy, "step": step, "interval": interval,
                                  "gate_timeout": gate_timeout},
            inventory=inventory, state_dir=state_dir, var=var, platform=platform, dry_run=dry_run, yes=yes,
            approve=approve, force=force, output=output, runbooks=runbooks)
