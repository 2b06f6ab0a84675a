"""Rendering plans and drift for people: rich tables and Markdown (for pull-request comments)."""

from __future__ import annotations

import re
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


COMMENT_LIMIT = 65_536  # characters in a GitHub pull-request comment
FOLD_ABOVE = 20  # changes: a longer plan folds into one <details> per provider and resource type
FULL_PLAN_HINT = "`streamverse ctl plan -o json --out plan.json` (or the CI job's plan artifact)"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")  # what can start emphasis, code, links, HTML or a cell


def plan_markdown(plan: Plan, limit: int = COMMENT_LIMIT) -> str:
    """The plan as a pull-request comment: every cell escaped, long plans folded per provider and
    type, the whole at most ``limit`` characters (the rest is counted and pointed to)."""
    s = plan.summary()
    head = [f"### StreamVerse plan `{plan.id}`", "",
            f"**{s['create']}** to create, **{s['update']}** to update, **{s['delete']}** to delete"
            + (" — **refused by guardrails**" if plan.refusals else ""), ""]
    tail = [f"- :warning: **{md(r.name)}**: {md(r.message)}" for r in plan.refusals]
    tail += [f"- override {md(o['kind'])}/{md(o['name'])} by {md(o['who'])} at {md(o['at'])}: "
             f"{md(o.get('reason', ''))}" for o in plan.overrides]
    if not plan.changes:
        return "\n".join([*head, "No changes.", *tail]) + "\n"
    table_head = ["| | resource | provider | change | why |", "|---|---|---|---|---|"]
    groups: dict[tuple[str, str], list[Change]] = {}
    for c in plan.changes:
        groups.setdefault((c.provider, c.type), []).append(c)
    fold = len(plan.changes) > FOLD_ABOVE
    reserve = 400  # the truncation note and a closing </details>
    budget = limit - len("\n".join(head + tail)) - reserve
    body: list[str] = []
    shown = 0
    used = 0

    def add(line: str) -> bool:
        nonlocal used
        if used + len(line) + 1 > budget:
            return False
        body.append(line)
        used += len(line) + 1
        return True

    full = True
    for (provider, type_), changes in groups.items():
        if fold:
            counts = ", ".join(f"{n} to {a}" for a in ("create", "update", "delete")
                               if (n := sum(1 for c in changes if c.action == a)))
            if not add(f"<details><summary>{_html(provider)} · {_html(type_)}: {counts}</summary>\n"):
                full = False
                break
        if not all(add(x) for x in table_head):
            full = False
        for c in changes if full else []:
            if not add(_row(c)):
                full = False
                break
            shown += 1
        if fold:
            body.append("\n</details>\n")
            used += len(body[-1]) + 1
        if not full:
            break
    if not full:
        body += ["", f"**{len(plan.changes) - shown} of {len(plan.changes)} changes are not shown** (a comment holds "
                     f"at most {limit:,} characters): the full plan is {FULL_PLAN_HINT}."]
    return "\n".join([*head, *body, *([""] if tail else []), *tail]) + "\n"


def _row(c: Change) -> str:
    change = "<br>".join(md(x) for x in change_lines(c))
    return f"| `{SYMBOL[c.action][0]}` | {_code(c.id)} | {md(c.provider)} | {change} | {md(c.reason)} |"


def md(text: Any) -> str:
    """Text safe in a Markdown table cell: special characters backslash-escaped, one line."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("&", "&amp;").replace("\r", " ").replace("\n", " ")


def _code(text: str) -> str:
    """A code span in a table cell (pipes still escaped, per GFM); text with a backtick is escaped instead."""
    if "`" in text or "\n" in text:
        return md(text)
    return "`" + text.replace("|", "\\|") + "`"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
