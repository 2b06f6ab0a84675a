"""What a controller replica knows of a leader lease, whichever backend keeps it (state or Kubernetes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LeaseView:
    holder: str
    host: str
    since: str  # when the current holder acquired it
    renewed_at: str
    ttl: float
    age: float  # seconds since the holder acquired it
    transitions: int = 0
