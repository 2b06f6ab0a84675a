"""``streamverse ctl plugins``: what is registered in each registry, and from where.

Registries: ``providers``, ``kinds``, ``resource_types``, ``actions``, ``verbs`` (see
:mod:`streamverse_ctl.core.registry`
for the entry point groups and the plugin directories). Origin is ``builtin``, ``entry point
(<distribution>)`` or the path of the plugin file that registered the entry. Plugin files load only
from directories the user names (``--plugin-dir DIR``, ``STREAMVERSE_PLUGIN_PATH``); the list says
which were searched, and how to enable a ``./plugins`` directory that exists but was not named.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import Output, OutputOpt

app = typer.Typer(help="List the registered providers, kinds, runbook actions and CLI verbs.",
                  no_args_is_help=True, rich_markup_mode=None)

LoadOpt = Annotated[bool, typer.Option(
    "--load", help="Import every entry (not just the ones this run used) and report those that fail.")]
RegistryOpt = Annotated[list[str] | None, typer.Option(
    "--registry", "-r", metavar="NAME",
    help="Only these registries: providers, kinds, resource_types, actions, verbs (repeatable).")]


@app.callback()
def _group() -> None:
    """List the registered providers, kinds, runbook actions and CLI verbs."""


def collect(load: bool = False, only: list[str] | None = None) -> dict[str, Any]:
    """Every registry entry as plain data, plus the plugin directories searched and load errors."""
    from ..core import registry
    from ..core.errors import PermanentError

    registry.load_plugins()
    unknown = sorted(set(only or []) - set(registry.REGISTRIES))
    if unknown:
        raise typer.BadParameter(f"unknown registry {', '.join(unknown)} (known: "
                                 f"{', '.join(registry.REGISTRIES)})", param_hint="--registry")
    entries: list[dict[str, Any]] = []
    for reg_name, reg in registry.REGISTRIES.items():
        if only and reg_name not in only:
            continue
        for entry in reg.entries():
            error = None
            if load and not entry.loaded:
                try:
                    reg.get(entry.name)
                except PermanentError as exc:
                    error = str(exc)
            entries.append({"registry": reg_name, "name": entry.name, "target": entry.target,
                            "origin": entry.origin, "loaded": entry.loaded, "error": error})
    unnamed = registry.unnamed_cwd_plugins()
    return {
        "entries": entries,
        "pluginDirs": [str(d) for d in registry.plugin_dirs()],
        "searched": [str(d) for d in registry.named_plugin_dirs()],
        "notLoaded": None if unnamed is None else {"dir": str(unnamed), "hint": enable_hint(unnamed)},
        "errors": list(registry.plugin_errors),
    }


def enable_hint(directory: Any) -> str:
    return (f"{directory} exists but is not loaded (plugin files are code: only directories you name load); "
            "to enable it: streamverse ctl --plugin-dir ./plugins ... or "
            f"export STREAMVERSE_PLUGIN_PATH={directory}")


@app.command("list")
def list_(output: OutputOpt = Output.table, load: LoadOpt = False, registry: RegistryOpt = None) -> None:
    """Show every registry entry: name, target, origin (builtin, entry point, plugin file), loaded.

    Example: streamverse ctl plugins list -r providers
    """
    from .common import console, emit

    data = collect(load=load, only=registry)

    def table() -> None:
        from rich.table import Table

        t = Table(header_style="bold")
        for column in ("registry", "name", "loaded"):
            t.add_column(column, no_wrap=True)
        t.add_column("target", overflow="fold")
        t.add_column("origin", overflow="fold")
        for e in data["entries"]:
            t.add_row(e["registry"], e["name"], "[red]error[/]" if e["error"] else ("yes" if e["loaded"] else "no"),
                      e["target"], _short_path(e["origin"]))
        con = console()
        con.print(t)
        for e in data["entries"]:
            if e["error"]:
                con.print(f"[red]✗[/] {e['registry']} {e['name']}: {e['error']}", markup=True)
        dirs = ", ".join(data["pluginDirs"]) or "none (no --plugin-dir given, STREAMVERSE_PLUGIN_PATH unset)"
        con.print(f"plugin directories searched: {dirs}", markup=False)
        if data["notLoaded"]:
            con.print(f"note: {data['notLoaded']['hint']}", markup=False)
        for error in data["errors"]:
            con.print(f"[red]plugin error:[/] {error}", markup=True)

    emit(data, output, table)


def _short_path(origin: str) -> str:
    """A plugin file's path relative to the current directory when it is below it."""
    import os

    if os.path.isabs(origin):
        rel = os.path.relpath(origin)
        if not rel.startswith(".."):
            return rel
    return origin
