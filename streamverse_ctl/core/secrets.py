"""Secrets come from environment variables or files, never from inventory text.

In an inventory a secret is a reference: ``{fromEnv: NAME}`` or ``{fromFile: PATH}``. It is
resolved only when a provider connects, wrapped in :class:`Secret` so that it never shows in a
``repr``, a log line, a plan or the audit log, and registered with :func:`redact` so that any
message that quotes it anyway is scrubbed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import PermanentError

_known_values: set[str] = set()

# Setting names that must be secret references, never plain strings (at any depth: headers.X-API-Key).
SECRET_NAME = re.compile(r"(secret|password|passwd|token|api[_-]?key|tsig|private[_-]?key|credential|"
                         r"authorization|auth[_-]?header|cookie)", re.I)
# Header values that are credentials whatever the header is called (an HTTP authorization scheme).
SECRET_VALUE = re.compile(r"^\s*(bearer|basic|digest|token|apikey|negotiate|aws4-hmac-sha256)\s+\S", re.I)
HEADERS = re.compile(r"header", re.I)


def plain_secrets(settings: Any, prefix: str = "", in_headers: bool = False) -> list[str]:
    """Dotted paths of settings that hold a secret as plain text, in nested mappings and lists too: a
    secret-looking name whose value is not a reference, or, below a ``*header*`` setting, a value that
    looks like a credential (``Bearer ...``, ``Basic ...``)."""
    bad: list[str] = []
    items: Iterable[tuple[Any, Any]]
    if isinstance(settings, Mapping):
        if is_reference(settings):
            return []
        items = settings.items()
    elif isinstance(settings, list):
        items = enumerate(settings)
    else:
        return []
    for key, value in items:
        path = f"{prefix}{key}"
        if isinstance(value, Mapping | list) and not is_reference(value):
            headers = in_headers or (isinstance(key, str) and bool(HEADERS.search(key)))
            bad += plain_secrets(value, path + ".", headers)
        else:
            named = isinstance(key, str) and bool(SECRET_NAME.search(key)) and not is_reference(value) \
                and not key.lower().endswith(("name", "file"))
            looks = in_headers and isinstance(value, str) and bool(SECRET_VALUE.match(value))
            if named or looks:
                bad.append(path)
    return bad


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


def resolve(ref: Mapping[str, str], what: str = "secret", allowed: Iterable[Path] | None = None) -> Secret:
    """Resolve ``{fromEnv: NAME}`` or ``{fromFile: PATH}``; a clear error if it is missing.

    With ``allowed`` (the inventory root and the secrets directories), a file whose real path
    (symlinks resolved) is outside all of them is refused, not read."""
    if "fromEnv" in ref:
        name = ref["fromEnv"]
        value = os.environ.get(name)
        if value is None or value == "":
            raise PermanentError(f"{what}: environment variable {name} is not set")
        return Secret(value, f"env {name}")
    path = Path(os.path.expanduser(ref["fromFile"]))
    if allowed is not None:
        from .trust import SECRETS_HINT, within

        bases = list(allowed)
        if not within(path, bases):
            raise PermanentError(f"{what}: secret file {path} is outside the inventory root and the secrets "
                                 f"directories ({', '.join(map(str, bases))}); not read (see {SECRETS_HINT})")
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise PermanentError(f"{what}: cannot read secret file {path}: {exc.strerror}") from exc
    return Secret(value, f"file {path}")


def resolve_settings(settings: Mapping[str, Any], what: str, allowed: Iterable[Path] | None = None,
                     prefix: str = "") -> dict[str, Any]:
    """Return settings with every secret reference (at any depth, in mappings and lists) resolved to a
    :class:`Secret`; ``allowed`` confines ``fromFile`` as in :func:`resolve`."""
    bases = None if allowed is None else list(allowed)

    def one(value: Any, path: str) -> Any:
        if is_reference(value):
            return resolve(value, f"{what} setting '{path}'", bases)
        if isinstance(value, Mapping):
            return {k: one(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [one(v, f"{path}.{i}") for i, v in enumerate(value)]
        return value

    return {key: one(value, f"{prefix}{key}") for key, value in settings.items()}


def redact(text: str) -> str:
    """Replace every known secret value in ``text`` with ``***``."""
    for value in _known_values:
        if value in text:
            text = text.replace(value, "***")
    return text
