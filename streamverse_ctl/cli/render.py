"""Rendering plans and drift for people: rich tables and Markdown (for pull-request comments)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape

from .common import console, short

if TYPE_CHECKING:
    from ..core.resources import Change
    from ..engine.plan import Plan
    from ..engine.workspace import Drift

SYMBOL = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}


def change_lines(c: Change, width: int = 48) -> list[str]:
    if c.action == "create":
        text = ", ".join(f"{f.path}={short(f.after, 18)}" for f in c.fields if f.after not in (None, [], {}))
        return [short(text, 64)]
    if c.action == "delete":
        return ["(delete)"]
    return [f"{f.path}: {short(f.before, width // 2)} → {short(f.after, width // 2)}" for f in c.fields] or [
        "(take over)"]


def plan_table(plan: Plan, verbose: bool = False) -> None:
    from rich.table import Table

    con = console()
    if plan.overrides:
        for o in plan.overrides:
            con.print(f"[cyan]override[/] {o['kind']}/{o['name']} by {o['who']} at {o['at']}"
                      + (f": {o['reason']}" if o.get("reason") else "") + f" ({short(o['merge'], 80)})")
    if plan.empty:
        con.print("[green]No changes.[/] Actual state matches the inventory.")
    else:
        t = Table(title=f"Plan {plan.id}", title_justify="left", header_style="bold", show_lines=False)
        for col in ("", "resource", "provider", "change", "why"):
            t.add_column(col, overflow="fold")
        limit = None if verbose else 200
        for c in plan.changes[:limit]:
            sym, color = SYMBOL[c.action]
            t.add_row(f"[{color}]{sym}[/]", escape(c.id), c.provider, escape("\n".join(change_lines(c))),
                      escape(c.reason))
        con.print(t)
        if limit is not None and len(plan.changes) > limit:
            con.print(f"… and {len(plan.changes) - limit} more changes (use -o json or --verbose)")
        s = plan.summary()
        con.print(f"Plan: [green]{s['create']} to create[/], [yellow]{s['update']} to update[/], "
                  f"[red]{s['delete']} to delete[/].")
    if plan.unmanaged:
        con.print(f"{len(plan.unmanaged)} resource(s) not managed by StreamVerse Control are left alone"
                  + (": " + ", ".join(plan.unmanaged[:5]) if plan.unmanaged else "")
                  + (" …" if len(plan.unmanaged) > 5 else ""))
    for r in plan.refusals:
        con.print(f"[bold yellow]guardrail[/] {escape('[' + r.name + ']')} {escape(r.message)}")


def plan_markdown(plan: Plan) -> str:
    s = plan.summary()
    lines = [f"### StreamVerse plan `{plan.id}`", "",
             f"**{s['create']}** to create, **{s['update']}** to update, **{s['delete']}** to delete"
             + (" — **refused by guardrails**" if plan.refusals else ""), ""]
    if plan.changes:
        lines += ["| | resource | provider | change | why |", "|---|---|---|---|---|"]
        for c in plan.changes:
            sym = SYMBOL[c.action][0]
            change = "<br>".join(_md(x) for x in change_lines(c))
            lines.append(f"| `{sym}` | `{c.id}` | {c.provider} | {change} | {_md(c.reason)} |")
    else:
        lines.append("No changes.")
    for r in plan.refusals:
        lines.append(f"- :warning: **{r.name}**: {_md(r.message)}")
    for o in plan.overrides:
        lines.append(f"- override {o['kind']}/{o['name']} by {o['who']} at {o['at']}: {_md(o.get('reason', ''))}")
    return "\n".join(lines) + "\n"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def drift_table(drift: list[Drift]) -> None:
    from rich.table import Table

    con = console()
    if not drift:
        con.print("[green]No drift.[/] Everything StreamVerse Control wrote is as it left it.")
        return
    t = Table(title="Drift: changed outside StreamVerse Control", title_justify="left", header_style="bold")
    for col in ("resource", "provider", "drift", "applied → actual"):
        t.add_column(col, overflow="fold")
    for d in drift:
        t.add_row(escape(d.id), d.provider, d.kind,
                  escape("\n".join(f"{f.path}: {short(f.before, 24)} → {short(f.after, 24)}" for f in d.fields[:6])))
    con.print(t)
    con.print(f"{len(drift)} resource(s) drifted. `plan` shows how to converge them; `diff` never acts.")
