"""A rich progress display for applies (stages, changes done, failures)."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .common import console

if TYPE_CHECKING:
    from ..core.resources import Change


class RichReporter:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and console().is_terminal
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> RichReporter:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=console(), transient=False)
            self._progress.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def stage(self, label: str, total: int) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task(label, total=total)

    def started(self, changes: Sequence[Change]) -> None:
        pass

    def finished(self, changes: Sequence[Change], error: BaseException | None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, len(changes))
        if error is not None:
            console().print(f"[red]failed[/] {', '.join(c.id for c in changes)}: {error}")

    def note(self, text: str) -> None:
        console().print(f"[cyan]note:[/] {text}")
