"""Compile a validated inventory into provider-neutral resources, bound to provider instances.

The names below load on first use, so importing ``compiler.registrations`` while the registries
start does not import the compiler (and the inventory models) itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compile import Binding, Compiled, CompileInput, Override, compile_inventory

__all__ = ["Binding", "CompileInput", "Compiled", "Override", "compile_inventory"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import compile as _compile

        return getattr(_compile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
