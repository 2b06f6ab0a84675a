"""The SLO rule files as a managed resource: a ``prometheus`` provider plans them, writes them (checked by
promtool before they are swapped in), reloads a real Prometheus, verifies it loaded them, and reverts an
edited file. Prometheus runs on loopback with ``rule_files`` pointing at the provider's directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.process import start_or_fail
from tests.servers.prometheus import PrometheusServer

pytestmark = [pytest.mark.servers]

SV = str(Path(sys.executable).parent / "streamverse")
MARKER = "# managed by streamverse-ctl"


@dataclass
class Rules:
    inventory: Path
    rules_dir: Path
    prometheus: PrometheusServer
    env: dict[str, str]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SV, "ctl", *args], capture_output=True, text=True, env=self.env, timeout=120,
                              stdin=subprocess.DEVNULL)

    def providers(self, promtool: str = "promtool") -> None:
        (self.inventory / "providers.yaml").write_text(f"""\
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: platform}}
spec:
  type: sim
  serves: {{types: ["platform.*", "cdn.*", "transcode.*", "dns.*"]}}
---
apiVersion: streamverse.io/v1
kind: Provider
metadata: {{name: prom}}
spec:
  type: prometheus
  serves: {{types: ["monitoring.rule_group"]}}
  settings: {{rulesDir: "{self.rules_dir}", url: "{self.prometheus.url}", promtool: "{promtool}"}}
""")

    def loaded(self) -> dict[str, tuple[str, int]]:
        with urllib.request.urlopen(self.prometheus.url + "/api/v1/rules", timeout=5) as resp:
            groups = json.load(resp)["data"]["groups"]
        return {g["name"]: (g["file"], len(g["rules"])) for g in groups}


@pytest.fixture
def rules(demo_copy: Path, tmp_path: Path) -> Iterator[Rules]:
    rules_dir = tmp_path / "rules"
    server = PrometheusServer(tmp_path / "prom", rules_dir=rules_dir)
    (tmp_path / "prom").mkdir()
    start_or_fail(server.start)
    (tmp_path / "state").mkdir()
    env = {**os.environ, "STREAMVERSE_STATE_DIR": str(tmp_path / "state"), "STREAMVERSE_INVENTORY": str(demo_copy),
           "COLUMNS": "200"}
    r = Rules(demo_copy, rules_dir, server, env)
    r.providers()
    yield r
    server.stop()


def _rule_changes(plan: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["name"]: c for c in plan["changes"] if c["type"] == "monitoring.rule_group"}


def test_plan_apply_reload_verify_and_revert_an_edited_file(rules: Rules, promtool: str) -> None:
    plan = json.loads(rules("plan", "-o", "json").stdout)
    changes = _rule_changes(plan)
    assert set(changes) == {"streamverse", "slo-platform"}
    assert all(c["action"] == "create" and c["provider"] == "prom" for c in changes.values())
    assert "streamverse-slo-platform-startup-alerts" in changes["slo-platform"]["after"]["groups"]

    applied = rules("apply", "--yes")
    assert applied.returncode == 0, applied.stderr + applied.stdout
    files = sorted(p.name for p in rules.rules_dir.iterdir())
    assert files == ["slo-platform.rules.yml", "streamverse.rules.yml"]  # no staging directory left behind
    text = (rules.rules_dir / "slo-platform.rules.yml").read_text()
    assert text.startswith(MARKER)
    check = subprocess.run([promtool, "check", "rules", *map(str, rules.rules_dir.iterdir())], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    loaded = rules.loaded()  # Prometheus reloaded: every group is served from the written file
    assert loaded["streamverse"] == (str(rules.rules_dir / "streamverse.rules.yml"), 4)
    assert loaded["streamverse-slo-platform-availability-sli"][1] == 8  # 5m ... 30d
    assert len([g for g in loaded if g.startswith("streamverse-slo-platform-")]) == 12  # 4 SLIs x 3 groups

    again = rules("plan", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr

    # someone edits a rule by hand: plan shows the group's difference as drift, apply writes it back
    path = rules.rules_dir / "slo-platform.rules.yml"
    path.write_text(text.replace("vector(0.9999)", "vector(0.99)"))
    drift = json.loads(rules("plan", "-o", "json").stdout)
    changed = _rule_changes(drift)
    assert list(changed) == ["slo-platform"] and changed["slo-platform"]["action"] == "update"
    fields = [f["path"] for f in changed["slo-platform"]["fields"]]
    assert fields == ["groups.streamverse-slo-platform-availability-meta"]
    assert "outside StreamVerse Control" in changed["slo-platform"]["reason"]
    assert rules("apply", "--yes").returncode == 0
    assert path.read_text() == text


def test_a_failed_promtool_check_changes_no_file_and_no_loaded_rule(rules: Rules, tmp_path: Path) -> None:
    assert rules("apply", "--yes").returncode == 0
    before = {p.name: p.read_text() for p in rules.rules_dir.iterdir()}
    loaded = rules.loaded()
    # a promtool that rejects everything (as it would a broken file) and the SLO changed
    fake = tmp_path / "promtool-rejects"
    fake.write_text("#!/bin/sh\necho 'FAILED: 1:1: parse error (from the test)'\nexit 1\n")
    fake.chmod(0o755)
    rules.providers(promtool=str(fake))
    inv = rules.inventory / "inventory.yaml"
    inv.write_text(inv.read_text() + """\
  patches:
    - target: {kind: SLO, name: platform}
      merge: {spec: {availabilityPercent: 99.9}}
""")
    p = rules("apply", "--yes")
    assert p.returncode == 1
    assert "promtool check rules failed, nothing was changed" in p.stderr and "parse error" in p.stderr
    assert {q.name: q.read_text() for q in rules.rules_dir.iterdir()} == before
    assert rules.loaded() == loaded


def test_a_rule_file_it_did_not_write_is_left_alone(rules: Rules) -> None:
    rules.rules_dir.mkdir()
    theirs = rules.rules_dir / "team.rules.yml"
    theirs.write_text("groups:\n- name: team\n  rules:\n  - record: team:up:sum\n    expr: sum(up)\n")
    plan = json.loads(rules("plan", "-o", "json").stdout)
    assert "monitoring.rule_group/team" in plan["unmanaged"]
    assert "team" not in _rule_changes(plan)
    assert rules("apply", "--yes").returncode == 0
    assert theirs.exists()
    assert "team" in rules.loaded()


def test_the_shipped_prometheus_config_loads_the_providers_rule_files(promtool: str) -> None:
    import yaml

    path = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "prometheus.yml"
    check = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    config = yaml.safe_load(path.read_text())
    assert config["rule_files"] == ["/etc/prometheus/streamverse/*.rules.yml"]
    assert "rulesDir: /etc/prometheus/streamverse" in path.read_text()  # the Provider example names the same dir
