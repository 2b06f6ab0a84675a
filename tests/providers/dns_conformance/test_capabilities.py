"""Every back-end declares exactly the capabilities the suite tests it for, and every capability
it does not declare is refused at plan time (``Provider.check``, which the engine runs before any
plan), naming the provider, the capability and the document that needs it: never silently served."""

from __future__ import annotations

from pathlib import Path

import pytest

from .backends import KINDS, Backend
from .capabilities import DECLARED, needing, undeclared

pytestmark = pytest.mark.servers


@pytest.mark.parametrize("backend", KINDS, indirect=True)
def test_declared_capabilities_match_the_suite(backend: Backend) -> None:
    assert backend.capabilities == DECLARED[backend.kind]
    assert all(backend.provider.serves(t) for t in ("dns.record", "dns.healthcheck"))


@pytest.mark.parametrize(("backend", "feature"), undeclared(), indirect=["backend"])
def test_undeclared_capability_is_refused_at_plan_time(backend: Backend, feature: str, tmp_path: Path) -> None:
    desired = needing(feature, tmp_path)
    problems = backend.provider.check([desired])
    assert len(problems) == 1, problems
    [msg] = problems
    p = backend.provider
    assert f"provider '{p.name}' ({p.type_name()})" in msg and feature in msg and desired.origin in msg, msg
