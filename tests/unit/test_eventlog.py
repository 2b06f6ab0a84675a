"""The controller's log lines (reconcile --log-format json): one JSON object per line, secrets scrubbed."""

from __future__ import annotations

import json

import pytest

from streamverse_ctl.cli.eventlog import EventLog, scrub
from streamverse_ctl.core.secrets import Secret


def test_scrub_resolved_secrets_secret_named_env_vars_and_url_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    Secret("tsig-value-93jd", "file /run/secrets/tsig")
    monkeypatch.setenv("PDNS_API_KEY", "pdns-key-7Hq2")
    monkeypatch.setenv("STREAMVERSE_INVENTORY", "inventories/demo")  # not a secret name: kept
    text = scrub("tsig-value-93jd | X-API-Key: pdns-key-7Hq2 | postgresql://sv:pg-pass-1@db:5432/s | "
                 "inventories/demo")
    assert text == "*** | X-API-Key: *** | postgresql://sv:***@db:5432/s | inventories/demo"


def test_json_lines_carry_ts_level_event_and_are_scrubbed(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "pg-secret-55")
    log = EventLog("json")
    log("reconcile.tick", level="error", status="error", detail="login failed with pg-secret-55")
    log("lease.acquired", "leader: this replica holds the lease", holder="h/1/a")
    lines = capsys.readouterr().out.splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "reconcile.tick" and first["level"] == "error" and first["ts"].endswith("Z")
    assert first["detail"] == "login failed with ***" and "pg-secret-55" not in lines[0]
    assert second == {"ts": second["ts"], "level": "info", "event": "lease.acquired",
                      "msg": "leader: this replica holds the lease", "holder": "h/1/a"}
