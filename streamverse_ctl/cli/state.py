from __future__ import annotations

from typing import Annotated

import typer

from .common import DEFAULT_INVENTORY, InventoryOpt, Output, OutputOpt, StateDirOpt, console, emit, simple_table

app = typer.Typer(help="The state backend: locks, audit log, journals.", no_args_is_help=True)


def state_location(inventory: InventoryOpt, state_dir: StateDirOpt):  # type: ignore[no-untyped-def]
    """The state location (a directory, or a postgresql:// URL), whether it was given explicitly
    (--state-url/--state-dir, STREAMVERSE_STATE_URL/_DIR) and the inventory's passwordFile."""
    from pathlib import Path

    from ..engine.workspace import DEFAULT_STATE_DIR

    inv = None
    try:
        from ..inventory import load_inventory

        inv = load_inventory(inventory)
    except Exception:  # state commands must work even when the inventory is broken
        pass
    pw = str(inv.state_password_file) if inv is not None and inv.state_password_file else None
    if state_dir is not None:
        return (state_dir if "://" in state_dir else Path(state_dir)), True, pw
    if inv is not None and inv.state_url:
        return inv.state_url, False, pw
    return (inv.state_path if inv is not None and inv.state_path else Path.cwd() / DEFAULT_STATE_DIR), False, pw


def open_state_store(inventory: InventoryOpt, state_dir: StateDirOpt):  # type: ignore[no-untyped-def]
    from ..state import StateStore

    location, explicit, pw = state_location(inventory, state_dir)
    # a mistyped --state-dir is refused, never created
    return StateStore(location, create=not explicit, password_file=pw)


@app.command("init")
def init(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
         force_new: Annotated[bool, typer.Option(
             "--force-new", help="Start a new lineage deliberately (audited) for a store that was emptied, "
                                 "replaced or damaged; a broken file is moved aside, never deleted.")] = False,
         output: OutputOpt = Output.table) -> None:
    """Create a state location, or --force-new a new lineage.

    Other verbs refuse a --state-dir that does not exist (a typo must not start a new, empty store
    with locks of its own). --force-new starts a new lineage, audited, for a store that was emptied,
    replaced or damaged.

    Example: streamverse ctl state init --state-dir /var/lib/streamverse
    """
    from ..state import StateStore

    directory, _, pw = state_location(inventory, state_dir)
    store, what = StateStore.initialise(directory, force_new=force_new, password_file=pw)
    store.close()
    what = {"path": str(store.path), **what}

    def show() -> None:
        if force_new:
            aside = f"; moved aside: {', '.join(what['moved_aside'])}" if what["moved_aside"] else ""
            console().print(f"state {store.path}: new lineage {what['lineage']} (was "
                            f"{what['previous'] or 'none'}){aside}")
        elif what["created"]:
            console().print(f"created state {store.path} (lineage {what['lineage']})")
        else:
            console().print(f"state {store.path} already exists (lineage {what['lineage']}); nothing to do")

    emit(what, output, show)


@app.command("info")
def info(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
         output: OutputOpt = Output.table) -> None:
    """Identity of the state: lineage, size, integrity, inventory.

    Example: streamverse ctl state info -o json
    """
    store = open_state_store(inventory, state_dir)
    data = store.info()
    store.close()
    emit(data, output, lambda: simple_table("State", ["field", "value"],
                                            [[k, "" if v is None else str(v)] for k, v in data.items()]))


@app.command("migrate")
def migrate(to: Annotated[str, typer.Option("--to", metavar="URL|DIR", help="The new, empty state location.")],
            inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
            output: OutputOpt = Output.table) -> None:
    """Copy the state to another backend, verify it, leave this one read-only.

    Everything is copied (audit log, journals, plans, overrides, regions, applied, lineage); the
    row counts per table are compared; the source then refuses writes, naming the new location.

    Example: streamverse ctl state migrate --to postgresql://sre@db:5432/streamverse
    """
    from pathlib import Path

    store = open_state_store(inventory, state_dir)
    _, _, pw = state_location(inventory, state_dir)
    try:
        data = store.migrate_to(to if "://" in to else Path(to), password_file=pw)
    finally:
        store.close()

    def show() -> None:
        console().print(f"moved state {data['from']} to {data['to']} (lineage {data['lineage']}); "
                        f"{data['from']} is now read-only")
        simple_table("Rows copied", ["table", "rows"], [[t, str(n)] for t, n in data["counts"].items()])

    emit(data, output, show)


@app.command("check")
def check(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
          output: OutputOpt = Output.table) -> None:
    """Check the state's integrity; exit 1 if it is damaged.

    Example: streamverse ctl state check
    """
    from ..core.errors import StateCorrupt

    store = open_state_store(inventory, state_dir)
    problems = store.check(full=True)
    store.close()
    if problems:
        from ..state.store import way_out

        raise StateCorrupt(f"state {store.path} is damaged:\n" + "\n".join(f"  {p}" for p in problems),
                           str(store.path), way_out(store.directory))
    emit({"path": str(store.path), "lineage": store.lineage, "integrity": "ok"}, output,
         lambda: console().print(f"state {store.path} (lineage {store.lineage}): integrity ok"))


@app.command("lock")
def lock_(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
          hold: Annotated[float, typer.Option("--hold", metavar="SECONDS",
              help="Take the lock and hold it this many seconds "
                                                                "(for maintenance windows and tests).")] = 0.0,
          output: OutputOpt = Output.table) -> None:
    """Show who holds the apply lock (or take it with --hold SECONDS).

    Example: streamverse ctl state lock
    """
    import time

    store = open_state_store(inventory, state_dir)
    if hold > 0:
        with store.lock("apply", purpose="state lock --hold"):
            console().print(f"holding the apply lock for {hold:g} s")
            time.sleep(hold)
        return
    info = store.lock_info()
    emit({"lock": info.__dict__ if info else None, "backend": store.backend}, output, lambda: console().print(
        f"apply lock held by {info.owner} on host {info.host}, pid {info.pid}, operation "
        f"'{info.purpose or '?'}', since {info.acquired_at}" if info else "apply lock is free"))


@app.command("unlock")
def unlock(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None) -> None:
    """Force the apply lock free (audited). Only when its holder is dead.

    Example: streamverse ctl state unlock
    """
    info = open_state_store(inventory, state_dir).force_unlock()
    console().print(f"released the lock held by {info.owner}@{info.host} pid {info.pid}" if info
                    else "the lock was not held")


@app.command("audit")
def audit(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
          limit: Annotated[int, typer.Option("--limit", "-n", metavar="N")] = 50,
          action: Annotated[str | None, typer.Option("--action", metavar="PATTERN",
              help="Filter, e.g. 'apply*'.")] = None,
          output: OutputOpt = Output.table) -> None:
    """The append-only audit log: who did what, when, and the result.

    Example: streamverse ctl state audit --action 'apply*' -n 20
    """
    entries = open_state_store(inventory, state_dir).audit_log(limit, action)
    emit(entries, output, lambda: simple_table("Audit log", ["id", "at", "who", "action", "target", "result", "detail"],
                                               [[str(e.id), e.at, e.who, e.action, e.target, e.result, e.detail]
                                                for e in entries]))


@app.command("journal")
def journal(run_id: Annotated[str | None, typer.Argument(help="A run id; default: list recent runs.")] = None,
            inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
            output: OutputOpt = Output.table) -> None:
    """Journals of applies and runbook runs: each step's status.

    Example: streamverse ctl state journal RUN_ID
    """
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
