"""The state backend: locks, audit log, journals, plan fingerprints, overrides and failover state.

Actual resource state is never cached here: it is always read from providers.
"""

from .store import AuditEntry, JournalItem, StateStore, whoami

__all__ = ["AuditEntry", "JournalItem", "StateStore", "whoami"]
