"""``runbook show``: a runbook as a Markdown checklist a person can follow by hand."""

from __future__ import annotations

import json
from typing import Any

from .loader import LoadedRunbook
from .model import Step

ACTION_HINTS = {
    "dns.set_weights": "`streamverse ctl dns set-weights {policy} REGION=WEIGHT ...`",
    "dns.clear_override": "`streamverse ctl dns clear-override {policy}`",
    "dns.verify": "`streamverse ctl diff` and query the authoritative servers",
    "apply": "`streamverse ctl apply --target ...`",
    "sleep": "wait",
}


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _step_lines(step: Step, number: str, indent: str = "") -> list[str]:
    lines = [f"{indent}- [ ] **{number}. {step.title}** — action `{step.action}` (step `{step.id}`)"]
    sub = indent + "  "
    if step.description:
        lines.append(f"{sub}{step.description.strip()}")
    if step.when:
        lines.append(f"{sub}- only when: `{step.when}`")
    if step.approve:
        q = step.approve if isinstance(step.approve, str) else "proceed?"
        lines.append(f"{sub}- [ ] **approval needed**: {q}")
    if step.for_each is not None:
        lines.append(f"{sub}- repeat for each of: `{_fmt(step.for_each)}` (as `item`)"
                     + (f", waiting `{step.interval}` between" if step.interval is not None else ""))
    for key, value in step.with_.items():
        lines.append(f"{sub}- `{key}`: `{_fmt(value)}`")
    hint = ACTION_HINTS.get(step.action)
    if hint:
        try:
            lines.append(f"{sub}- by hand: {hint.format(**{k: _fmt(v) for k, v in step.with_.items()})}")
        except (KeyError, IndexError):
            lines.append(f"{sub}- by hand: {hint}")
    if step.force:
        lines.append(f"{sub}- may override guardrail(s): {', '.join(step.force)}")
    if step.optional:
        lines.append(f"{sub}- optional: skipped (nothing changed) where only the sim platform serves what it changes")
    if step.retry.attempts > 1:
        lines.append(f"{sub}- retry up to {step.retry.attempts} times, {step.retry.delay} apart")
    if step.wait_until is not None:
        w = step.wait_until
        lines.append(f"{sub}- [ ] then wait until {w.description or 'the condition holds'}: `{w.condition}` "
                     f"(check every {w.poll}, give up after {w.timeout}: "
                     f"{'pause and investigate' if w.on_timeout == 'pause' else 'the step fails'})")
    if step.on_failure:
        lines.append(f"{sub}- if it fails:")
        for i, c in enumerate(step.on_failure, 1):
            lines += _step_lines(c, f"{number}.{i}", sub + "  ")
    return lines


def to_markdown(rb: LoadedRunbook) -> str:
    m = rb.model
    out = [f"# Runbook: {m.name}", "", m.description.strip(), "", f"Source: `{rb.path}`", ""]
    if m.parameters:
        out += ["## Parameters", "", "| name | type | default | description |", "|---|---|---|---|"]
        for name, p in m.parameters.items():
            default = "**required**" if p.required else f"`{_fmt(p.default)}`"
            extra = f" (one of {p.allowed})" if p.allowed else ""
            out.append(f"| `{name}` | {p.type} | {default} | {p.description}{extra} |")
        out.append("")
    if m.preconditions:
        out += ["## Before you start", ""]
        out += [f"- [ ] {pc.message} (`{pc.condition}`)" for pc in m.preconditions]
        out.append("")
    out += ["## Steps", ""]
    for i, step in enumerate(m.steps, 1):
        out += _step_lines(step, str(i))
    if m.outputs:
        out += ["", "## Record when done", ""]
        out += [f"- [ ] {name}: `{_fmt(v)}`" for name, v in m.outputs.items()]
    out += ["", f"Automated: `streamverse ctl runbook run {m.name} --set KEY=VALUE ...` "
                "(`--dry-run` first to see every plan).", ""]
    return "\n".join(out)
