from __future__ import annotations

from typing import Annotated

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, Output, OutputOpt, StateDirOpt, console, emit, simple_table

app = typer.Typer(help="The state backend: locks, audit log, journals.", no_args_is_help=True)


def open_state_store(inventory: InventoryOpt, state_dir: StateDirOpt):  # type: ignore[no-untyped-def]
    from ..engine.workspace import DEFAULT_STATE_DIR
    from ..state import StateStore

    if state_dir is None:
        from pathlib import Path

        try:
            from ..inventory import load_inventory

            inv = load_inventory(inventory)
            state_dir = inv.state_path or Path.cwd() / DEFAULT_STATE_DIR
        except Exception:  # state commands must work even when the inventory is broken
            state_dir = Path.cwd() / DEFAULT_STATE_DIR
    return StateStore(state_dir)


@app.command("lock")
def lock_(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
          hold: Annotated[float, typer.Option("--hold", help="Take the lock and hold it this many seconds "
                                                                "(for maintenance windows and tests).")] = 0.0,
          output: OutputOpt = Output.table) -> None:
    """Show who holds the apply lock (or take it with --hold SECONDS)."""
    import time

    store = open_state_store(inventory, state_dir)
    if hold > 0:
        with store.lock("apply", purpose="state lock --hold"):
            console().print(f"holding the apply lock for {hold:g} s")
            time.sleep(hold)
        return
    info = store.lock_info()
    emit({"lock": info.__dict__ if info else None}, output, lambda: console().print(
        f"apply lock held by {info.owner}@{info.host} pid {info.pid} since {info.acquired_at} ({info.purpose})"
        if info else "apply lock is free"))


@app.command("unlock")
def unlock(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None) -> None:
    """Force the apply lock free (audited). Only when its holder is dead."""
    info = open_state_store(inventory, state_dir).force_unlock()
    console().print(f"released the lock held by {info.owner}@{info.host} pid {info.pid}" if info
                    else "the lock was not held")


@app.command("audit")
def audit(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
          limit: Annotated[int, typer.Option("--limit", "-n")] = 50,
          action: Annotated[str | None, typer.Option("--action", help="Filter, e.g. 'apply*'.")] = None,
          output: OutputOpt = Output.table) -> None:
    """The append-only audit log: who did what, when, and the result."""
    entries = open_state_store(inventory, state_dir).audit_log(limit, action)
    emit(entries, output, lambda: simple_table("Audit log", ["id", "at", "who", "action", "target", "result", "detail"],
                                               [[str(e.id), e.at, e.who, e.action, e.target, e.result, e.detail]
                                                for e in entries]))


@app.command("journal")
def journal(run_id: Annotated[str | None, typer.Argument(help="A run id; default: list recent runs.")] = None,
            inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
            output: OutputOpt = Output.table) -> None:
    """Journals of applies and runbook runs: each step's status."""
    store = open_state_store(inventory, state_dir)
    if run_id is None:
        runs = store.journal_runs(limit=20)
        emit(runs, output, lambda: simple_table("Runs", ["id", "kind", "ref", "status", "started", "who"],
                                                [[r["id"], r["kind"], r["ref"], r["status"], r["started_at"], r["who"]]
                                                 for r in runs]))
        return
    run = store.journal_run(run_id)
    if run is None:
        from ..core.errors import PermanentError

        raise PermanentError(f"no run '{run_id}' in the journal")
    items = store.journal_items(run_id)
    emit({"run": run, "items": [i.__dict__ for i in items]}, output, lambda: simple_table(
        f"{run['kind']} {run_id}: {run['status']}", ["#", "item", "status", "started", "finished"],
        [[str(i.seq), i.item, i.status, i.started_at or "", i.finished_at or ""] for i in items]))
