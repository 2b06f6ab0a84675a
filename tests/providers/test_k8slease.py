"""The controller's lease as a coordination.k8s.io/v1 Lease, on the kmock emulator (tests/servers/kube.py).

kmock has no resourceVersion, so the compare-and-swap rests on the JSON patch ``test`` of the
holder (a real cluster adds the resourceVersion test; see the module's docstring).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streamverse_ctl.engine.leader import Elector
from streamverse_ctl.providers.k8slease import KubeLease
from tests.servers.fixtures_k8s_prom import Kube


def kubeconfig(tmp_path: Path, url: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: kmock, cluster: {{server: "{url}"}}}}]
users: [{{name: ctl, user: {{token: not-a-secret}}}}]
contexts: [{{name: kmock, context: {{cluster: kmock, user: ctl}}}}]
current-context: kmock
""")
    return str(path)


@pytest.fixture
def lease(kube: Kube, tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = kubeconfig(tmp_path, kube.url)
    made: list[KubeLease] = []

    def make() -> KubeLease:
        made.append(KubeLease("ctl", kube.namespace, kubeconfig=cfg))
        return made[-1]

    yield make
    for m in made:
        m.close()


def test_create_refuse_renew_expire_take_over_release(lease, kube: Kube) -> None:  # type: ignore[no-untyped-def]
    a, b = lease(), lease()
    first = a.try_acquire("a", 3)
    assert first is not None and first.holder == "a"
    seen = b.try_acquire("b", 3)
    assert seen is not None and seen.holder == "a"  # valid: refused
    time.sleep(1.6)
    assert a.try_acquire("a", 3).holder == "a"  # renewed
    time.sleep(1.6)
    assert b.try_acquire("b", 3).holder == "a"  # over 3 s since acquired, but within 3 s of the renewal
    time.sleep(3.5)
    took = b.try_acquire("b", 3)
    assert took is not None and took.holder == "b" and took.transitions == 1
    raw = b._coord().read_namespaced_lease("ctl", kube.namespace)
    assert raw.spec.holder_identity == "b" and raw.spec.lease_duration_seconds == 3
    b.release("b")
    assert a.try_acquire("a", 3).holder == "a"  # free at once after a release


def test_a_stale_holder_test_loses_the_race(lease) -> None:  # type: ignore[no-untyped-def]
    a = lease()
    a.try_acquire("a", 1)
    from kubernetes.client.rest import ApiException

    ops = [{"op": "test", "path": "/spec/holderIdentity", "value": "someone-else"},
           {"op": "add", "path": "/spec/holderIdentity", "value": "thief"}]
    with pytest.raises(ApiException) as err:
        a._coord().patch_namespaced_lease("ctl", a.namespace, ops)
    assert err.value.status in (409, 422, 500)  # a real API server says 422; kmock answers a failed test with 500
    assert a._coord().read_namespaced_lease("ctl", a.namespace).spec.holder_identity == "a"  # nothing written
    assert a.try_acquire("a", 1).holder == "a"


def test_two_electors_on_one_lease(lease) -> None:  # type: ignore[no-untyped-def]
    one = Elector(lease(), ttl=2.0, holder="one").start()
    two = Elector(lease(), ttl=2.0, holder="two").start()
    try:
        assert one.status().leader and not two.status().leader and two.status().holder == "one"
        one.stop(release=True)
        for _ in range(400):
            if two.status().leader:
                break
            time.sleep(0.05)
        assert two.status().leader
    finally:
        one.stop()
        two.stop()


def test_reconcile_with_lease_k8s_holds_and_releases_the_lease(kube: Kube, tmp_path: Path,
                                                                demo_copy: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from kubernetes import client

    sv = str(Path(sys.executable).parent / "streamverse")
    (tmp_path / "state").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVERSE_")}
    env.update(KUBECONFIG=kubeconfig(tmp_path, kube.url), POD_NAMESPACE=kube.namespace,
               STREAMVERSE_STATE_DIR=str(tmp_path / "state"), STREAMVERSE_INVENTORY=str(demo_copy))
    out = subprocess.run([sv, "ctl", "reconcile", "--apply", "--platform", "sim", "--lease", "k8s", "-n", "2",
                          "--interval", "100ms", "--log-format", "json"], env=env, capture_output=True, text=True,
                         timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0]["event"] == "lease.acquired"
    assert events[0]["where"] == f"Lease {kube.namespace}/streamverse-reconcile"  # POD_NAMESPACE, default name
    ticks = [e for e in events if e["event"] == "reconcile.tick"]
    assert [t["status"] for t in ticks] == ["applied", "in-sync"] and {t["role"] for t in ticks} == {"leader"}
    assert events[-1]["event"] == "lease.released"
    cfg = client.Configuration()
    cfg.host = kube.url
    with client.ApiClient(cfg) as api:
        lease = client.CoordinationV1Api(api).read_namespaced_lease("streamverse-reconcile", kube.namespace)
    assert lease.spec.holder_identity == "" and lease.spec.lease_transitions == 0  # given up on exit
