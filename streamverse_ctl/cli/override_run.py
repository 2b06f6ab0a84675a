"""One-off override verbs (``dns set-weights``, ``dns clear-override``) on the terminal: show the plan,
ask, apply through :func:`..engine.overrides.apply_staged`, report what changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from .common import Output, console, emit, interactive

if TYPE_CHECKING:
    from ..engine.plan import Plan
    from ..engine.workspace import Workspace


def run_override(ws: Workspace, target: str, purpose: str, stage: Callable[[], object], *, forced: list[str],
                 auto_approve: bool, lock_timeout: float, dry_run: bool, output: Output) -> None:
    """Stage (under the lock), plan ``target``, show, guardrails, confirm, apply; exit 2/3 in a dry run
    that would change something / be refused."""
    from ..core.errors import Aborted, GuardrailRefused, ProviderError
    from ..engine.overrides import apply_staged
    from .progress import RichReporter
    from .render import plan_table

    def show(plan: Plan) -> None:
        if output == Output.table:
            plan_table(plan)
        elif dry_run:
            emit(plan.to_dict(), output, lambda: None)

    def confirm(plan: Plan) -> None:
        if auto_approve or plan.empty:
            return
        if not interactive():
            raise Aborted("confirmation needed: rerun with --auto-approve (no terminal to ask on)")
        if not typer.confirm(f"Apply these {len(plan.changes)} changes?", default=False):
            raise Aborted("cancelled; nothing was changed")

    reporter = RichReporter(enabled=False)  # a handful of changes: notes and failures, no progress bar
    out = apply_staged(ws, [target], purpose=purpose, force=forced, stage=stage, dry_run=dry_run,
                       lock_timeout=lock_timeout, show=show, confirm=confirm, reporter=reporter)
    plan, result = out.plan, out.result
    if result is None:  # dry run
        if plan.refusals:
            raise GuardrailRefused(plan.refusals)
        if output == Output.table:
            console().print("Dry run: nothing was written.")
        if not plan.empty:
            raise typer.Exit(2)
        return
    data = {"plan_id": plan.id, "run_id": result.run_id, "applied": result.applied, "verified": result.verified,
            "verify": [v.__dict__ for v in result.verify], "resumed_from": result.resumed_from,
            "overrides_set": out.set, "overrides_cleared": out.cleared}

    def table() -> None:
        from .apply import print_applied

        print_applied(result)
        con = console()
        for ref in out.set:
            con.print(f"override of {ref} recorded; `dns clear-override` returns it to the inventory")
        for ref in out.cleared:
            con.print(f"override of {ref} cleared: it follows the inventory again")

    emit(data, output, table)
    if not result.verified:
        bad = [v.resource_id for v in result.verify if not v.ok]
        raise ProviderError(f"applied {result.applied} change(s), but {len(bad)} resource(s) did not converge: "
                            + ", ".join(bad[:5]) + (" …" if len(bad) > 5 else ""))
