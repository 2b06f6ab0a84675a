"""Health checks on every back-end that declares dns.healthcheck: a check edited on the system behind
the tool's back (its path) is seen by plan, field by field, and repaired. (Create, update and delete
of checks run in test_failover.py, with the records that use them.)"""

from __future__ import annotations

from typing import Any

import pytest

from streamverse_ctl.core.specs import FEATURE_HEALTHCHECK

from ..helpers import apply, apply_changes, plan, summary
from .backends import Backend
from .capabilities import failover, kinds_with

pytestmark = [pytest.mark.servers, pytest.mark.parametrize("backend", kinds_with(FEATURE_HEALTHCHECK), indirect=True)]


def test_health_check_edited_out_of_band_is_seen_by_plan(backend: Backend, health_endpoint: Any) -> None:
    p = backend.provider
    desired = failover(health_endpoint.port, path="/hc-drift-0")
    apply(p, desired)
    backend.edit_health_check_path("hc-drift-0", "hc-drift-9")
    changes = plan(p, desired)
    assert summary(changes) == [("update", "dns.healthcheck/www/us-east", ["path"])]
    assert (changes[0].fields[0].before, changes[0].fields[0].after) == ("/hc-drift-9", "/hc-drift-0")
    apply_changes(p, changes)
    assert plan(p, desired) == []
