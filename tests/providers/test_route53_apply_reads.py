"""Route 53 (a real moto server) through the engine: an apply reads the zone once, the change
batch is the re-check under the lock, and verification reads only the changed names.

moto is the only Route 53 API that runs here; it checks fewer batch preconditions than AWS (see
``Route53Provider.preconditions_checked``), so the refusal below uses the one it does check: a
CREATE of a record set someone created since the plan read the zone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from streamverse_ctl.core.errors import StalePlan
from streamverse_ctl.engine.apply import apply_plan
from streamverse_ctl.engine.workspace import Workspace
from tests.unit.helpers import doc, write

pytestmark = [pytest.mark.servers]

ZONE = "reads.example."
N = 650  # three pages of ListResourceRecordSets (with NS, SOA and the registry)


def _inventory(tmp_path: Path, moto: Any, names: range, extra: int = 0) -> Path:
    provider = doc("Provider", "r53", {"type": "route53", "serves": {"types": ["dns.*"], "zones": [ZONE]},
                                       "settings": {"zone": ZONE, "endpointUrl": moto.url}})
    records = "---\n".join(doc("DnsRecord", f"h{i}", {"zone": ZONE, "name": f"h{i}", "type": "A",
                                                      "values": [f"10.0.{i // 250}.{i % 250 + 1}"]})
                           for i in [*names, *range(N, N + extra)])
    return write(tmp_path / "inv", {"providers.yaml": provider, "dns.yaml": records})


@pytest.fixture
def zone(moto: Any) -> Any:
    client = boto3.client("route53", endpoint_url=moto.url, region_name="us-east-1")
    client.create_hosted_zone(Name=ZONE, CallerReference="reads")
    return client


def _workspace(inv: Path, tmp_path: Path) -> Workspace:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    return Workspace(inv, state_dir=state)


def _calls(ws: Workspace) -> Any:
    return ws.provider("r53").api_calls  # type: ignore[attr-defined]


def test_apply_reads_the_zone_once_and_verifies_only_the_changed_names(moto: Any, zone: Any,
                                                                      tmp_path: Path) -> None:
    ws = _workspace(_inventory(tmp_path, moto, range(N)), tmp_path)
    try:
        result = apply_plan(ws, ws.plan())
        assert result.applied == N and result.verified
    finally:
        ws.close()
    # two more records: plan outside the lock (as `dns` one-off verbs do), apply, verify
    ws = _workspace(_inventory(tmp_path, moto, range(N), extra=2), tmp_path)
    try:
        plan = ws.plan()
        assert [c.action for c in plan.changes] == ["create", "create"]
        calls = _calls(ws)
        listed_by_plan = calls["ListResourceRecordSets"]
        assert listed_by_plan == 3
        calls.clear()
        result = apply_plan(ws, plan)
        assert result.applied == 2 and result.verified and len(result.verify) == 2
        # no second read of the zone for the re-check; one lookup per changed name to verify
        assert calls["ListResourceRecordSets"] == 2, dict(calls)
        assert calls["ChangeResourceRecordSets"] == 1
    finally:
        ws.close()


def test_a_record_created_since_the_plan_is_refused_by_the_batch_itself(moto: Any, zone: Any,
                                                                          tmp_path: Path) -> None:
    ws = _workspace(_inventory(tmp_path, moto, range(3)), tmp_path)
    try:
        plan = ws.plan()
        assert len(plan.changes) == 3
        zone_id = zone.list_hosted_zones()["HostedZones"][0]["Id"]
        # someone else creates h1 (with the value the plan would write) after the plan read the zone
        zone.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
            "Action": "CREATE", "ResourceRecordSet": {"Name": f"h1.{ZONE}", "Type": "A", "TTL": 300,
                                                      "ResourceRecords": [{"Value": "10.0.0.2"}]}}]})
        with pytest.raises(StalePlan, match=r"h1\.reads\.example\. A: created by someone else"):
            apply_plan(ws, plan)
        names = {rr["Name"] for rr in zone.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]}
        assert f"h0.{ZONE}" not in names and f"h2.{ZONE}" not in names  # the batch wrote nothing
        [refused] = [e for e in ws.state.audit_log(action="apply") if e.result == "refused"]
        assert refused.detail["reason"] == "stale plan" and refused.detail["applied"] == 0
        # the next plan, made afresh, sees h1 as someone else's and creates the other two
        plan = ws.plan()
        assert sorted(c.name for c in plan.changes if c.action == "create") == [
            f"h0.{ZONE}/A", f"h2.{ZONE}/A"]
    finally:
        ws.close()


