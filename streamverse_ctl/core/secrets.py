"""Secrets come from environment variables or files, never from inventory text.

In an inventory a secret is a reference: ``{fromEnv: NAME}`` or ``{fromFile: PATH}``. It is
resolved only when a provider connects, wrapped in :class:`Secret` so that it never shows in a
``repr``, a log line, a plan or the audit log, and registered with :func:`redact` so that any
message that quotes it anyway is scrubbed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import PermanentError

_known_values: set[str] = set()

# Setting names that must be secret references, never plain strings.
SECRET_NAME = re.compile(r"(secret|password|passwd|token|api[_-]?key|tsig|private[_-]?key|credential)", re.I)


class Secret:
    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source
        if len(value) >= 4:
            _known_values.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(<from {self.source}>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.source)


def is_reference(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) in ({"fromEnv"}, {"fromFile"})


def resolve(ref: Mapping[str, str], what: str = "secret") -> Secret:
    """Resolve ``{fromEnv: NAME}`` or ``{fromFile: PATH}``; a clear error if it is missing."""
    if "fromEnv" in ref:
        name = ref["fromEnv"]
        value = os.environ.get(name)
        if value is None or value == "":
            raise PermanentError(f"{what}: environment variable {name} is not set")
        return Secret(value, f"env {name}")
    path = Path(os.path.expanduser(ref["fromFile"]))
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise PermanentError(f"{what}: cannot read secret file {path}: {exc.strerror}") from exc
    return Secret(value, f"file {path}")


def resolve_settings(settings: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Return settings with every secret reference (at any depth) resolved to a :class:`Secret`."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if is_reference(value):
            out[key] = resolve(value, f"{what} setting '{key}'")
        elif isinstance(value, Mapping):
            out[key] = resolve_settings(value, what)
        else:
            out[key] = value
    return out


def redact(text: str) -> str:
    """Replace every known secret value in ``text`` with ``***``."""
    for value in _known_values:
        if value in text:
            text = text.replace(value, "***")
    return text
