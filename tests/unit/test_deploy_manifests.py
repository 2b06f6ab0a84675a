"""deploy/: the Kubernetes manifests and the systemd unit a team deploys the controller with.

Every manifest loads into the kubernetes client's own model of its kind (ApiClient.deserialize)
and serializes back to exactly what the file says, so a misspelt or misplaced field (which
deserialize would silently drop) fails here; then all of them are created on the kmock emulator
(tests/servers/kube.py) and read back. The PrometheusRule is a CRD the client has no model for
and kmock does not serve: its rule group is checked by promtool instead (check rules, and test
rules on sample series). The systemd unit passes `systemd-analyze verify`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers.fixtures_k8s_prom import Kube

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes"
MODELS = {("v1", "ServiceAccount"): "V1ServiceAccount", ("v1", "Service"): "V1Service",
          ("apps/v1", "Deployment"): "V1Deployment", ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
          ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
          ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding"}


def documents() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((path.name, doc))
    return out


class _Response:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.data = json.dumps(doc)


def test_every_manifest_is_a_known_kind_and_round_trips_through_its_model() -> None:
    from kubernetes import client

    api = client.ApiClient()
    kinds = []
    for name, doc in documents():
        kinds.append(doc["kind"])
        if doc["kind"] == "PrometheusRule":
            assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["spec"]["groups"]
            continue
        model = MODELS.get((doc["apiVersion"], doc["kind"]))
        assert model is not None, f"{name}: {doc['apiVersion']} {doc['kind']} is not a kind this test knows"
        obj = api.deserialize(_Response(doc), model)
        assert api.sanitize_for_serialization(obj) == doc, f"{name}: {doc['kind']} has fields its model does not"
    assert sorted(kinds) == sorted(["ServiceAccount", "Role", "RoleBinding", "Deployment", "PodDisruptionBudget",
                                    "Service", "PrometheusRule"])


def test_the_deployment_runs_two_replicas_that_elect_a_leader_and_are_probed() -> None:
    docs = {d["kind"]: d for _, d in documents()}
    dep = docs["Deployment"]["spec"]
    assert dep["replicas"] == 2
    pod = dep["template"]["spec"]
    assert pod["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
    c = pod["containers"][0]
    args = c["args"]
    assert args[:3] == ["ctl", "reconcile", "--apply"] and args[args.index("--lease") + 1] == "k8s"
    port = int(args[args.index("--metrics-addr") + 1].rsplit(":", 1)[1])
    assert c["ports"][0]["containerPort"] == port and c["ports"][0]["name"] == "metrics"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == "metrics"
    assert docs["Service"]["spec"]["selector"] == dep["selector"]["matchLabels"]
    rules = docs["Role"]["rules"]
    assert {v for r in rules for v in r["verbs"]} == {"get", "create", "update", "patch"}
    assert all(r["apiGroups"] == ["coordination.k8s.io"] and r["resources"] == ["leases"] for r in rules)
    named = [r for r in rules if r.get("resourceNames")]
    assert named and named[0]["resourceNames"] == ["streamverse-reconcile"]  # the CLI's default --lease-name
    env = {e["name"]: e for e in c["env"]}
    assert "valueFrom" in env["PGPASSWORD"] and "value" not in env["PGPASSWORD"]  # a secret only by reference


def test_the_manifests_apply_to_the_emulator(kube: Kube) -> None:
    from kubernetes import client, utils

    cfg = client.Configuration()
    cfg.host = kube.url
    api = client.ApiClient(cfg)
    try:
        for _file, doc in documents():
            if doc["kind"] == "PrometheusRule":
                continue  # a CRD: kmock does not serve monitoring.coreos.com (promtool checks it below)
            utils.create_from_dict(api, doc, namespace=kube.namespace)
        dep = client.AppsV1Api(api).read_namespaced_deployment("streamverse-controller", kube.namespace)
        assert dep.spec.replicas == 2 and dep.spec.template.spec.service_account_name == "streamverse-controller"
        role = client.RbacAuthorizationV1Api(api).read_namespaced_role("streamverse-controller-leases",
                                                                       kube.namespace)
        assert role.rules[0].resources == ["leases"]
        svc = client.CoreV1Api(api).read_namespaced_service("streamverse-controller-metrics", kube.namespace)
        assert svc.spec.ports[0].port == 9400
    finally:
        api.close()


def rule_group(tmp_path: Path) -> Path:
    rule = next(d for _, d in documents() if d["kind"] == "PrometheusRule")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


def test_promtool_checks_the_rule_group(promtool: str, tmp_path: Path) -> None:
    out = subprocess.run([promtool, "check", "rules", str(rule_group(tmp_path))], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"SUCCESS: \d+ rules found", out.stdout + out.stderr)


PROMTOOL_TESTS = """
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - {series: 'streamverse_reconcile_is_leader{pod="a"}', values: '0x10'}
      - {series: 'streamverse_reconcile_is_leader{pod="b"}', values: '0x10'}
      - {series: 'up{job="streamverse-controller-metrics", pod="a"}', values: '1x10'}
    alert_rule_test:
      - {eval_time: 1m, alertname: StreamverseControllerNoLeader, exp_alerts: []}
      - eval_time: 5m
        alertname: StreamverseControllerNoLeader
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: No controller replica holds the lease
              description: Replicas are up but none may write; check the Lease and the state backend.
      - {eval_time: 5m, alertname: StreamverseControllerDown, exp_alerts: []}
  - interval: 1m
    input_series:
      - {series: 'streamverse_reconcile_is_leader{pod="a"}', values: '1x10'}
      - {series: 'streamverse_reconcile_is_leader{pod="b"}', values: '1x10'}
    alert_rule_test:
      - eval_time: 5m
        alertname: StreamverseControllerSplitBrain
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: More than one controller replica says it is the leader
              description: "2 replicas claim the lease; the apply lock still keeps writes apart."
      - {eval_time: 5m, alertname: StreamverseControllerNoLeader, exp_alerts: []}
      - eval_time: 6m
        alertname: StreamverseControllerDown
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: No streamverse controller replica is being scraped
              description: Nothing reconciles the platform and no automatic failover can happen.
"""


def test_promtool_fires_the_leader_alerts_on_sample_series(promtool: str, tmp_path: Path) -> None:
    rule_group(tmp_path)
    (tmp_path / "tests.yaml").write_text(PROMTOOL_TESTS)
    out = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is not installed (apt-get install systemd)", pytrace=False)
    sv = shutil.which("streamverse")
    assert sv, "the streamverse console script is not installed (pip install -e .)"
    text = (REPO / "deploy" / "systemd" / "streamverse-reconcile.service").read_text()
    assert "--apply" in text and "--lease state" in text and "KillSignal=SIGTERM" in text
    unit = tmp_path / "streamverse-reconcile.service"
    unit.write_text(text.replace("/opt/streamverse/bin/streamverse", sv))  # the installed binary, for verify
    out = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert out.returncode == 0 and "streamverse-reconcile" not in out.stderr, out.stderr
