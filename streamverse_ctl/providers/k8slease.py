"""The controller's leader lease as a Kubernetes ``coordination.k8s.io/v1`` Lease (``reconcile --lease k8s``).

The same contract as the state backend's lease (:class:`~streamverse_ctl.engine.leader.LeaseBackend`):
take it when it is free, expired (``renewTime + leaseDurationSeconds`` in the past) or already
ours. A take-over is a JSON patch whose first operation *tests* the holder and renew time read a
moment before, so of two replicas racing for an expired lease the API server applies one patch and
rejects the other (422 on a failed test; on a real cluster also 409 on a stale resourceVersion).

Expiry is judged against the API server's clock (its ``Date`` header) when this machine's clock
is more than 2 s off it, else against this machine's: replicas on machines with skewed clocks
still agree (the header has whole seconds, so a smaller difference is not corrected).

Client configuration: ``$KUBECONFIG`` (or ~/.kube/config), else the in-cluster service account.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from ..core.errors import PermanentError, ProviderError
from ..core.lease import LeaseView
from ..core.secrets import redact

NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
SKEW_TOLERANCE = 2.0  # seconds


def default_namespace() -> str:
    """POD_NAMESPACE (the Downward API), else the service account's namespace, else ``default``."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        with open(NAMESPACE_FILE, encoding="utf-8") as fh:
            return fh.read().strip() or "default"
    except OSError:
        return "default"


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _epoch(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class KubeLease:
    def __init__(self, name: str = "streamverse-reconcile", namespace: str | None = None,
                 kubeconfig: str | None = None) -> None:
        self.name, self.namespace = name, namespace or default_namespace()
        self.kubeconfig = kubeconfig
        self.where = f"Lease {self.namespace}/{self.name}"
        self._api: Any = None
        self._client: Any = None
        self._skew = 0.0  # server clock - local clock

    def _coord(self) -> Any:
        if self._api is None:
            from kubernetes import client as k8s
            from kubernetes import config as k8s_config

            cfg = k8s.Configuration()
            try:
                k8s_config.load_kube_config(config_file=self.kubeconfig, client_configuration=cfg,
                                            persist_config=False)
            except (k8s_config.ConfigException, OSError) as exc:
                if self.kubeconfig:
                    raise PermanentError(f"{self.where}: cannot load kubeconfig {self.kubeconfig}: "
                                         f"{redact(str(exc))}") from exc
                try:
                    k8s_config.load_incluster_config(client_configuration=cfg)
                except k8s_config.ConfigException as exc2:
                    raise PermanentError(f"{self.where}: no kubeconfig ($KUBECONFIG, ~/.kube/config) and not "
                                         f"running in a cluster: {redact(str(exc2))}") from exc2
            cfg.retries = 0
            self._client = k8s.ApiClient(configuration=cfg)
            self._api = k8s.CoordinationV1Api(self._client)
        return self._api

    def _now(self) -> float:
        return time.time() + self._skew

    def _read(self) -> Any | None:
        from kubernetes.client.rest import ApiException

        try:
            lease, _status, headers = self._coord().read_namespaced_lease_with_http_info(self.name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ProviderError(f"{self.where}: read failed ({exc.status} {exc.reason})") from exc
        date = (headers or {}).get("Date")
        if date:
            try:
                skew = parsedate_to_datetime(date).timestamp() - time.time()
            except (TypeError, ValueError):
                skew = 0.0
            # the Date header has whole seconds: only a real difference of clocks is corrected
            self._skew = skew if abs(skew) > SKEW_TOLERANCE else 0.0
        return lease

    def try_acquire(self, holder: str, ttl: float) -> LeaseView | None:
        from kubernetes.client.rest import ApiException

        lease = self._read()
        now = self._now()
        body: dict[str, Any] = {"holderIdentity": holder, "leaseDurationSeconds": max(1, round(ttl)),
                                "renewTime": _stamp(now)}
        if lease is None:
            body.update(acquireTime=_stamp(now), leaseTransitions=0)
            try:
                self._coord().create_namespaced_lease(self.namespace, {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace,
                                 "annotations": {"streamverse.io/host": socket.gethostname()}},
                    "spec": body})
            except ApiException as exc:
                if exc.status != 409:  # 409: another replica created it first
                    raise ProviderError(f"{self.where}: create failed ({exc.status} {exc.reason})") from exc
            return self._view(self._read())
        spec = lease.spec
        cur = spec.holder_identity or ""
        renewed = _epoch(spec.renew_time)
        expired = now > renewed + float(spec.lease_duration_seconds or 0)
        if cur and cur != holder and not expired:
            return self._view(lease)
        if cur != holder:
            body.update(acquireTime=_stamp(now), leaseTransitions=int(spec.lease_transitions or 0) + 1)
        ops: list[dict[str, Any]] = [{"op": "test", "path": "/spec/holderIdentity", "value": spec.holder_identity}]
        if lease.metadata.resource_version:
            ops.append({"op": "test", "path": "/metadata/resourceVersion", "value": lease.metadata.resource_version})
        ops += [{"op": "add", "path": f"/spec/{k}", "value": v} for k, v in body.items()]
        try:
            self._coord().patch_namespaced_lease(self.name, self.namespace, ops)
        except ApiException as exc:
            if exc.status not in (409, 422):  # lost the race: report who has it now
                raise ProviderError(f"{self.where}: update failed ({exc.status} {exc.reason})") from exc
        return self._view(self._read())

    def _view(self, lease: Any | None) -> LeaseView | None:
        if lease is None or not lease.spec.holder_identity:
            return None
        spec = lease.spec
        acquired = _epoch(spec.acquire_time) if spec.acquire_time else _epoch(spec.renew_time)
        return LeaseView(spec.holder_identity, "", _stamp(acquired), _stamp(_epoch(spec.renew_time)),
                         float(spec.lease_duration_seconds or 0), max(0.0, self._now() - acquired),
                         int(spec.lease_transitions or 0))

    def release(self, holder: str) -> None:
        """Give it up as client-go does: empty holder, so another replica takes it at its next try."""
        from kubernetes.client.rest import ApiException

        lease = self._read()
        if lease is None or lease.spec.holder_identity != holder:
            return
        ops = [{"op": "test", "path": "/spec/holderIdentity", "value": holder},
               {"op": "add", "path": "/spec/holderIdentity", "value": ""},
               {"op": "add", "path": "/spec/leaseDurationSeconds", "value": 1}]
        try:
            self._coord().patch_namespaced_lease(self.name, self.namespace, ops)
        except ApiException as exc:
            if exc.status not in (409, 422):
                raise ProviderError(f"{self.where}: release failed ({exc.status} {exc.reason})") from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client, self._api = None, None
