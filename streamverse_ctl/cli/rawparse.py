"""Parsing a command line without typer's value coercion, for a TAB and a bare ``--help``.

Not a verb module (``ctl --help`` must import none of those).
"""

from __future__ import annotations

from typing import Any


def keep_values_as_typed() -> None:
    """A TAB only parses the line to find what to complete, and ``--help`` only prints: values stay as
    typed (strings), because typer's coercion builds pydantic adapters and importing pydantic costs
    ~0.05 s for nothing. Only in the process of a TAB or a bare help request (``main``); completers
    that need a value's type convert it themselves."""
    from dataclasses import dataclass

    from typer._coercion import RuntimeParam
    from typer.core import _TyperParameter

    @dataclass(frozen=True)
    class AsTyped(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            return value

    def raw(self: Any) -> Any:
        if self._runtime_param is None:
            d = self.type_descriptor
            self._runtime_param = AsTyped(parameter_info=d.parameter_info, annotation=d.annotation)
        return self._runtime_param

    _TyperParameter.get_runtime_param = raw  # type: ignore[method-assign]
