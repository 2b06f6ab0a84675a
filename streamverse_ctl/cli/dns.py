"""``streamverse ctl dns``: one-off DNS changes and verification against the authoritative servers."""

from __future__ import annotations

from typing import Annotated

import typer

from .apply import AutoApproveOpt, ForceOpt, LockTimeoutOpt, check_force
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
    simple_table,
    workspace,
)
from .override_run import run_override

app = typer.Typer(help="DNS traffic steering: set weights, list overrides, verify answers, query.",
                  no_args_is_help=True)


DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Show the plan and the guardrails' verdict; write nothing (exit 2 if it would change "
    "something, 3 if a guardrail would refuse).")]


@app.command("set-weights")
def set_weights(
    policy: Annotated[str, typer.Argument(help="TrafficPolicy name")],
    weights: Annotated[list[str], typer.Argument(help="REGION=WEIGHT ... (regions not named keep theirs)")],
    reason: Annotated[str, typer.Option("--reason", "-m", metavar="REASON",
        help="Why (kept in the audit log and shown by plan).")] = "",
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, auto_approve: AutoApproveOpt = False, force: ForceOpt = None,
    lock_timeout: LockTimeoutOpt = 0.0, dry_run: DryRunOpt = False, output: OutputOpt = Output.table,
) -> None:
    """Change a weighted policy's weights now, through plan, guardrails, lock, journal and audit.

    The change is recorded as a deliberate override: later plans show it (with who, when and why)
    instead of reverting it as drift, until `dns clear-override POLICY`.

    Example: streamverse ctl dns set-weights www us-east=0 -m maintenance
    """
    from ..engine import overrides as ov

    parsed: dict[str, int] = {}
    for pair in weights:
        region, sep, value = pair.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            raise typer.BadParameter(f"'{pair}' is not REGION=WEIGHT (an integer)")
        parsed[region.strip()] = int(value)
    forced = check_force(force)
    ws = workspace(inventory, state_dir, var, platform)
    try:
        merge = ov.weights_merge(ws, policy, parsed)  # bad input is reported before any lock is taken
        run_override(ws, f"TrafficPolicy/{policy}", f"dns set-weights {policy}",
                     lambda: ov.stage(ws, "TrafficPolicy", policy, merge, reason or "dns set-weights"),
                     forced=forced, auto_approve=auto_approve, lock_timeout=lock_timeout, dry_run=dry_run,
                     output=output)
    finally:
        ws.close()


@app.command("clear-override")
def clear_override(
    policy: Annotated[str, typer.Argument(help="TrafficPolicy name")],
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, auto_approve: AutoApproveOpt = False, force: ForceOpt = None,
    lock_timeout: LockTimeoutOpt = 0.0, dry_run: DryRunOpt = False, output: OutputOpt = Output.table,
) -> None:
    """Return a policy to the inventory's weights: plan, guardrails, apply, then forget the override.

    Like set-weights it shows the plan, asks (or --auto-approve), and is refused (exit 3) when a
    guardrail objects, e.g. a region health checks mark down would get traffic back; the override
    stays in force then. `--force NAME` overrides one guardrail.

    Example: streamverse ctl dns clear-override www --auto-approve
    """
    from ..engine import overrides as ov

    forced = check_force(force)
    ws = workspace(inventory, state_dir, var, platform)
    try:
        ov.document(ws, "TrafficPolicy", policy, "clear-override")  # a policy of this inventory, or a clear message
        if not ov.has_override(ws, "TrafficPolicy", policy):
            console().print(f"no override of TrafficPolicy/{policy}; nothing to clear")
            return
        run_override(ws, f"TrafficPolicy/{policy}", f"dns clear-override {policy}",
                     lambda: ov.stage_clear(ws, "TrafficPolicy", policy, f"dns clear-override {policy}"),
                     forced=forced, auto_approve=auto_approve, lock_timeout=lock_timeout, dry_run=dry_run,
                     output=output)
    finally:
        ws.close()


@app.command("overrides")
def overrides(inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None,
              output: OutputOpt = Output.table) -> None:
    """Deliberate overrides in force (set-weights, runbook actions).

    Example: streamverse ctl dns overrides -o json
    """
    ws = workspace(inventory, state_dir)
    try:
        items = ws.state.overrides()
    finally:
        ws.close()
    emit(items, output, lambda: simple_table("Overrides", ["target", "change", "who", "at", "reason"],
                                             [[f"{o['kind']}/{o['name']}", o["merge"], o["who"], o["at"], o["reason"]]
                                              for o in items]))


@app.command("verify")
def verify(
    policy: Annotated[str | None, typer.Argument(help="TrafficPolicy name (default: all)")] = None,
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS",
        help="Seconds to wait for convergence.")] = 30.0,
    inventory: InventoryOpt = DEFAULT_INVENTORY, state_dir: StateDirOpt = None, var: VarOpt = None,
    platform: PlatformOpt = None, output: OutputOpt = Output.table,
) -> None:
    """Prove the authoritative servers answer what the inventory (with overrides) says; exit 1 if not.

    Example: streamverse ctl dns verify www --timeout 60
    """
    from ..core.errors import PermanentError

    ws = workspace(inventory, state_dir, var, platform)
    try:
        if policy is not None and policy not in ws.compiled.policies:
            raise PermanentError(f"no TrafficPolicy named '{policy}' (known: {', '.join(ws.compiled.policies)})")
        results = []
        for name, resources in ws.compiled.by_provider().items():
            mine = [r for r in resources
                    if r.type == "dns.record" and (policy is None or r.spec.get("policy") == policy)]
            if mine:
                results.extend(ws.provider(name).verify(mine, timeout))
    finally:
        ws.close()
    bad = [r for r in results if not r.ok]
    emit({"ok": not bad, "results": [r.__dict__ for r in results]}, output, lambda: simple_table(
        "DNS verification", ["record", "ok", "seconds", "server", "detail"],
        [[r.resource_id, "[green]yes[/]" if r.ok else "[red]NO[/]", f"{r.seconds:.2f}", r.server, r.detail]
         for r in results]))
    if bad:
        raise typer.Exit(1)


@app.command("query")
def query(
    name: Annotated[str, typer.Argument(help="Name to look up, e.g. www.streamverse.example")],
    rtype: Annotated[str, typer.Option("--type", "-t", metavar="RTYPE", help="Record type.")] = "A",
    server: Annotated[str, typer.Option("--server", "-s", metavar="HOST:PORT",
        help="HOST[:PORT] of the server to ask.")] = "127.0.0.1:53",
    samples: Annotated[int, typer.Option("--samples", "-n", metavar="N",
        help="Ask N times (varying EDNS client subnet) "
                                                                 "to see a weighted spread.")] = 1,
    output: OutputOpt = Output.table,
) -> None:
    """Ask one DNS server directly (no recursion) and show the answers and their spread.

    Example: streamverse ctl dns query www.streamverse.example. -n 20
    """
    from ..providers.dnsquery import lookup

    res = lookup(server, name, rtype, samples)
    total = sum(res.answers.values()) or 1
    emit(res.__dict__, output, lambda: simple_table(
        f"{res.fqdn} {res.rtype} @ {res.server} ({res.queries} queries)", ["answer", "count", "share"],
        [[v, str(n), f"{n / total * 100:.1f} %"] for v, n in sorted(res.answers.items())] or [["(no answer)", "", ""]]))


# `dns dump` and `dns compare` live in their own module
from . import dns_dump  # noqa: E402

app.command("dump")(dns_dump.dump)
app.command("compare")(dns_dump.compare)
