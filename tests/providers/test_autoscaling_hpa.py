"""Queue-scaled pools on Kubernetes get an autoscaling/v2 HorizontalPodAutoscaler on the queue metric
(against the kmock emulator: it stores HPAs but runs no controller, so nothing here waits for scaling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from streamverse_ctl.core.resources import Resource
from streamverse_ctl.providers.kubernetes import KubernetesProvider
from tests.servers.fixtures_k8s_prom import Kube

from .test_kubernetes import converge, ladder, plan, pool, provider

pytestmark = pytest.mark.servers
TYPES = ("transcode.ladder", "transcode.pool")
QUEUE = {"sqsQueueName": "transcode-us-east", "metric": "sqs_messages_visible"}


def _queued(p: Resource, queue: dict[str, Any] | None = QUEUE, **changes: Any) -> Resource:
    spec = {**p.spec, **changes}
    if queue is not None:
        spec["queue"] = queue
    return Resource(p.type, p.name, spec, depends_on=p.depends_on)


def _hpas(kube: Kube) -> list[str]:
    cfg = k8s.Configuration()
    cfg.host = kube.url
    api = k8s.AutoscalingV2Api(k8s.ApiClient(cfg))
    return sorted(h.metadata.name for h in api.list_namespaced_horizontal_pod_autoscaler(kube.namespace).items)


def _p(kube: Kube, tmp_path: Path) -> KubernetesProvider:
    return provider(tmp_path, server=kube.url, namespace=kube.namespace)


def test_queue_scaled_pool_gets_an_hpa_on_the_queue_metric(kube: Kube, tmp_path: Path) -> None:
    p = _p(kube, tmp_path)
    desired = [ladder(), _queued(pool("transcode-us-east", "us-east", min_nodes=2, max_nodes=10, queue=6)),
               pool("transcode-eu-west", "eu-west")]
    converge(p, desired)
    assert plan(p, desired, TYPES) == []  # the queue source reads back from the Deployment
    hpa = p.hpa("transcode-us-east", "us-east")
    assert hpa is not None
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "transcode-us-east"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
    metric = spec["metrics"][0]["external"]
    assert metric["metric"] == {"name": "sqs_messages_visible",
                                "selector": {"matchLabels": {"pool": "transcode-us-east"}}}
    assert metric["target"] == {"type": "AverageValue", "averageValue": "6"}  # ceil(depth / 6) replicas
    assert _hpas(kube) == ["transcode-us-east"]  # a pool without a queue gets none

    # the range changes: the HPA follows; the queue is dropped: the HPA goes, the annotation too
    desired[1] = _queued(pool("transcode-us-east", "us-east", min_nodes=4, max_nodes=20, queue=6))
    converge(p, desired)
    hpa = p.hpa("transcode-us-east", "us-east")
    assert hpa is not None and (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (4, 20)
    desired[1] = pool("transcode-us-east", "us-east", min_nodes=4, max_nodes=20, queue=6)
    converge(p, desired)
    assert _hpas(kube) == [] and plan(p, desired, TYPES) == []

    desired[1] = _queued(desired[1])
    converge(p, desired)
    converge(p, [ladder()])  # the pool is deleted: its HPA with it
    assert _hpas(kube) == []
