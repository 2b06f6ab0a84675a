"""The DNS verbs as an SRE uses them, on a real PowerDNS (LUA records): apply, verify, set-weights
checked by real queries, the override shown by plan, drift made behind the tool's back, a wrong key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.inventory import demo_on_powerdns

pytestmark = [pytest.mark.servers]

SV = str(Path(sys.executable).parent / "streamverse")
ZONE = "sv.example."


def _inventory(demo: Path, pdns: object) -> None:
    regions = demo.parent / "base" / "regions.yaml"  # one distinct answer per region (never contacted)
    regions.write_text(regions.read_text().replace("198.51.100.", "127.0.100."))
    demo_on_powerdns(demo, pdns, ZONE, patches="""\
    - target: {kind: TrafficPolicy, name: www}
      merge: {spec: {healthCheck: null}}
""")


@pytest.fixture
def sv(pdns, demo_copy: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    _inventory(demo_copy, pdns)
    (tmp_path / "state").mkdir()  # an explicit state location must exist
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "STREAMVERSE_INVENTORY": str(demo_copy),
           "PDNS_API_KEY": pdns.api_key, "COLUMNS": "200"}

    def run(*args: str, code: int = 0, **extra: str) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env={**env, **extra},
                           stdin=subprocess.DEVNULL, timeout=120)
        assert p.returncode == code, f"{args}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
        assert "Traceback" not in p.stderr
        return p

    run("apply", "--yes")
    return run


def shares(sv, pdns, n: int = 400) -> dict[str, float]:  # type: ignore[no-untyped-def]
    got = json.loads(sv("dns", "query", f"www.{ZONE}", "--server", pdns.address, "-n", str(n), "-o", "json").stdout)
    total = sum(got["answers"].values())
    return {ip: count / total for ip, count in got["answers"].items()}


def test_apply_verify_set_weights_and_query(sv, pdns) -> None:  # type: ignore[no-untyped-def]
    assert "yes" in sv("dns", "verify", "www").stdout
    before = shares(sv, pdns)
    assert set(before) == {f"127.0.100.{n}" for n in (10, 20, 30, 40, 50, 60)}
    assert abs(before["127.0.100.10"] - 0.30) < 0.08  # us-east 30 of 100

    out = sv("dns", "set-weights", "www", "us-east=0", "us-west=50", "--yes", "-m", "drill").stdout
    assert "Applied 2 change(s)" in out and "Verified 6/6" in out  # the whole weighted name, by real queries
    after = shares(sv, pdns)
    assert "127.0.100.10" not in after  # us-east gets nothing
    assert abs(after["127.0.100.20"] - 0.50) < 0.08  # us-west 50 of 100
    sv("dns", "verify", "www")

    plan = sv("plan", "--detailed-exitcode").stdout  # the override is deliberate: no change, and named
    assert "No changes" in plan and "drill" in plan
    audit = json.loads(sv("state", "audit", "-o", "json").stdout)
    assert any(e["action"] == "override.set" and e["detail"]["reason"] == "drill" for e in audit)


def test_change_behind_the_back_shows_as_drift(sv, pdns) -> None:  # type: ignore[no-untyped-def]
    rrsets = pdns.api("GET", f"/zones/{ZONE}")["rrsets"]
    lua = next(r for r in rrsets if r["name"] == f"www.{ZONE}" and r["type"] == "LUA")
    content = lua["records"][0]["content"]
    assert "30" in content
    tampered = content.replace("{30,", "{1,", 1) if "{30," in content else content.replace("30", "1", 1)
    pdns.api("PATCH", f"/zones/{ZONE}", {"rrsets": [{
        "name": lua["name"], "type": "LUA", "ttl": lua["ttl"], "changetype": "REPLACE",
        "records": [{"content": tampered, "disabled": False}], "comments": lua.get("comments", [])}]})
    diff = sv("diff", "--detailed-exitcode", code=2).stdout
    assert "us-east" in diff and "weight" in diff
    sv("plan", "--detailed-exitcode", code=2)
    assert "Verified 6/6" in sv("apply", "--yes").stdout
    sv("diff", "--detailed-exitcode")


def test_wrong_api_key_is_a_clear_error_that_writes_nothing(sv, pdns) -> None:  # type: ignore[no-untyped-def]
    bad = sv("dns", "set-weights", "www", "us-east=10", "--yes", code=1, PDNS_API_KEY="not-the-key")
    assert "powerdns" in bad.stderr.lower() and "not-the-key" not in bad.stderr + bad.stdout
    assert shares(sv, pdns, 200).get("127.0.100.10", 0) > 0.15  # us-east still at its 30
