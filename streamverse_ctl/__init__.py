"""StreamVerse Control: the operations CLI and reconciler for the StreamVerse video platform.

Layers, highest first (checked by import-linter, see pyproject.toml):
cli > runbook > engine > providers > compiler > inventory > state > core.
"""

__version__ = "0.1.0"
API_VERSION = "streamverse.io/v1"
