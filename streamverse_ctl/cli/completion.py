"""``streamverse ctl completion`` and what TAB completes: kinds, document names, regions, traffic
policies, runbook names and guardrail names, for ``streamverse ctl`` and ``streamverse-ctl``.

The completers are attached by parameter name to the command tree built for a TAB (only then, see
``main._invoke``), so every verb that takes a ``region``, ``kind``, ``policy``, ``--force`` ... gets
them without each verb declaring them. A completer never fails a TAB: on any error it offers nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

PROGS = {"streamverse": "_STREAMVERSE_COMPLETE", "streamverse-ctl": "_STREAMVERSE_CTL_COMPLETE"}


def command(shell: Annotated[str, typer.Argument(help="bash, zsh, fish or pwsh")] = "bash") -> None:
    """Print the shell completion script: eval "$(streamverse ctl completion bash)".

    Example: eval "$(streamverse ctl completion bash)"
    """
    from typer._completion_shared import get_completion_script

    if shell not in ("bash", "zsh", "fish", "pwsh", "powershell"):
        raise typer.BadParameter(f"unsupported shell '{shell}' (bash, zsh, fish, pwsh)")
    prog = "streamverse-ctl" if Path(sys.argv[0]).name == "streamverse-ctl" else "streamverse"
    typer.echo(get_completion_script(prog_name=prog, complete_var=PROGS[prog], shell=shell))


def completing() -> bool:
    return any(os.environ.get(var) for var in PROGS.values())


# ----- what a TAB offers ------------------------------------------------------------------------

def _inventory(ctx: Any) -> Any:
    """The inventory's document kinds and names (read without validating it: see completion_names)."""
    from .common import DEFAULT_INVENTORY
    from .completion_names import read_names

    directory = ctx.params.get("inventory") or os.environ.get("STREAMVERSE_INVENTORY") or DEFAULT_INVENTORY
    return read_names(directory)


def kinds(ctx: Any, incomplete: str) -> list[str]:
    from ..core.registry import kinds as registry

    return [k for k in registry.names() if k.lower().startswith(incomplete.lower())]


def names(ctx: Any, incomplete: str) -> list[str]:
    """Names of documents of the kind given before (``get KIND NAME``, ``describe KIND NAME``)."""
    kind = str(ctx.params.get("kind") or "")
    wanted = {kind.lower(), kind.lower().rstrip("s")}
    return [d.name for d in _inventory(ctx).documents if d.kind.lower() in wanted and d.name.startswith(incomplete)]


def _of_kind(kind: str) -> Callable[[Any, str], list[str]]:
    def complete(ctx: Any, incomplete: str) -> list[str]:
        return [d.name for d in _inventory(ctx).of(kind) if d.name.startswith(incomplete)]

    return complete


regions = _of_kind("Region")
policies = _of_kind("TrafficPolicy")


def other_regions(ctx: Any, incomplete: str) -> list[str]:
    """``failover REGION --to``: the regions that could take its traffic."""
    source = ctx.params.get("region") or next(iter(ctx.args), None)  # a TAB leaves the argument in args
    return [r for r in regions(ctx, incomplete) if r != source]


def targets(ctx: Any, incomplete: str) -> list[str]:
    return [d.ref for d in _inventory(ctx).documents if d.ref.startswith(incomplete)]


def runbooks(ctx: Any, incomplete: str) -> list[str]:
    from ..runbook import loader

    return [n for n in loader.runbook_files(ctx.params.get("runbooks") or ()) if n.startswith(incomplete)]


def guardrails(ctx: Any, incomplete: str) -> list[str]:
    from ..engine.guardrails import FORCEABLE

    return [g for g in FORCEABLE if g.startswith(incomplete)]


def _completer(path: tuple[str, ...], param: str, siblings: Iterable[str]) -> Callable[[Any, str], list[str]] | None:
    if param == "kind":
        return kinds
    if param == "name" and "kind" in siblings:
        return names
    if param == "name" and "runbook" in path:
        return runbooks
    if param == "region":
        return regions
    if param == "to":
        return other_regions
    if param == "policy":
        return policies
    if param == "target":
        return targets
    if param == "force":
        return guardrails
    return None


def attach(cmd: Any, path: tuple[str, ...] = ()) -> None:
    """Give the parameters of every command under ``cmd`` their completer (by parameter name), and
    let a TAB parse the line without coercing values."""
    from typer._click.shell_completion import CompletionItem

    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        attach(sub, (*path, name))
    params = [p.name for p in getattr(cmd, "params", [])]
    if not path:
        from .rawparse import keep_values_as_typed

        keep_values_as_typed()
    for p in getattr(cmd, "params", []):
        fn = _completer(path, p.name, params)
        if fn is None:
            continue

        def complete(ctx: Any, _param: Any, incomplete: str, _fn: Callable[[Any, str], list[str]] = fn) -> list[Any]:
            try:
                return [CompletionItem(v) for v in _fn(ctx, incomplete)]
            except Exception:  # a TAB never fails: a broken inventory completes nothing
                return []

        p._custom_shell_complete = complete
