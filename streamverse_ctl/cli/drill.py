"""``streamverse ctl drill``: a DR drill (game day) that measures recovery time and traffic lost.

On the sim platform the drill injects the failure itself (``--fail REGION``: its health checks
fail, as ``sim fail-region`` does), runs the runbook with every approval given, samples what DNS
serves at every run event, and writes a Markdown report with the timeline (``--report FILE``).
On another platform it runs only against an inventory the operator confirms is staging
(``--staging``), and the failure must be injected by the operator: ``--fail`` is refused there.
The anchor is Netflix's region evacuation in under 10 minutes (``--target``, default 10m).

Exit codes: 0 recovered within the target; 1 the run failed, did not recover, or missed the target;
3 the run was refused by a guardrail or a held lock.
"""

from __future__ import annotations

import contextlib
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from .apply import ForceOpt
from .common import DEFAULT_INVENTORY, InventoryOpt, PlatformOpt, StateDirOpt, VarOpt, console, emit, simple_table


class DrillOutput(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"
    markdown = "markdown"


def command(
    runbook: Annotated[str, typer.Argument(help="The failover runbook to rehearse (name or file).")],
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", metavar="KEY=VALUE",
                                                   help="Runbook parameter KEY=VALUE (repeatable).")] = None,
    fail: Annotated[list[str] | None, typer.Option(
        "--fail", metavar="REGION", help="Sim platform: take this region down at the start (repeatable).")] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", metavar="POLICY", help="Weighted TrafficPolicy to watch (default: the runbook's "
        "`policy` parameter, else the first weighted policy).")] = None,
    target: Annotated[str, typer.Option("--target", metavar="DURATION",
                                        help="Recovery time objective, e.g. 10m.")] = "10m",
    report: Annotated[Path | None, typer.Option("--report", metavar="FILE",
                                                help="Write the Markdown report to FILE.")] = None,
    staging: Annotated[bool, typer.Option(
        "--staging", help="Confirm a non-sim platform is a staging inventory the drill may act on.")] = False,
    heal: Annotated[bool, typer.Option(
        "--heal", help="Sim platform: heal the injected regions after the drill (traffic stays moved).")] = False,
    force: ForceOpt = None,
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, runbooks: Annotated[list[Path] | None, typer.Option(
        "--runbooks", metavar="DIR", help="Directory of runbooks, searched before the built-in ones.")] = None,
    output: Annotated[DrillOutput, typer.Option("--output", "-o", help="table, json, yaml or markdown.")]
    = DrillOutput.table,
) -> None:
    """DR drill: run a failover runbook as a game day, measure recovery time and traffic lost, write a report.

    Example: streamverse ctl drill regional-failover -s from=us-east --fail us-east --report drill.md
    """
    from ..core.errors import InputError, Problem
    from ..engine.capacity import model_demand
    from ..inventory.models import parse_duration
    from ..runbook.drill import DrillRecorder, markdown
    from ..runbook.params import parse_sets
    from ..state.store import now
    from .common import Output, workspace
    from .runbook import execute

    params = dict(parse_sets(set_))
    try:
        target_s = parse_duration(target)
    except ValueError as exc:
        raise InputError([Problem(f"--target: {exc}", "<command line>")], "drill") from exc
    ws = workspace(inventory, state_dir, var, platform)
    try:
        on_sim = ws.platform == "sim" or all(b.type == "sim" for b in ws.compiled.bindings.values())
        problems = []
        if not on_sim and not staging:
            problems.append(Problem(f"the drill would act on platform '{ws.platform}': pass --staging to confirm "
                                    "this is a staging inventory (or run it on the sim platform)", "<command line>"))
        if fail and not on_sim:
            problems.append(Problem("--fail injects faults on the sim platform only; on a staging inventory break "
                                    "the region yourself, then run the drill without --fail", "<command line>"))
        for region in fail or []:
            if region not in ws.compiled.regions:
                problems.append(Problem(f"--fail: unknown region '{region}' (regions: "
                                        f"{', '.join(ws.compiled.regions)})", "<command line>"))
        weighted = [n for n, p in ws.compiled.policies.items() if p.routing == "weighted"]
        watch = policy or str(params.get("policy") or "") or (weighted[0] if weighted else "")
        if watch not in weighted:
            problems.append(Problem(f"--policy: '{watch}' is not a weighted TrafficPolicy (weighted: "
                                    f"{', '.join(weighted) or 'none'})", "<command line>"))
        if problems:
            raise InputError(problems, "drill")
        demand = model_demand(ws.inventory)
        platform_name = ws.platform or ("sim" if on_sim else "the inventory's providers")
    finally:
        ws.close()

    started_at = now()
    recorder = DrillRecorder(watch, time.monotonic())
    if fail:
        from .sim import _sim

        sim, store = _sim(inventory, state_dir)
        for region in fail:
            sim.set_region_health(region, False, "dr drill")
            store.audit("drill.inject", region, "ok", reason="region down (sim)")

    def sinks(run_ws: Any) -> list[Any]:
        recorder.bind(run_ws)
        recorder.sample("drill.start", text="failure injected: " + ", ".join(fail) if fail else "drill started")
        return [recorder]

    quiet = output != DrillOutput.table
    status, error = "failed", None
    redirect = contextlib.redirect_stdout(sys.stderr) if quiet else contextlib.nullcontext()
    try:
        with redirect:
            outcome = execute(runbook, params, inventory=inventory, state_dir=state_dir, var=var, platform=platform,
                              dry_run=False, yes=True, approve=None, force=force,
                              output=Output.json if quiet else Output.table, runbooks=runbooks, sinks_for=sinks)
        status = outcome.status
    except Exception as exc:  # refused or failed: the report still says what happened, then the error exits
        status, error = ("refused" if getattr(exc, "exit_code", 1) == 3 else "failed"), exc
    steps = _journal(inventory, state_dir, recorder.run_id) if recorder.run_id else []
    result = recorder.report(runbook=runbook, params=params, platform=platform_name, started_at=started_at,
                             injected=fail or [], status=status, target_seconds=target_s,
                             demand_rps=demand.rps if demand else None, steps=steps)
    if fail and heal:
        from .sim import _sim

        sim, _ = _sim(inventory, state_dir)
        for region in fail:
            sim.set_region_health(region, True)
    text = markdown(result)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text, encoding="utf-8")
    if output == DrillOutput.markdown:
        sys.stdout.write(text)
    elif output in (DrillOutput.json, DrillOutput.yaml):
        emit(result.as_dict(), Output(output.value), lambda: None)
    else:
        rec = "not recovered" if result.recovery_seconds is None else f"{result.recovery_seconds:.1f} s"
        simple_table(f"DR drill: {runbook}", ["", ""], [
            ["result", result.status],
            ["recovery time", f"{rec} (target {target_s:g} s: {'met' if result.target_met else 'missed'})"],
            ["traffic lost", f"{result.lost_full_traffic_seconds:.1f} s of all traffic "
                             f"({result.lost_percent:.2f} % of the {result.window_seconds:.1f} s window)"],
        ])
        if report is not None:
            console().print(f"report written to {report}", highlight=False)
    if error is not None:
        raise error
    if not result.target_met:
        raise typer.Exit(1)


def _journal(inventory: Path, state_dir: Any, run_id: str) -> list[dict[str, Any]]:
    from .state import open_state_store

    store = open_state_store(inventory, state_dir)
    try:
        return [{"item": i.item, "status": i.status, "started_at": i.started_at, "finished_at": i.finished_at}
                for i in store.journal_items(run_id)]
    finally:
        store.close()
