"""The ``backend`` fixture: one DNS provider back-end per parameter (see backends.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .backends import Backend, make_backend


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The back-end named by the test's ``kind`` parameter, on a fresh zone."""
    b = make_backend(request.param, request, tmp_path)
    yield b
    b.close()
