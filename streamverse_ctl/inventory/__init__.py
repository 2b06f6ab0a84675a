"""Inventory: YAML documents -> typed, validated model (with file/line for every problem)."""

from .loader import Document, load_inventory
from .model import Inventory

__all__ = ["Document", "Inventory", "load_inventory"]
