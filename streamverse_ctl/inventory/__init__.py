"""Inventory: YAML documents -> typed, validated model (with file/line for every problem).

The names below load on first use, so importing a submodule (e.g. ``inventory.registrations`` while
the registries start) does not import the YAML loader and pydantic models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loader import Document, load_inventory
    from .model import Inventory

__all__ = ["Document", "Inventory", "load_inventory"]


def __getattr__(name: str) -> Any:
    if name in ("Document", "load_inventory"):
        from . import loader

        return getattr(loader, name)
    if name == "Inventory":
        from .model import Inventory

        return Inventory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
