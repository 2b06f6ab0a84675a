"""The `foreign-state` guardrail on a real BIND 9 (RFC 2136 markers), through the engine: two
"machines" (working directories with their own state directories) drive one zone. The markers
name the lineage of the state whose apply wrote them; the other state is refused before any
UPDATE is sent, takes over only with ``--force foreign-state`` (audited), and then the first one is
the stranger."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamverse_ctl.core.errors import GuardrailRefused
from streamverse_ctl.engine.apply import apply_plan
from streamverse_ctl.engine.workspace import Workspace

from .test_rfc2136_failover import Endpoints, _inventory

pytestmark = pytest.mark.servers
API = "dns.record/api.sv.example./A/primary"


@pytest.fixture
def endpoints() -> Iterator[Endpoints]:
    e = Endpoints(["127.0.0.2", "127.0.0.3"])
    yield e
    e.close()


def machine(root: Path, bind: Any, port: int) -> tuple[Path, Path]:
    inv = _inventory(root / "inventory", bind, port)
    (root / "state").mkdir()
    return inv, root / "state"


def apply(inv: Path, state: Path, force: tuple[str, ...] = ()) -> int:
    ws = Workspace(inv, state_dir=state)
    try:
        with ws.locked("test"):
            plan = ws.plan(force=list(force))
            return apply_plan(ws, plan, force=force, verify=False).applied
    finally:
        ws.close()


def actual(inv: Path, state: Path) -> dict[str, Any]:
    ws = Workspace(inv, state_dir=state)
    try:
        return {r.id: r for r in ws.read_actual() if r.type == "dns.record"}
    finally:
        ws.close()


def lineage(inv: Path, state: Path) -> str:
    ws = Workspace(inv, state_dir=state)
    try:
        return ws.state.lineage
    finally:
        ws.close()


def audit(inv: Path, state: Path) -> list[dict[str, Any]]:
    ws = Workspace(inv, state_dir=state)
    try:
        return [e.as_dict() for e in ws.state.audit_log(limit=50)]
    finally:
        ws.close()


def test_bind_markers_name_the_owner_and_a_stranger_is_refused(bind: Any, endpoints: Endpoints, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TSIG_SECRET", bind.secret)
    a_inv, a_state = machine(tmp_path / "laptop", bind, endpoints.port)
    b_inv, b_state = machine(tmp_path / "ci", bind, endpoints.port)
    assert apply(a_inv, a_state) > 0
    a, b = lineage(a_inv, a_state), lineage(b_inv, b_state)
    assert actual(a_inv, a_state)[API].owner == a  # read back from the RFC 2136 marker

    dns_yaml = b_inv / "dns.yaml"  # the runner's checkout has another TTL: it would rewrite the records
    dns_yaml.write_text(dns_yaml.read_text().replace("ttl: 30", "ttl: 45"))
    with pytest.raises(GuardrailRefused) as err:
        apply(b_inv, b_state)
    [refusal] = [r for r in err.value.refusals if r.name == "foreign-state"]
    assert a in refusal.message and "--state-url" in refusal.message and "STREAMVERSE_STATE_URL" in refusal.message
    now = actual(a_inv, a_state)[API]
    assert now.spec["ttl"] == 30 and now.owner == a  # no UPDATE was sent

    assert apply(b_inv, b_state, force=("foreign-state",)) > 0  # taking over: explicit and audited
    now = actual(b_inv, b_state)[API]
    assert now.spec["ttl"] == 45 and now.owner == b
    assert any(e["action"] == "state.takeover" and e["target"] == a for e in audit(b_inv, b_state))

    with pytest.raises(GuardrailRefused) as err:  # the laptop would put its TTL back: now it is the stranger
        apply(a_inv, a_state)
    assert any(r.name == "foreign-state" and b in r.message for r in err.value.refusals)
    assert actual(a_inv, a_state)[API].spec["ttl"] == 45


def test_markers_without_a_lineage_are_adopted(bind: Any, endpoints: Endpoints, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Markers written before lineages were recorded name none: the next apply adopts them silently."""
    monkeypatch.setenv("TEST_TSIG_SECRET", bind.secret)
    a_inv, a_state = machine(tmp_path / "old", bind, endpoints.port)
    ws = Workspace(a_inv, state_dir=a_state)
    try:
        ws.provider("bind").context.lineage = None  # an apply that writes no lineage, as older versions did
        with ws.locked("test"):
            apply_plan(ws, ws.plan(), verify=False)
    finally:
        ws.close()
    b_inv, b_state = machine(tmp_path / "new", bind, endpoints.port)
    assert actual(b_inv, b_state)[API].owner == ""
    shutil.copy(a_inv / "dns.yaml", b_inv / "dns.yaml")
    dns_yaml = b_inv / "dns.yaml"
    dns_yaml.write_text(dns_yaml.read_text().replace("ttl: 30", "ttl: 45"))
    assert apply(b_inv, b_state) > 0
    assert actual(b_inv, b_state)[API].owner == lineage(b_inv, b_state)
