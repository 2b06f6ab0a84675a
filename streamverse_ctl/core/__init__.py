"""Shared vocabulary of every layer: errors, resources and changes, the plugin registry, secrets."""
