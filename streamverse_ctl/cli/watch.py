"""``--watch`` for read-only verbs (``status``, ``get``): refresh in place until Ctrl-C or ``--count``.

A table is redrawn in place with rich Live; ``-o json`` prints one JSON document per line per refresh,
``-o yaml`` a multi-document stream (the same shapes as without ``--watch``). Ctrl-C (SIGINT) ends the
watch cleanly with exit code 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from .common import Output

WatchOpt = Annotated[bool, typer.Option("--watch", "-w", help="Refresh in place until Ctrl-C (or --count).")]
IntervalOpt = Annotated[float, typer.Option("--interval", metavar="SECONDS", min=0.1,
                                            help="Seconds between refreshes with --watch.")]
CountOpt = Annotated[int, typer.Option("--count", metavar="N", min=0,
                                       help="With --watch: stop after N refreshes (0: until Ctrl-C).")]


def watch(gather: Callable[[], Any], render: Callable[[Any], Any], output: Output, interval: float,
          count: int) -> None:
    """Call ``gather`` every ``interval`` seconds; show its result with ``render`` (a rich renderable)
    for a table, or as a JSON line / YAML document."""
    from .common import console, emit_event

    n = 0
    try:
        if output != Output.table:
            while True:
                emit_event(gather(), output)
                n += 1
                if count and n >= count:
                    return
                time.sleep(interval)
        from rich.live import Live

        with Live(console=console(), auto_refresh=False, transient=False) as live:
            while True:
                live.update(render(gather()), refresh=True)
                n += 1
                if count and n >= count:
                    return
                time.sleep(interval)
    except KeyboardInterrupt:
        return
