"""Plan (diff, order, guardrails), apply (lock, journal, audit) and verify."""
