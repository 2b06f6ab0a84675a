"""How a runbook run is shown: a rich live view (steps, DNS weights, health), plain lines, or JSON lines."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.markup import escape

from .common import console

ICONS = {"pending": "[dim]·[/]", "running": "[cyan]▶[/]", "done": "[green]✓[/]", "skipped": "[dim]↷[/]",
         "failed": "[red]✗[/]", "refused": "[yellow]⊘[/]", "paused": "[yellow]⏸[/]", "reused": "[green]✓[/]"}


def json_lines(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _line(event: dict[str, Any]) -> str | None:
    kind = event["event"]
    step = escape(str(event.get("title") or event.get("step") or ""))
    if kind == "run.start":
        mode = " (dry run: nothing is written)" if event.get("dry_run") else ""
        resumed = f" resumed (was {event.get('was')})" if event.get("resumed") else ""
        return f"[bold]runbook {event['runbook']}[/] run {event['run_id']}{resumed}{mode}"
    if kind == "step.start":
        return f"{ICONS['running']} {step}"
    if kind == "step.done":
        extra = " (found done after the interruption)" if event.get("rechecked") else ""
        changed = (event.get("outputs") or {}).get("changed")
        if changed and isinstance(changed, str):  # what it changed, on which system
            extra += f" [dim]— {escape(changed)}[/]"
        return f"{ICONS['done']} {step}{extra}"
    if kind == "step.reuse":
        return f"{ICONS['reused']} {step} [dim](already {event.get('status')} in this run)[/]"
    if kind == "step.skip":
        reason = str(event.get("reason"))
        if reason.startswith("skipped:"):  # nothing real serves what it changes: not a quiet skip
            return f"{ICONS['skipped']} {step} [yellow]{escape(reason)}[/]"
        return f"{ICONS['skipped']} {step} [dim]skipped ({escape(reason)})[/]"
    if kind == "step.fail":
        return f"{ICONS.get(event.get('status', 'failed'), ICONS['failed'])} {step}: {escape(str(event.get('error')))}"
    if kind == "step.retry":
        return f"[yellow]↻[/] {step}: attempt {event['attempt']} failed ({escape(str(event['error']))}); retrying"
    if kind == "step.plan":
        s = event["summary"]
        lines = [f"    plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete"]
        for c in event.get("changes", [])[:12]:
            fields = ", ".join(f"{f['path']}: {f['before']} → {f['after']}" for f in c["fields"][:3]
                               ) if c["action"] == "update" else ""
            lines.append(f"      {c['action']} {escape(c['id'])}" + (f" ({escape(fields)})" if fields else ""))
        for r in event.get("refusals", []):
            lines.append(f"      [yellow]guardrail[/] \\[{r['name']}] {escape(r['message'])}")
        return "\n".join(lines)
    if kind == "step.note":
        return f"    [cyan]note:[/] {escape(str(event['text']))}"
    if kind == "step.ansible" and event.get("status") in ("failed", "unreachable", "task"):
        return f"    ansible {event['status']}: {escape(str(event.get('task')))} {escape(str(event.get('msg') or ''))}"
    if kind == "approval":
        return f"    [magenta]approval[/] {escape(str(event['question']))}: {event['result']}"
    if kind == "run.finish":
        color = "green" if event["status"] in ("done", "dry-run") else "yellow"
        return f"[{color}]run {event['run_id']} {event['status']}[/]"
    return None


class PlainPrinter:
    """One line per event, for logs and terminals without live rendering."""

    def __call__(self, event: dict[str, Any]) -> None:
        line = _line(event)
        if line is not None:
            console().print(line, highlight=False)


class LiveDisplay:
    """A live view: the steps with their state, plus the current DNS weights and region health."""

    def __init__(self, steps: list[str], snapshot: Callable[[], dict[str, Any]]) -> None:
        from rich.live import Live

        self.status: dict[str, str] = {s: "pending" for s in steps}
        self.titles: dict[str, str] = {}
        self.detail: dict[str, str] = {}
        self.log: list[str] = []
        self.snapshot = snapshot
        self._snap: dict[str, Any] = {}
        self._snap_at = 0.0
        self.live = Live(self._render(), console=console(), refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveDisplay:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._snap_at = float("-inf")  # the last frame shows the state after the run, never a cached snapshot
        self.live.update(self._render())
        self.live.stop()

    def pause(self) -> None:
        self.live.stop()

    def resume(self) -> None:
        self.live.start()

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        step = str(event.get("step", ""))
        top = step.split("[", 1)[0].split("/", 1)[0]
        if kind == "run.start":
            for s in event.get("steps", []):
                self.status.setdefault(s, "pending")
        if event.get("title") and step == top:
            self.titles[top] = str(event["title"])
        if kind == "step.start":
            self.status[top] = "running"
            self.detail[top] = str(event.get("title", ""))
        elif kind in ("step.done", "step.reuse") and step == top:
            self.status[top] = "done"
        elif kind == "step.done":
            self.detail[top] = f"{event.get('title')} done"
        elif kind == "step.skip":
            self.status[top] = "skipped"
            self.detail[top] = str(event.get("reason", ""))
        elif kind == "step.fail":
            self.status[top] = str(event.get("status", "failed"))
            self.detail[top] = str(event.get("error", ""))
        elif kind == "step.wait":
            self.detail[top] = f"{event.get('text')} ({event.get('remaining')} s left)"
        line = _line(event)
        if line is not None and kind in ("step.note", "approval", "step.retry", "step.plan", "run.finish"):
            self.log = (self.log + line.splitlines())[-10:]
        self.live.update(self._render())

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        steps = Table(title="Steps", title_justify="left", show_header=False, box=None)
        for s, st in self.status.items():
            steps.add_row(ICONS.get(st, st), escape(self.titles.get(s, s)), f"[dim]{escape(self.detail.get(s, ''))}[/]")
        if time.monotonic() - self._snap_at > 2.0:
            try:
                self._snap = self.snapshot()
            except Exception as exc:  # the view must never stop the run
                self._snap = {"error": str(exc)}
            self._snap_at = time.monotonic()
        traffic = Table(title="DNS weights and health", title_justify="left", header_style="bold")
        for col in ("region", "weight", "health"):
            traffic.add_column(col)
        weights = self._snap.get("weights", {})
        health = self._snap.get("health", {})
        for region in sorted(set(weights) | set(health)):
            ok = health.get(region, True)
            traffic.add_row(region, str(weights.get(region, "-")), "[green]up[/]" if ok else "[red]DOWN[/]")
        parts: list[Any] = [steps, traffic]
        if "hit_ratio" in self._snap:
            parts.append(f"CDN hit ratio {self._snap['hit_ratio'] * 100:.1f} %")
        parts += self.log
        return Group(*parts)
