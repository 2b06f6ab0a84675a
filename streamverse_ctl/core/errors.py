"""Errors that say what went wrong and whether to retry.

Only ``streamverse_ctl.cli`` turns these into exit codes and messages:
1 for errors, 3 for a refusal by a guardrail or a held lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class StreamverseError(Exception):
    """Base of every error the tool raises on purpose. ``str(err)`` is a user-facing message."""

    exit_code = 1
    hint: str | None = None


class PermanentError(StreamverseError):
    """Retrying will not help (bad credentials, invalid request, unsupported feature)."""


class TemporaryError(StreamverseError):
    """Retrying may help (throttling, 5xx, timeouts). ``delay`` is a suggested wait in seconds."""

    def __init__(self, message: str, delay: float = 1.0) -> None:
        super().__init__(message)
        self.delay = delay


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in an input file: where it is and what is wrong."""

    message: str
    file: str = ""
    line: int | None = None
    document: str = ""  # "Kind/name"
    field: str = ""  # dotted path, e.g. "spec.weights.us-east"

    def location(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        return where

    def __str__(self) -> str:
        parts = [self.location()]
        if self.document:
            parts.append(self.document)
        if self.field:
            parts.append(self.field)
        return ": ".join(parts) + f": {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "document": self.document,
            "field": self.field,
            "message": self.message,
        }


class InputError(PermanentError):
    """Bad input (inventory, runbook, plan file): carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem], what: str = "inventory") -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.field))
        self.what = what
        n = len(self.problems)
        super().__init__(f"{what} has {n} problem{'s' if n != 1 else ''}")

    def __str__(self) -> str:
        return "\n".join([self.args[0] + ":", *(f"  {p}" for p in self.problems)])


class UnsupportedFeature(PermanentError):
    """A provider was asked for something it declared it cannot do (raised at plan time)."""


@dataclass
class Refusal:
    """One reason a guardrail refused; ``name`` is what ``--force NAME`` overrides."""

    name: str
    message: str


class GuardrailRefused(StreamverseError):
    """A guardrail refused to write. Exit code 3."""

    exit_code = 3

    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__("refused by guardrail")

    def __str__(self) -> str:
        lines = ["refused by guardrail:"]
        lines += [f"  [{r.name}] {r.message}" for r in self.refusals]
        names = sorted({r.name for r in self.refusals})
        lines.append("override only if you are sure: " + " ".join(f"--force {n}" for n in names))
        return "\n".join(lines)


@dataclass
class LockInfo:
    name: str
    owner: str
    host: str
    pid: int
    acquired_at: str
    purpose: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class LockHeld(StreamverseError):
    """Another run holds the lock. Exit code 3."""

    exit_code = 3

    def __init__(self, info: LockInfo) -> None:
        self.info = info
        super().__init__(
            f"lock '{info.name}' is held by {info.owner}@{info.host} (pid {info.pid}) since "
            f"{info.acquired_at}" + (f" for {info.purpose}" if info.purpose else "")
        )
        self.hint = "wait for it to finish, or if that run is dead: streamverse ctl state unlock"


class StalePlan(StreamverseError):
    """A saved plan no longer matches the actual state. Exit code 1."""


class ProviderError(StreamverseError):
    """A provider failed talking to its backend; the message names the provider and the server."""


class Aborted(StreamverseError):
    """The user declined a confirmation or an approval."""


class StateError(PermanentError):
    """The state backend cannot be used as it is: the message names the location, the hint the way out.

    Exit code 1. Raised instead of ever replacing, emptying or silently creating a state.
    """

    def __init__(self, message: str, path: str = "", hint: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.hint = hint


class StateNotFound(StateError):
    """A state location given explicitly (``--state-dir``, ``STREAMVERSE_STATE_DIR``) does not exist."""


class StateReplaced(StateError):
    """The state was emptied or swapped: its lineage is not the one this location had."""


class StateCorrupt(StateError):
    """The state file is damaged (integrity check failed, not a database, 0 bytes, truncated)."""


class StateReadOnly(StateError):
    """The state location cannot be written (locks and the audit log need write access)."""


class StateInventoryMismatch(StateError):
    """The state holds resources applied by another inventory: planning here would delete them."""
