"""The controller's log: one line per event, as text or (``--log-format json``) one JSON object.

Every line passes a scrubber first: secret values the tool resolved (core.secrets), the values of
environment variables whose names say they are secrets (PGPASSWORD, *_TOKEN, *_API_KEY, ...) and
passwords in URLs are replaced by ``***``. Lines are written whole under a lock (the lease thread
logs too), so two events never interleave.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from ..core.secrets import SECRET_NAME, redact

URL_PASSWORD = re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?=@)", re.I)


def scrub(text: str) -> str:
    text = redact(text)
    for name, value in os.environ.items():
        if len(value) >= 4 and SECRET_NAME.search(name) and value in text:
            text = text.replace(value, "***")
    return URL_PASSWORD.sub(r"\g<pre>***", text)


class EventLog:
    def __init__(self, fmt: str = "text", stderr: bool = False) -> None:
        """``stderr``: text lines go to stderr (when stdout carries -o json/yaml ticks)."""
        self.json = fmt == "json"
        self.stream = sys.stderr if stderr and not self.json else sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: str, message: str = "", level: str = "info", **fields: Any) -> None:
        if self.json:
            record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                      "level": level, "event": event, **({"msg": message} if message else {}), **fields}
            line = scrub(json.dumps(record, default=str, separators=(",", ":")))
        else:
            line = scrub(message or f"{event} {fields}")
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()
