from __future__ import annotations

from typing import Annotated

import typer

from .apply import ForceOpt
from .common import DEFAULT_INVENTORY, InventoryOpt, Output, OutputOpt, PlatformOpt, StateDirOpt, VarOpt
from .runbook import ApproveOpt, DryRunOpt, RunbooksOpt, YesOpt, execute


def command(
    region: Annotated[str, typer.Argument(help="Region to move traffic off.")],
    to: Annotated[str | None, typer.Option("--to", metavar="REGION",
        help="Region to take all of it (default: spread by spare "
                                                        "capacity).")] = None,
    gradual: Annotated[bool, typer.Option("--gradual", help="Shift in steps instead of at once.")] = False,
    step: Annotated[int, typer.Option("--step", metavar="PERCENT",
        help="Percent per step (default: FailoverPolicy).")] = 0,
    interval: Annotated[str, typer.Option("--interval", metavar="DURATION",
        help="Pause between steps, e.g. 10m.")] = "",
    policy: Annotated[str, typer.Option("--policy", metavar="POLICY", help="Weighted TrafficPolicy.")] = "www",
    dry_run: DryRunOpt = False, yes: YesOpt = False, approve: ApproveOpt = None, force: ForceOpt = None,
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, runbooks: RunbooksOpt = None, output: OutputOpt = Output.table,
) -> None:
    """Fail a region over (the regional-failover runbook): capacity check, scale, warm, shift DNS, drain.

    Refused (exit 3) when the receiving regions cannot absorb the load (--force capacity) or too few
    regions would be left serving. Resumable: `streamverse ctl runbook resume RUN_ID`.

    Example: streamverse ctl failover us-east --dry-run
    """
    params: dict[str, object] = {"from": region, "policy": policy, "gradual": gradual, "step": step,
                                 "interval": interval}
    if to is not None:
        params["to"] = to
    execute("regional-failover", params, inventory=inventory, state_dir=state_dir, var=var, platform=platform,
            dry_run=dry_run, yes=yes, approve=approve, force=force, output=output, runbooks=runbooks)
