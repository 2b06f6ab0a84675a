"""Run events: what the engine reports while it runs (the CLI renders them live or as JSON lines).

Every event is a flat JSON-able mapping with ``event`` (``run.start``, ``step.start``,
``step.plan``, ``step.note``, ``step.wait``, ``step.done``, ``step.skip``, ``step.reuse``,
``step.retry``, ``step.fail``, ``approval``, ``run.finish``), ``run_id``, ``at`` and the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..state.store import now


class EventSink(Protocol):
    def __call__(self, event: dict[str, Any]) -> None: ...


class Events:
    """Stamps events with the run id and time and hands them to the sinks."""

    def __init__(self, sinks: list[Callable[[dict[str, Any]], None]] | None = None) -> None:
        self.sinks = list(sinks or [])
        self.run_id = ""

    def __call__(self, event: str, **data: Any) -> None:
        payload = {"event": event, "run_id": self.run_id, "at": now(), **data}
        for sink in self.sinks:
            sink(payload)
