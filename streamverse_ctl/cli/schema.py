"""``streamverse ctl schema``: the JSON Schema (draft 2020-12) of inventory documents.

Generated from the pydantic models of every registered kind, plugin kinds included (run it where
your ``plugins/`` directory is, or with ``STREAMVERSE_PLUGIN_PATH`` set). Editor set-up with
yaml-language-server (VS Code "YAML" extension, Neovim, Helix, ...)::

    streamverse ctl schema --out streamverse-inventory.schema.json

then either put a modeline at the top of each inventory file (path relative to that file)::

    # yaml-language-server: $schema=../../streamverse-inventory.schema.json

or map the schema to the inventory files once, e.g. in VS Code's settings.json::

    "yaml.schemas": {"./streamverse-inventory.schema.json": "inventories/**/*.yaml"}

The schema applies to each document of a multi-document file. It checks field names, types,
enums and patterns; cross-document rules (unknown regions, ladders, PoPs) are only checked by
``streamverse ctl validate``. Regenerate it after adding a plugin kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

OutOpt = Annotated[Path | None, typer.Option(
    "--out", help="Write the schema to FILE instead of standard output.", metavar="FILE")]


def command(out: OutOpt = None) -> None:
    """Write the JSON Schema (draft 2020-12) of inventory documents, for editors and CI.

    Example: streamverse ctl schema --out inventory.schema.json
    """
    import json
    import sys

    from ..core import registry
    from ..inventory.schema import inventory_schema, kind_models
    from .common import err_console

    schema = inventory_schema()
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    con = err_console()
    for error in registry.plugin_errors:
        con.print(f"[yellow]warning:[/] plugin not loaded: {error}", markup=True, highlight=False)
    _, broken = kind_models()
    for kind, why in sorted(broken.items()):
        con.print(f"[yellow]warning:[/] kind {kind} has no schema: {why}", markup=True, highlight=False)
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    kinds = schema["properties"]["kind"]["enum"]
    con.print(f"wrote {out}: schema of {len(kinds)} kinds ({', '.join(kinds)})", highlight=False)
