"""Kubernetes provider against the kmock KubernetesEmulator served over HTTP on 127.0.0.1.

Where kmock differs from a real cluster (see tests/servers/kube.py): there is no Namespace
resource (each test uses its own namespace name, which a real cluster would need created first),
no resourceVersion (so the provider's optimistic-concurrency 409 never happens here), no label
selectors (the provider filters client-side anyway) and no controllers (Deployments never get a
status, so nothing here checks ready replicas).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from streamverse_ctl.core.errors import PermanentError, ProviderError
from streamverse_ctl.core.resources import Change, Resource
from streamverse_ctl.core.secrets import Secret
from streamverse_ctl.providers.base import ProviderContext
from streamverse_ctl.providers.kubernetes import KubernetesProvider
from tests.servers.fixtures_k8s_prom import Kube
from tests.servers.kube import KmockServer
from tests.servers.process import free_port

from .helpers import plan, summary

pytestmark = pytest.mark.servers
TYPES = ("transcode.ladder", "transcode.pool")
OWNER = "app.kubernetes.io/managed-by"

RUNGS = [
    {"name": "1080p", "width": 1920, "height": 1080, "bitrate_kbps": 6000, "codec": "h264"},
    {"name": "720p", "width": 1280, "height": 720, "bitrate_kbps": 3000, "codec": "h264"},
]


def ladder(name: str = "main", rungs: list[dict[str, Any]] | None = None, segment: int = 6) -> Resource:
    return Resource("transcode.ladder", name, {"codecs": ["h264"], "formats": ["hls", "dash"],
                                               "segment_seconds": segment, "rungs": rungs or RUNGS})


def pool(name: str, region: str, min_nodes: int = 4, max_nodes: int = 40, gpu: str = "nvidia-l4",
         queue: int = 8, ladder_name: str = "main") -> Resource:
    return Resource("transcode.pool", name, {"region": region, "gpu": gpu, "min_nodes": min_nodes,
                                             "max_nodes": max_nodes, "target_queue_per_node": queue,
                                             "ladder": ladder_name},
                    depends_on=(f"transcode.ladder/{ladder_name}",))


def provider(tmp_path: Path, **settings: Any) -> KubernetesProvider:
    return KubernetesProvider("k8s", settings, ProviderContext(tmp_path))


def apply_changes(p: KubernetesProvider, changes: Sequence[Change]) -> None:
    """Stage by stage like the engine: ladders before pools; deletes in reverse."""
    for t in TYPES:
        stage = [c for c in changes if c.type == t and c.action != "delete"]
        if stage:
            p.apply(stage)
    for t in reversed(TYPES):
        stage = [c for c in changes if c.type == t and c.action == "delete"]
        if stage:
            p.apply(stage)


def converge(p: KubernetesProvider, desired: list[Resource]) -> list[Change]:
    changes = plan(p, desired, TYPES)
    apply_changes(p, changes)
    return changes


class Raw:
    """The official client straight at the emulator, for checks and behind-the-back edits."""

    def __init__(self, url: str, namespace: str) -> None:
        cfg = k8s.Configuration()
        cfg.host = url
        self.api = k8s.ApiClient(cfg)
        self.apps = k8s.AppsV1Api(self.api)
        self.core = k8s.CoreV1Api(self.api)
        self.ns = namespace

    def deployment(self, name: str) -> Any:
        return self.apps.read_namespaced_deployment(name, self.ns)

    def deployments(self) -> list[str]:
        return sorted(d.metadata.name for d in self.apps.list_namespaced_deployment(self.ns).items)

    def configmap(self, name: str) -> Any:
        return self.core.read_namespaced_config_map(name, self.ns)

    def patch_deployment(self, name: str, body: dict[str, Any]) -> None:
        self.apps.patch_namespaced_deployment(name, self.ns, body, _content_type="application/merge-patch+json")


@pytest.fixture
def raw(kube: Kube) -> Iterator[Raw]:
    r = Raw(kube.url, kube.namespace)
    yield r
    r.api.close()


def test_create_converge_scale_delete(kube: Kube, raw: Raw, tmp_path: Path) -> None:
    p = provider(tmp_path, server=kube.url, namespace=kube.namespace)
    desired = [ladder(), pool("transcode-us-east", "us-east"), pool("transcode-eu-west", "eu-west", 2, 16,
                                                                     "nvidia-t4")]
    changes = converge(p, desired)
    assert summary(changes)[0][0] == "create" and {c.action for c in changes} == {"create"}
    assert len(changes) == 3
    assert plan(p, desired, TYPES) == []  # the second read round-trips exactly: no spurious diff

    dep = raw.deployment("transcode-us-east")
    assert dep.spec.replicas == 4
    assert dep.metadata.labels[OWNER] == "streamverse-ctl"
    assert dep.metadata.labels["streamverse.io/region"] == "us-east"
    assert dep.metadata.annotations["streamverse.io/max-nodes"] == "40"
    assert dep.metadata.annotations["streamverse.io/target-queue-per-node"] == "8"
    assert dep.metadata.annotations["streamverse.io/ladder"] == "main"
    tspec = dep.spec.template.spec
    assert tspec.node_selector == {"streamverse.io/gpu": "nvidia-l4"}
    assert tspec.containers[0].resources.limits == {"nvidia.com/gpu": "1"}
    assert tspec.volumes[0].config_map.name == "transcode-ladder-main"
    cm = raw.configmap("transcode-ladder-main")
    assert cm.metadata.labels[OWNER] == "streamverse-ctl"
    assert cm.data["segment_seconds"] == "6" and '"1080p"' in cm.data["rungs.json"]

    # raise the floor (scales up now), move the ceiling, change a ladder rung
    desired[1] = pool("transcode-us-east", "us-east", min_nodes=6, max_nodes=50, queue=10)
    desired[0] = ladder(rungs=[*RUNGS, {"name": "480p", "width": 854, "height": 480, "bitrate_kbps": 1200,
                                        "codec": "h264"}])
    changes = converge(p, desired)
    assert summary(changes) == [
        ("update", "transcode.ladder/main", ["rungs"]),
        ("update", "transcode.pool/transcode-us-east", ["max_nodes", "min_nodes", "target_queue_per_node"]),
    ]
    dep = raw.deployment("transcode-us-east")
    assert dep.spec.replicas == 6
    assert dep.metadata.annotations["streamverse.io/max-nodes"] == "50"
    assert plan(p, desired, TYPES) == []

    # lowering the floor never scales a (possibly busy) pool down: the autoscaler does that
    desired[1] = pool("transcode-us-east", "us-east", min_nodes=3, max_nodes=50, queue=10)
    assert summary(converge(p, desired)) == [("update", "transcode.pool/transcode-us-east", ["min_nodes"])]
    assert raw.deployment("transcode-us-east").spec.replicas == 6
    assert plan(p, desired, TYPES) == []

    # delete a pool, then everything
    changes = converge(p, [desired[0], desired[1]])
    assert summary(changes) == [("delete", "transcode.pool/transcode-eu-west", [
        "gpu", "ladder", "max_nodes", "min_nodes", "region", "target_queue_per_node"])]
    assert raw.deployments() == ["transcode-us-east"]
    changes = converge(p, [])
    assert sorted(c.id for c in changes) == ["transcode.ladder/main", "transcode.pool/transcode-us-east"]
    assert raw.deployments() == [] and p.read(TYPES) == []


def _foreign_deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}


def test_unmanaged_objects_left_alone(kube: Kube, raw: Raw, tmp_path: Path) -> None:
    raw.apps.create_namespaced_deployment(kube.namespace, _foreign_deployment("api-gateway"))
    raw.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "kube-root-ca.crt"},
                                                           "data": {"ca.crt": "x"}})
    p = provider(tmp_path, server=kube.url, namespace=kube.namespace)
    desired = [ladder(), pool("transcode-us-east", "us-east")]
    converge(p, desired)
    actual = {r.id: r for r in p.read(TYPES)}
    assert set(actual) == {"transcode.ladder/main", "transcode.pool/transcode-us-east",
                           "transcode.pool/api-gateway"}  # other ConfigMaps are not ladders
    foreign = actual["transcode.pool/api-gateway"]
    assert not foreign.managed
    assert foreign.spec == {"region": "", "gpu": "", "min_nodes": 2, "max_nodes": 2,
                            "target_queue_per_node": 0, "ladder": ""}
    assert plan(p, desired, TYPES) == []  # never deleted
    assert converge(p, []) and raw.deployments() == ["api-gateway"]

    # asked to take it over (the engine marks this update as a takeover): labels and GPU added, image kept
    desired = [ladder(), pool("api-gateway", "us-east")]
    changes = converge(p, desired)
    assert [(c.action, c.id) for c in changes] == [("create", "transcode.ladder/main"),
                                                   ("update", "transcode.pool/api-gateway")]
    dep = raw.deployment("api-gateway")
    assert dep.metadata.labels[OWNER] == "streamverse-ctl" and dep.metadata.labels["app"] == "api-gateway"
    assert dep.spec.replicas == 4
    assert dep.spec.template.spec.containers[0].image == "nginx"
    assert dep.spec.template.spec.containers[0].resources.limits == {"nvidia.com/gpu": "1"}
    assert plan(p, desired, TYPES) == []


def test_behind_the_back_changes_show_as_drift(kube: Kube, raw: Raw, tmp_path: Path) -> None:
    p = provider(tmp_path, server=kube.url, namespace=kube.namespace)
    desired = [ladder(), pool("transcode-us-east", "us-east")]
    converge(p, desired)
    raw.patch_deployment("transcode-us-east", {
        "metadata": {"annotations": {"streamverse.io/max-nodes": "8"}},
        "spec": {"replicas": 1, "template": {"spec": {"nodeSelector": {"streamverse.io/gpu": "nvidia-t4"}}}}})
    raw.core.patch_namespaced_config_map("transcode-ladder-main", kube.namespace,
                                         {"data": {"segment_seconds": "4"}},
                                         _content_type="application/merge-patch+json")
    changes = plan(p, desired, TYPES)
    assert summary(changes) == [
        ("update", "transcode.ladder/main", ["segment_seconds"]),
        ("update", "transcode.pool/transcode-us-east", ["gpu", "max_nodes", "min_nodes"]),
    ]
    pool_change = next(c for c in changes if c.type == "transcode.pool")
    assert pool_change.before is not None and pool_change.before["min_nodes"] == 1  # scaled below the floor
    apply_changes(p, changes)
    dep = raw.deployment("transcode-us-east")
    assert dep.spec.replicas == 4 and dep.spec.template.spec.node_selector == {"streamverse.io/gpu": "nvidia-l4"}
    assert plan(p, desired, TYPES) == []

    # an autoscaler scaling up inside [min, max] is not drift
    raw.patch_deployment("transcode-us-east", {"spec": {"replicas": 30}})
    assert plan(p, desired, TYPES) == []
    # someone deletes the Deployment: plan recreates it
    raw.apps.delete_namespaced_deployment("transcode-us-east", kube.namespace)
    assert summary(plan(p, desired, TYPES))[0][:2] == ("create", "transcode.pool/transcode-us-east")


def test_regions_on_two_clusters(kube: Kube, kmock_server_b: KmockServer, tmp_path: Path) -> None:
    ns = kube.namespace
    contexts = {"us-east": "sv-us-east", "eu-west": "sv-eu-west"}
    p = provider(tmp_path, namespace=ns, contexts=contexts,
                 server={"sv-us-east": kube.url, "sv-eu-west": kmock_server_b.url})
    a, b = Raw(kube.url, ns), Raw(kmock_server_b.url, ns)
    desired = [ladder(), pool("transcode-us-east", "us-east"), pool("transcode-eu-west", "eu-west")]
    converge(p, desired)
    assert a.deployments() == ["transcode-us-east"] and b.deployments() == ["transcode-eu-west"]
    assert a.configmap("transcode-ladder-main").data == b.configmap("transcode-ladder-main").data
    assert plan(p, desired, TYPES) == []

    # a ladder lost on one cluster reads out of sync, and an update rewrites it there
    b.core.delete_namespaced_config_map("transcode-ladder-main", ns)
    changes = plan(p, desired, TYPES)
    assert summary(changes) == [("update", "transcode.ladder/main", ["out_of_sync"])]
    assert changes[0].before is not None and changes[0].before["out_of_sync"] == ["sv-eu-west: missing"]
    apply_changes(p, changes)
    assert plan(p, desired, TYPES) == []

    # a pool moved to the other region lands on the other cluster and leaves the first
    desired[2] = pool("transcode-eu-west", "us-east")
    converge(p, desired)
    assert a.deployments() == ["transcode-eu-west", "transcode-us-east"] and b.deployments() == []
    assert plan(p, desired, TYPES) == []

    # a region without a context is refused at plan time
    assert p.check([pool("transcode-sa-east", "sa-east")]) == [
        "provider 'k8s' (kubernetes) has no kube context for region 'sa-east' needed by "
        "transcode.pool/transcode-sa-east (setting contexts)"]
    for r in (a, b):
        r.api.close()


def test_server_down_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    p = provider(tmp_path, server=url, retries=2, timeout=2)
    with pytest.raises(ProviderError) as err:
        p.read(TYPES)
    msg = str(err.value)
    assert "provider 'k8s'" in msg and url in msg and "connection refused" in msg
    assert "Traceback" not in msg


class _Forbidding(http.server.BaseHTTPRequestHandler):
    """An API server that refuses every request, as a real one does for a bad or unprivileged token."""

    status = 401
    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","code":401}'
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        if type(self).status == 429:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_unauthorized_is_permanent_and_hides_the_token(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Forbidding)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        token = Secret("s3cr3t-bearer-token", "env K8S_TOKEN")
        p = provider(tmp_path, server=url, token=token)
        with pytest.raises(ProviderError) as err:
            p.read(TYPES)  # permanent: not retried
        msg = str(err.value)
        assert "HTTP 401" in msg and url in msg and "provider 'k8s'" in msg
        assert "s3cr3t" not in msg and "Bearer" not in msg
        assert isinstance(err.value.__cause__, PermanentError)
        with pytest.raises(PermanentError, match="secret reference"):
            provider(tmp_path, server=url, token="plain-text-token")
    finally:
        server.shutdown()
        server.server_close()


def test_throttling_is_retried_then_reported(tmp_path: Path) -> None:
    class Throttling(_Forbidding):
        status = 429
        calls = 0

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Throttling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        p = provider(tmp_path, server=f"http://127.0.0.1:{server.server_address[1]}", retries=3)
        with pytest.raises(ProviderError, match=r"still failing after 3 attempts: .*HTTP 429"):
            p.read(["transcode.pool"])
        assert Throttling.calls == 3
    finally:
        server.shutdown()
        server.server_close()


def test_verify_reads_back(kube: Kube, raw: Raw, tmp_path: Path) -> None:
    p = provider(tmp_path, server=kube.url, namespace=kube.namespace)
    desired = [ladder(), pool("transcode-us-east", "us-east")]
    converge(p, desired)
    assert [(v.resource_id, v.ok) for v in p.verify(desired)] == [
        ("transcode.ladder/main", True), ("transcode.pool/transcode-us-east", True)]
    raw.patch_deployment("transcode-us-east", {"spec": {"replicas": 0}})
    results = p.verify(desired)
    assert [(v.ok, v.detail) for v in results] == [(True, ""), (False, "differs")]


def test_several_contexts_on_one_api_server(kube: Kube, raw: Raw, tmp_path: Path, monkeypatch) -> None:
    """Two kube contexts naming the same cluster (one API server, one namespace): each Deployment is read
    once, owned by its region's context, and an update is one PATCH, never a PATCH then a DELETE.

    kmock has no label selectors; the provider lists once per distinct server and assigns each Deployment
    to a context by its streamverse.io/region label client-side, so nothing here depends on selectors."""
    regions = ["ap-pacific", "eu-west", "me-central", "sa-east", "us-east", "us-west"]
    contexts = {r: ("sv-a" if i % 2 == 0 else "sv-b") for i, r in enumerate(regions)}
    p = provider(tmp_path, namespace=kube.namespace, contexts=contexts,
                 server={"sv-a": kube.url, "sv-b": kube.url + "/"})  # the same server, spelled two ways
    desired = [ladder(), *(pool(f"transcode-{r}", r) for r in regions)]
    converge(p, desired)
    assert raw.deployments() == sorted(f"transcode-{r}" for r in regions)
    assert plan(p, desired, TYPES) == []  # read once: no pool seen twice, nothing to fix

    calls: list[str] = []
    real = p._call

    def spy(cluster: Any, what: str, *args: Any, **kw: Any) -> Any:
        calls.append(what)
        return real(cluster, what, *args, **kw)

    monkeypatch.setattr(p, "_call", spy)
    desired[2] = pool("transcode-eu-west", "eu-west", min_nodes=6)  # eu-west is on context sv-b
    changes = plan(p, desired, TYPES)
    assert summary(changes) == [("update", "transcode.pool/transcode-eu-west", ["min_nodes"])]
    calls.clear()
    apply_changes(p, changes)
    writes = [c for c in calls if not c.startswith(("get ", "list "))]
    assert writes == ["patch Deployment transcode-eu-west"]  # one PATCH, no DELETE
    assert raw.deployments() == sorted(f"transcode-{r}" for r in regions)  # still 6
    assert raw.deployment("transcode-eu-west").spec.replicas == 6
    assert plan(p, desired, TYPES) == []
