"""Why a run stopped (besides the core errors: GuardrailRefused, LockHeld, Aborted)."""

from __future__ import annotations

from ..core.errors import StreamverseError


class RunPaused(StreamverseError):
    """A gate did not pass (e.g. health regressed): the run is paused; ``runbook resume`` continues it."""


class StepFailed(StreamverseError):
    """A step failed after its retries (its compensating steps ran)."""


class PreconditionFailed(StreamverseError):
    """A runbook precondition is false: nothing was done."""
