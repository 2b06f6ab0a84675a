"""Runbooks: typed, validated YAML procedures whose steps call registered actions.

A run is journaled step by step in the state backend, so it can be resumed after any interruption
without repeating a finished step; every step that changes the platform goes through the same
plan, guardrails, lock and audit log as ``apply``.
"""
