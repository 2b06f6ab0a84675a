"""deploy-pop-config on real nginx PoPs (tests/servers/nginx.py: three Debian nginx caches on loopback in front
of an origin nginx, deployed through ansible-runner): a TTL change goes out wave by wave — each PoP serves
a new config digest only once its wave ran — and a wave whose apply fails (``nginx -t`` rejects one PoP's
config) is rolled back: its other PoPs re-deploy the config they served before, later waves never start.

Three PoPs: the default waves [1, "10%", "100%"] are pop1, pop2, pop3 (the change-size guardrail applies
from 10 resources of a type, so it never refuses here; its refusal is tested on the sim's 12 PoPs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamverse_ctl.engine.apply import apply_plan
from streamverse_ctl.engine.workspace import Workspace
from streamverse_ctl.runbook.actions.pop import deploy
from streamverse_ctl.runbook.context import ActionContext
from streamverse_ctl.runbook.events import Events
from tests.servers.nginx import PopFleet
from tests.servers.process import start_or_fail

pytestmark = pytest.mark.servers
REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "tests" / "providers" / "nginx_inventory"
PROVIDERS = """\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: pops}}
spec:
  type: nginx
  serves: {{types: ["cdn.*"]}}
  settings: {settings}
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: sim}}
spec:
  type: sim
  serves: {{types: ["platform.*"]}}
"""
WARM = {"X-Streamverse-Warm": "test"}  # the test's own checks stay out of the PoPs' hit-ratio logs
SEGMENT = "/videos/other/360p/seg00002.ts"
POPS = ("pop1", "pop2", "pop3")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PopFleet]:
    f = PopFleet(tmp_path_factory.mktemp("fleet"))
    start_or_fail(f.start)
    yield f
    f.stop()


@pytest.fixture
def inv(fleet: PopFleet, tmp_path: Path) -> Iterator[Path]:
    """The fleet's inventory, applied (the PoPs serve *.ts for 3600 s); the test may edit it."""
    d = tmp_path / "pop-fleet"
    shutil.copytree(INVENTORY, d)
    template = tmp_path / "pop-edge.conf.j2"  # the PoPs' template, which a test may change
    shutil.copy(REPO / "templates" / "pop-edge.conf.j2", template)
    (d / "providers.yaml").write_text(PROVIDERS.format(settings=json.dumps({**fleet.settings(),
                                                                          "template": str(template)})))
    good = {k: dict(v) for k, v in fleet.hostvars.items()}
    _converge(d, tmp_path / "state")
    yield d
    fleet.write_inventory(good)


def _converge(inv: Path, state: Path) -> None:
    state.mkdir(exist_ok=True)
    ws = Workspace(inv, state_dir=state)
    try:
        plan = ws.plan()
        if plan.changes:
            assert apply_plan(ws, plan).verified
    finally:
        ws.close()


def _edit_ttl(inv: Path, ttl: int) -> None:
    cdn = inv / "cdn.yaml"
    cdn.write_text(cdn.read_text().replace('"*.ts": 3600', f'"*.ts": {ttl}'))


def _served(fleet: PopFleet) -> dict[str, tuple[str, str]]:
    """PoP -> (the digest of the config nginx serves, the Cache-Control it gives a segment)."""
    out = {}
    for name in POPS:
        url = fleet.pop(name).url
        out[name] = (httpx.get(f"{url}/_streamverse/digest").text.strip(),
                     httpx.get(f"{url}{SEGMENT}", headers=WARM).headers["cache-control"])
    return out


def test_a_ttl_change_rolls_out_wave_by_wave(fleet: PopFleet, inv: Path, tmp_path: Path) -> None:
    before = _served(fleet)
    assert {cc for _, cc in before.values()} == {"max-age=3600"}
    _edit_ttl(inv, 1800)
    ws = Workspace(inv, state_dir=tmp_path / "state")
    try:
        for wave, pop in enumerate(POPS):
            ctx = ActionContext(ws, "deploy-pop-config", "run-1", f"deploy[{wave}]", False, frozenset(), Events(),
                                REPO / "runbooks", tmp_path / "artifacts")
            out = deploy(ctx, wave, [1, "10%", "100%"])
            assert out["pops"] == [pop]
            assert any(f"{pop}: config deployed" in r for r in out["on_pops"])
            now = _served(fleet)
            for i, name in enumerate(POPS):
                if i <= wave:  # deployed: a new digest serves the new TTL
                    assert now[name][0] != before[name][0] and now[name][1] == "max-age=1800", (wave, name)
                else:  # not yet: the old config, byte for byte
                    assert now[name] == before[name], (wave, name)
        assert ws.plan().changes == []
    finally:
        ws.close()


def test_nginx_t_failing_on_one_pop_rolls_its_wave_back_and_the_canary_keeps_the_change(
        fleet: PopFleet, inv: Path, tmp_path: Path) -> None:
    before = _served(fleet)
    broken = {k: dict(v) for k, v in fleet.hostvars.items()}
    broken["pop2"]["cache_max_size"] = "64 MB"  # a typo in one host's vars: nginx -t rejects its config
    fleet.write_inventory(broken)
    _edit_ttl(inv, 1800)
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "250", "NO_COLOR": "1"}
    exe = Path(sys.executable).parent / "streamverse"
    p = subprocess.run([str(exe), "ctl", "runbook", "run", "deploy-pop-config", "--yes",
                        "-s", "waves=[1, 3]", "-s", "gate_timeout=20s", "-i", str(inv)], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out[-3000:]
    assert "pop2 (" in out and "nginx -t" in out and "previous config still serves" in out
    assert "rolled back deploy[1]" in out and "pop3" in out
    now = _served(fleet)
    assert now["pop1"][0] != before["pop1"][0] and now["pop1"][1] == "max-age=1800"  # the canary wave passed
    assert now["pop2"] == before["pop2"]  # never swapped
    assert now["pop3"] == before["pop3"]  # deployed in the failed wave, then rolled back to the same config


def test_an_evacuated_nginx_pop_answers_viewers_503_until_it_is_back(fleet: PopFleet, inv: Path,
                                                                       tmp_path: Path) -> None:
    from streamverse_ctl.runbook.actions.pop_serving import serve

    pop2 = fleet.pop("pop2").url
    assert httpx.get(f"{pop2}{SEGMENT}", headers=WARM).status_code == 200
    ws = Workspace(inv, state_dir=tmp_path / "state")
    try:
        def ctx() -> ActionContext:
            return ActionContext(ws, "pop-evacuation", "run-1", "evacuate", False, frozenset(), Events(),
                                 REPO / "runbooks", tmp_path / "artifacts")

        out = serve(ctx(), ["pop2"], False)
        assert any("pop2: config deployed" in r for r in out["on_pops"])
        assert httpx.get(f"{pop2}{SEGMENT}", headers=WARM).status_code == 503
        assert httpx.get(f"{pop2}/_streamverse/digest").status_code == 200  # the provider still reads it
        assert httpx.get(f"{fleet.pop('pop1').url}{SEGMENT}", headers=WARM).status_code == 200
        assert ws.plan().changes == []
        serve(ctx(), ["pop2"], True)
        assert httpx.get(f"{pop2}{SEGMENT}", headers=WARM).status_code == 200
        assert ws.plan().changes == []
    finally:
        ws.close()


def test_a_template_change_rolls_out_wave_by_wave_and_rolls_back_to_the_exact_earlier_config(
        fleet: PopFleet, inv: Path, tmp_path: Path) -> None:
    from streamverse_ctl.runbook.actions.pop import rollback

    before = _served(fleet)
    template = tmp_path / "pop-edge.conf.j2"
    text = template.read_text()
    anchor = "        add_header X-Streamverse-Pop {{ pop }} always;\n"
    assert anchor in text
    template.write_text(text.replace(anchor, anchor + "        add_header X-Canary v2 always;\n"))

    def canary(name: str) -> str | None:
        return httpx.get(f"{fleet.pop(name).url}{SEGMENT}", headers=WARM).headers.get("x-canary")

    ws = Workspace(inv, state_dir=tmp_path / "state")
    try:
        assert ws.plan().changes == []  # no spec changed: no plan shows a template change

        def ctx(step: str) -> ActionContext:
            return ActionContext(ws, "deploy-pop-config", "run-2", step, False, frozenset(), Events(),
                                 REPO / "runbooks", tmp_path / "artifacts")

        out = deploy(ctx("deploy[0]"), 0, [1, 2])
        assert out["pops"] == ["pop1"] and any("pop1: config deployed (re-rendered" in r for r in out["on_pops"])
        assert [canary(p) for p in POPS] == ["v2", None, None]
        out = deploy(ctx("deploy[1]"), 1, [1, 2])
        assert out["pops"] == ["pop2"] and [canary(p) for p in POPS] == ["v2", "v2", None]
        # the second wave regressed: roll it back to the exact config pop2 served before
        done = rollback(ctx("deploy[1]/on_failure/rollback"))
        assert done["rolled_back"] == ["pop2"] and "earlier config of pop2" in done["changed"]
        assert [canary(p) for p in POPS] == ["v2", None, None]
        now = _served(fleet)
        assert now["pop2"] == before["pop2"] and now["pop3"] == before["pop3"]
        assert now["pop1"][0] != before["pop1"][0]
    finally:
        template.write_text(text)
        ws.close()
    _converge(inv, tmp_path / "state")
