"""``streamverse ctl runbook``: list, show, run, resume, history and abort runbooks.

Exit codes: 0 done (or dry run), 1 failed, paused, aborted or an approval refused, 3 refused by
a guardrail or a capacity check, or another process holds the run's lock.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .apply import ForceOpt
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
    emit_event,
    simple_table,
    workspace,
)

if TYPE_CHECKING:
    from ..runbook.engine import RunOutcome

app = typer.Typer(help="Runbooks: validated, journaled, resumable operational procedures.", no_args_is_help=True)

RunbooksOpt = Annotated[list[Path] | None, typer.Option(
    "--runbooks", metavar="DIR", help="Directory of runbooks, searched before the built-in ones (repeatable; env "
    "STREAMVERSE_RUNBOOKS). The working directory is not searched.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", "-s", metavar="KEY=VALUE",
    help="Parameter KEY=VALUE (repeatable).")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Show every step and the plan it would apply; write nothing.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Approve every approval gate.")]
ApproveOpt = Annotated[list[str] | None, typer.Option("--approve", metavar="STEP",
    help="Approve this step's gate (repeatable).")]


def _check_force(force: list[str] | None) -> list[str]:
    from .apply import check_force

    return check_force(force)


def execute(name: str, params: dict[str, Any], *, inventory: Path, state_dir: str | Path | None, var: list[str] | None,
            platform: str | None, dry_run: bool, yes: bool, approve: list[str] | None, force: list[str] | None,
            output: Output, runbooks: list[Path] | None = None, resume: str | None = None,
            sinks_for: Callable[[Any], list[Callable[[dict[str, Any]], None]]] | None = None) -> RunOutcome:
    """Run (or resume) a runbook with the live display or JSON events. Shared by failover/failback/drill.

    ``sinks_for(workspace)`` adds event sinks that need the run's workspace (the drill's recorder).
    """
    from ..runbook import loader
    from ..runbook.engine import Runner, RunOptions, runbook_path_of
    from ..runbook.events import Events
    from .common import interactive
    from .runbook_display import LiveDisplay, PlainPrinter

    forced = _check_force(force)
    ws = workspace(inventory, state_dir, var, platform, dry_run=dry_run)
    try:
        if resume is not None:
            run = ws.state.journal_run(resume)
            if run is not None and run["data"].get("platform") and platform is None:
                ws.platform = run["data"]["platform"]
            path = runbook_path_of(ws, resume)
        else:
            path = loader.find(name, runbooks or [])
        rb = loader.load(path)
        events = Events()
        if sinks_for is not None:
            events.sinks.extend(sinks_for(ws))
        display: LiveDisplay | None = None
        if output in (Output.json, Output.yaml):  # one JSON line / one YAML document per event
            events.sinks.append(lambda event: emit_event(event, output))
        elif console().is_terminal:
            display = LiveDisplay([s.id for s in rb.model.steps], _snapshot(ws))
            events.sinks.append(display)
        else:
            events.sinks.append(PlainPrinter())

        def approver(step: str, question: str) -> bool:
            if not interactive():
                events("step.note", step=step, text="approval needed but there is no terminal to ask on: "
                                                     f"use --yes or --approve {step}")
                return False
            if display is not None:
                display.pause()
            try:
                return typer.confirm(question, default=False, err=True)
            finally:
                if display is not None:
                    display.resume()

        opts = RunOptions(dry_run=dry_run, approve_all=yes, approve=frozenset(approve or []),
                          force=frozenset(forced), approver=approver)
        runner = Runner(ws, rb, opts, events)
        if display is not None:
            with display:
                outcome = runner.resume(resume) if resume else runner.start(params)
        else:
            outcome = runner.resume(resume) if resume else runner.start(params)
        if output == Output.table:
            _summary(outcome)
        return outcome
    finally:
        ws.close()


def _snapshot(ws: Any) -> Any:
    from ..runbook.probes import dns_weights, hit_ratios

    policies = [n for n, p in ws.compiled.policies.items() if p.routing == "weighted"]

    def snap() -> dict[str, Any]:
        out: dict[str, Any] = {"health": ws.health(),
                               "weights": dns_weights(ws, policies[0]) if policies else {}}
        hr = hit_ratios(ws)
        if hr:
            out["hit_ratio"] = sum(hr.values()) / len(hr)
        return out

    return snap


def _summary(outcome: RunOutcome) -> None:
    con = console()
    if outcome.outputs:
        for k, v in outcome.outputs.items():
            con.print(f"  {k}: {v}", highlight=False)


@app.command("list")
def list_(runbooks: RunbooksOpt = None, output: OutputOpt = Output.table) -> None:
    """Runbooks found, with their parameters (invalid ones are reported, not hidden).

    Example: streamverse ctl runbook list
    """
    from ..runbook.loader import load_all

    loaded, problems = load_all(runbooks or [])
    data: list[dict[str, Any]] = [
        {"name": r.name, "description": r.model.description, "file": str(r.path),
         "parameters": {n: {"type": p.type, "required": p.required, "default": p.default}
                        for n, p in r.model.parameters.items()},
         "steps": [s.id for s in r.model.steps]} for r in loaded]

    def table() -> None:
        simple_table("Runbooks", ["name", "parameters", "steps", "description"],
                     [[d["name"], ", ".join(n + ("*" if p["required"] else "") for n, p in d["parameters"].items()),
                       str(len(d["steps"])), d["description"][:80]] for d in data])
        for p in problems:
            console().print(f"[red]invalid:[/] {p}")

    emit({"runbooks": data, "problems": [p.as_dict() for p in problems]}, output, table)
    if problems:
        raise typer.Exit(1)


class ShowOutput(str, Enum):
    markdown = "markdown"
    json = "json"
    yaml = "yaml"


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Runbook name or file.")], runbooks: RunbooksOpt = None,
         output: Annotated[ShowOutput, typer.Option("--output", "-o", metavar="FORMAT", help="markdown, json or yaml.")]
         = ShowOutput.markdown) -> None:
    """Render a runbook as a Markdown checklist a person can follow by hand.

    Example: streamverse ctl runbook show regional-failover
    """
    import sys

    from ..runbook.loader import find, load
    from ..runbook.markdown import to_markdown

    rb = load(find(name, runbooks or []))
    if output == ShowOutput.markdown:
        sys.stdout.write(to_markdown(rb))
        return
    emit(rb.model.model_dump(by_alias=True, exclude_defaults=True), Output(output.value), lambda: None)


@app.command("validate")
def validate(runbooks: RunbooksOpt = None) -> None:
    """Validate every runbook; report every problem with file, line and field.

    Example: streamverse ctl runbook validate --runbooks ./runbooks
    """
    from ..core.errors import InputError
    from ..runbook.loader import load_all

    loaded, problems = load_all(runbooks or [])
    if problems:
        raise InputError(problems, "runbooks")
    console().print(f"{len(loaded)} runbook(s) valid: {', '.join(r.name for r in loaded)}")


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="Runbook name or file.")],
    set_: SetOpt = None, dry_run: DryRunOpt = False, yes: YesOpt = False, approve: ApproveOpt = None,
    force: ForceOpt = None, inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
    var: VarOpt = None, platform: PlatformOpt = None, runbooks: RunbooksOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Run a runbook: each step journaled, its changes behind plan, guardrails, lock and audit.

    Example: streamverse ctl runbook run viral-content -s video=v123 --dry-run
    """
    from ..runbook.params import parse_sets

    execute(name, dict(parse_sets(set_)), inventory=inventory, state_dir=state_dir, var=var, platform=platform,
            dry_run=dry_run, yes=yes, approve=approve, force=force, output=output, runbooks=runbooks)


@app.command("resume")
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue (see `runbook history`).")],
    yes: YesOpt = False, approve: ApproveOpt = None, force: ForceOpt = None,
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, output: OutputOpt = Output.table,
) -> None:
    """Continue an interrupted, failed, paused or refused run from its first unfinished step.

    Example: streamverse ctl runbook resume RUN_ID --approve shift-dns
    """
    execute("", {}, inventory=inventory, state_dir=state_dir, var=var, platform=platform, dry_run=False, yes=yes,
            approve=approve, force=force, output=output, resume=run_id)


@app.command("history")
def history(run_id: Annotated[str | None, typer.Argument(help="One run: its steps.")] = None,
            limit: Annotated[int, typer.Option("--limit", "-n", metavar="N")] = 20,
            inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
            output: OutputOpt = Output.table) -> None:
    """Runbook runs (newest first), or one run's steps with status, times, attempts and who.

    Example: streamverse ctl runbook history -n 5
    """
    from ..core.errors import PermanentError

    ws = workspace(inventory, state_dir)
    try:
        if run_id is None:
            runs = ws.state.journal_runs("runbook", limit=limit)
            emit(runs, output, lambda: simple_table(
                "Runbook runs", ["run", "runbook", "status", "started", "finished", "who", "params"],
                [[r["id"], r["ref"], r["status"], r["started_at"], r["finished_at"] or "", r["who"],
                  r["data"].get("params", {})] for r in runs]))
            return
        run_ = ws.state.journal_run(run_id)
        if run_ is None:
            raise PermanentError(f"no run '{run_id}'")
        items = ws.state.journal_items(run_id)
        emit({"run": run_, "items": [i.__dict__ for i in items]}, output, lambda: simple_table(
            f"{run_['ref']} {run_id}: {run_['status']}", ["#", "step", "status", "attempts", "started", "finished",
                                                          "who"],
            [[str(i.seq), i.item, i.status, str(i.data.get("attempts", "")), i.started_at or "",
              i.finished_at or "", i.data.get("approved_by") or i.data.get("who") or ""] for i in items]))
    finally:
        ws.close()


@app.command("abort")
def abort(run_id: Annotated[str, typer.Argument(help="The run to abort.")],
          reason: Annotated[str, typer.Option("--reason", "-m", metavar="REASON")] = "",
          inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
          output: OutputOpt = Output.table) -> None:
    """Abort a run: a live one stops before its next step; a stopped one can no longer be resumed.

    Example: streamverse ctl runbook abort RUN_ID -m 'wrong region'
    """
    from ..runbook.engine import abort as do_abort

    ws = workspace(inventory, state_dir)
    try:
        data = do_abort(ws, run_id, reason)
    finally:
        ws.close()
    emit(data, output, lambda: console().print(f"run {run_id} aborted (was {data['was']})"))
