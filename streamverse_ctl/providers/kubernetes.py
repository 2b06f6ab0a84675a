"""Kubernetes provider (official ``kubernetes`` client): GPU transcode pools and encoding ladders.

What it writes, in the namespace of the ``namespace`` setting:

- ``transcode.pool`` -> a Deployment named after the pool. ``spec.replicas`` is the floor
  ``min_nodes`` (the autoscaler scales above it); the rest of the pool's spec is recorded in
  annotations on the Deployment (``streamverse.io/min-nodes``, ``streamverse.io/max-nodes``,
  ``streamverse.io/gpu``, ``streamverse.io/target-queue-per-node``, ``streamverse.io/ladder``)
  and its region in the label ``streamverse.io/region``. The pod template selects GPU nodes with
  the node label of ``gpuNodeLabel`` (value: the pool's ``gpu``), tolerates the ``nvidia.com/gpu``
  taint, limits each worker to ``nvidia.com/gpu: 1`` and mounts the ladder's ConfigMap at
  ``/etc/streamverse/ladder``.
- ``transcode.ladder`` -> a ConfigMap ``transcode-ladder-<name>`` with the keys ``rungs.json``,
  ``codecs.json``, ``formats.json`` (JSON) and ``segment_seconds``. Ladders are written to every
  cluster the provider knows (pods mount them locally).

Reading back
------------
Every Deployment in the namespace is read as a ``transcode.pool`` and every ConfigMap named
``transcode-ladder-*`` as a ``transcode.ladder``. Objects without the label
``app.kubernetes.io/managed-by: streamverse-ctl`` are ``managed=False``: never deleted, and
writing one is a takeover (the engine's ``adopt`` guardrail). Every object a write leaves carries
the label ``streamverse.io/state-lineage``: the state whose apply wrote it (``Resource.owner``, for
the ``foreign-state`` guardrail). The spec is read from what actually
runs, so changes made behind the tool's back show as drift:

- ``min_nodes``: the ``min-nodes`` annotation while ``spec.replicas`` lies within
  ``[min-nodes, max-nodes]`` (the autoscaler's range); outside it, the replica count itself.
- ``gpu``: the pod template's ``gpuNodeLabel`` node selector, or ``""`` when no container keeps
  the ``nvidia.com/gpu`` limit.
- the other fields from the annotations; ``region`` from the label.

Applying a pool sets ``spec.replicas`` to the current count clamped to ``[min_nodes,
max_nodes]`` (a create starts at ``min_nodes``). So raising ``min_nodes`` scales up at once, but
lowering it never scales a busy pool down: the autoscaler does that. Writes are create, JSON merge
patch (``application/merge-patch+json``) and delete only; a merge patch carries the last-read
``resourceVersion`` when the server has one, so a concurrent edit makes it fail with 409 and retry.
A ladder that differs between clusters (or is missing in some) reads with an extra field
``out_of_sync`` naming them, so plan shows an update that rewrites it everywhere.

Several contexts may name one cluster (e.g. a context per region on a shared API server): clusters
are told apart by API server URL and namespace, each is listed and written once, a Deployment
belongs to the context of the region in its ``streamverse.io/region`` label, and moving a pool
between two contexts of the same cluster is a patch, never a delete.

Settings (``Provider`` document ``spec.settings``)
--------------------------------------------------
``kubeconfig``       path of a kubeconfig file (default: standard loading: ``$KUBECONFIG`` or
                     ``~/.kube/config``, else the in-cluster service account)
``contexts``         region -> kube context, e.g. ``{us-east: sv-us-east, eu-west: sv-eu-west}``
                     (default: each Region document's ``kubeContext``, unless ``context`` is set)
                     (use each Region's ``spec.kubeContext``). Default: one client (``context``)
                     for every region. A pool in a region missing from the mapping is refused at
                     plan time.
``context``          the context used when ``contexts`` is not set (default: current-context)
``namespace``        default ``streamverse`` (must exist: it is never created)
``server``           API URL override (no kubeconfig is loaded): one URL for every context, or a
                     mapping context -> URL. Used by the tests against the kmock emulator.
``token``            with ``server``: a bearer token as a secret reference (``{fromEnv: NAME}`` or
                     ``{fromFile: PATH}``); never logged or shown
``caFile``           with ``server``: CA bundle for TLS; ``insecureSkipTlsVerify`` (default false)
``image``            worker image for new pools (default
                     ``registry.streamverse.example/transcode-worker:stable``; later changes of
                     the image are left to the deploy pipeline)
``gpuNodeLabel``     node label holding the GPU model (default ``streamverse.io/gpu``)
``timeout``          seconds per API call (default 10)

Errors: 409, 429 and 5xx (and network errors) are temporary and retried; 401/403 are permanent
and name the provider and the server (never the token); 404 on a write names the namespace.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from ..core.errors import PermanentError, StreamverseError, TemporaryError
from ..core.resources import Change, Resource
from ..core.secrets import Secret, redact
from ..inventory.provider_settings import KubernetesSettings
from .base import Provider, ProviderContext, VerifyResult

POOL = "transcode.pool"
LADDER = "transcode.ladder"

OWNER_LABEL = "app.kubernetes.io/managed-by"
OWNER_VALUE = "streamverse-ctl"
COMPONENT_LABEL = "app.kubernetes.io/component"
POOL_LABEL = "streamverse.io/pool"
REGION_LABEL = "streamverse.io/region"
LINEAGE_LABEL = "streamverse.io/state-lineage"  # the state whose apply last wrote the object
ANN_MIN = "streamverse.io/min-nodes"
ANN_MAX = "streamverse.io/max-nodes"
ANN_GPU = "streamverse.io/gpu"
ANN_QUEUE = "streamverse.io/target-queue-per-node"
ANN_LADDER = "streamverse.io/ladder"
ANN_QUEUE_SOURCE = "streamverse.io/queue"  # a queue-scaled pool's queue source (JSON); it also gets an HPA
GPU_RESOURCE = "nvidia.com/gpu"
LADDER_PREFIX = "transcode-ladder-"
LADDER_VOLUME = "ladder"
LADDER_MOUNT = "/etc/streamverse/ladder"
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_IMAGE = "registry.streamverse.example/transcode-worker:stable"
DEFAULT_NAMESPACE = "streamverse"


def _lineage_of(obj: Mapping[str, Any]) -> str:
    """The state lineage an object's label names ("" if none)."""
    return str(((obj.get("metadata") or {}).get("labels") or {}).get(LINEAGE_LABEL, ""))


def ladder_configmap(name: str) -> str:
    return LADDER_PREFIX + name


def _int(value: Any, default: Any) -> Any:
    """An int from an annotation string; an unparsable value is returned as is (it shows as drift)."""
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _json_value(text: Any, default: Any) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _has_gpu_limit(template_spec: Mapping[str, Any]) -> bool:
    return any(GPU_RESOURCE in ((c.get("resources") or {}).get("limits") or {})
               for c in template_spec.get("containers") or [])


class _NotFound(PermanentError):
    """HTTP 404 (a missing object is often fine: the callers decide)."""


@dataclass
class _Cluster:
    key: str  # kube context name, or "" for the single default client
    host: str
    api: Any  # kubernetes.client.ApiClient
    apps: Any  # AppsV1Api
    core: Any  # CoreV1Api
    hpa: Any = None  # AutoscalingV2Api

    def describe(self) -> str:
        return f"context '{self.key}' ({self.host})" if self.key else self.host


class KubernetesProvider(Provider):
    provider_type = "kubernetes"
    settings_model: ClassVar[type[Any] | None] = KubernetesSettings  # spec.settings, checked by validate
    resource_types: ClassVar[frozenset[str]] = frozenset({POOL, LADDER})
    features: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, settings: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(name, settings, context)
        s = self.settings
        contexts = s.get("contexts") or {}
        if not contexts and not s.get("context"):
            # by default each region's cluster is the Region document's kubeContext
            contexts = {r: v["kube_context"] for r, v in context.regions.items() if v.get("kube_context")}
        if not isinstance(contexts, Mapping):
            raise PermanentError(f"kubernetes provider '{name}': contexts must be a mapping region -> kube context")
        self.contexts: dict[str, str] = {str(k): str(v) for k, v in contexts.items()}
        self.context_name = str(s["context"]) if s.get("context") else None
        self.kubeconfig = str(s["kubeconfig"]) if s.get("kubeconfig") else None
        self.namespace = str(s.get("namespace") or DEFAULT_NAMESPACE)
        server = s.get("server")
        if isinstance(server, Mapping):
            self.server: str | dict[str, str] | None = {str(k): str(v).rstrip("/") for k, v in server.items()}
        else:
            self.server = str(server).rstrip("/") if server else None
        token = s.get("token")
        if token is not None and not isinstance(token, Secret):
            raise PermanentError(f"kubernetes provider '{name}': token must be a secret reference "
                                 "({fromEnv: NAME} or {fromFile: PATH}), not plain text")
        self._token = token
        self.image = str(s.get("image") or DEFAULT_IMAGE)
        self.gpu_label = str(s.get("gpuNodeLabel") or "streamverse.io/gpu")
        self.timeout = float(s.get("timeout", 10))
        self._lock = threading.Lock()
        self._clients: dict[str, _Cluster] = {}
        self._where_read: dict[str, str] = {}  # pool name -> cluster key it was last read from

    # ----- clusters ---------------------------------------------------------------------------------
    def _cluster_keys(self) -> list[str]:
        return sorted(set(self.contexts.values())) if self.contexts else [self.context_name or ""]

    def _identity(self, key: str) -> str:
        """Which cluster a context names: its API server URL (normalized) and the namespace."""
        host = self._cluster(key).host.strip().rstrip("/")
        scheme, sep, rest = host.partition("://")
        return f"{scheme.lower()}{sep}{rest.lower()} {self.namespace}"

    def _distinct_keys(self) -> list[str]:
        """One context per distinct cluster (server URL + namespace), in context order: several kube
        contexts may name the same API server (e.g. one context per region on a shared cluster), and
        listing it once per context would read every object several times."""
        out: list[str] = []
        seen: set[str] = set()
        for key in self._cluster_keys():
            ident = self._identity(key)
            if ident not in seen:
                seen.add(ident)
                out.append(key)
        return out

    def _owner_key(self, read_key: str, region: str) -> str:
        """The context a Deployment listed through ``read_key`` belongs to: its region's context when that
        names the same cluster, else ``read_key`` (a pool in another region's cluster reads as a move)."""
        try:
            key = self._key_for_region(region)
        except PermanentError:
            return read_key
        return key if self._identity(key) == self._identity(read_key) else read_key

    def _same_cluster(self, a: str, b: str) -> bool:
        return a == b or self._identity(a) == self._identity(b)

    def _key_for_region(self, region: str) -> str:
        if not self.contexts:
            return self.context_name or ""
        if region not in self.contexts:
            raise PermanentError(f"kubernetes provider '{self.name}': no kube context for region '{region}' "
                                 f"(setting contexts knows {', '.join(sorted(self.contexts)) or 'none'})")
        return self.contexts[region]

    def _cluster(self, key: str) -> _Cluster:
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._connect(key)
            return self._clients[key]

    def _connect(self, key: str) -> _Cluster:
        what = f"kubernetes provider '{self.name}'"
        if self.server is not None:
            if isinstance(self.server, dict):
                if key not in self.server:
                    raise PermanentError(f"{what}: setting server has no URL for context '{key}'")
                host = self.server[key]
            else:
                host = self.server
            cfg = k8s.Configuration()
            cfg.host = host
            if self._token is not None:
                cfg.api_key = {"authorization": self._token.reveal()}
                cfg.api_key_prefix = {"authorization": "Bearer"}
            if self.settings.get("caFile"):
                cfg.ssl_ca_cert = str(self.settings["caFile"])
            if self.settings.get("insecureSkipTlsVerify"):
                cfg.verify_ssl = False
        else:
            cfg = k8s.Configuration()
            try:
                k8s_config.load_kube_config(config_file=self.kubeconfig, context=key or None,
                                            client_configuration=cfg, persist_config=False)
            except (k8s_config.ConfigException, OSError) as exc:
                if self.kubeconfig or key:
                    raise PermanentError(f"{what}: cannot load kubeconfig {self.kubeconfig or '(default)'}"
                                         f"{f' context {key!r}' if key else ''}: {redact(str(exc))}") from exc
                try:
                    k8s_config.load_incluster_config(client_configuration=cfg)
                except k8s_config.ConfigException as exc2:
                    raise PermanentError(f"{what}: no kubeconfig ($KUBECONFIG, ~/.kube/config) and not running in "
                                         f"a cluster: {redact(str(exc2))}") from exc2
            host = str(cfg.host)
        cfg.retries = 0  # the provider retries (with backoff); urllib3 must not retry on its own
        api = k8s.ApiClient(configuration=cfg)
        return _Cluster(key, host, api, k8s.AppsV1Api(api), k8s.CoreV1Api(api), k8s.AutoscalingV2Api(api))

    def close(self) -> None:
        with self._lock:
            for c in self._clients.values():
                c.api.close()
            self._clients.clear()

    # ----- calls and errors ---------------------------------------------------------------------
    def _call(self, cluster: _Cluster, what: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Call one API method and return the decoded JSON body; errors become Temporary/Permanent."""
        try:
            resp = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kw)
            data = resp.data
            return json.loads(data) if data else {}
        except ApiException as exc:
            raise self._api_error(exc, cluster, what) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TemporaryError(f"kubernetes provider '{self.name}': {what} on {cluster.describe()}: "
                                 f"cannot reach the API server: {_net_reason(exc)}") from None

    def _api_error(self, exc: ApiException, cluster: _Cluster, what: str) -> StreamverseError:
        status = int(exc.status or 0)
        reason = _status_message(exc)
        msg = f"kubernetes provider '{self.name}': {what} on {cluster.describe()}: HTTP {status} {reason}".rstrip()
        if status in (401, 403):
            return PermanentError(msg + " (check the credentials of this context; token not shown)")
        if status in (409, 429) or status >= 500:
            retry_after = (exc.headers or {}).get("Retry-After") if exc.headers else None
            delay = float(retry_after) if retry_after and str(retry_after).isdigit() else 1.0
            return TemporaryError(msg, delay=delay)
        if status == 404:
            return _NotFound(msg + f" (does namespace '{self.namespace}' exist?)")
        return PermanentError(msg)

    def _get(self, cluster: _Cluster, what: str, fn: Callable[..., Any], name: str) -> dict[str, Any] | None:
        try:
            return dict(self._call(cluster, what, fn, name, self.namespace))
        except _NotFound:
            return None

    # ----- read ---------------------------------------------------------------------------------
    def _read(self, types: Sequence[str]) -> list[Resource]:
        out: list[Resource] = []
        if POOL in types:
            seen: dict[str, str] = {}
            for key in self._distinct_keys():  # each cluster listed once, however many contexts name it
                cluster = self._cluster(key)
                body = self._call(cluster, "list Deployments", cluster.apps.list_namespaced_deployment,
                                  self.namespace)
                # no label selector: kmock ignores them, and unmanaged Deployments must be seen too; the
                # owning context is picked client-side from the streamverse.io/region label
                for dep in body.get("items") or []:
                    name = str((dep.get("metadata") or {}).get("name", ""))
                    if not name or name in seen:
                        continue  # same name in two clusters: the first (sorted by context) wins
                    spec, managed = self._pool_from(dep)
                    seen[name] = self._owner_key(key, str(spec["region"]))
                    out.append(Resource(POOL, name, spec, self.name, managed=managed,
                                        owner=_lineage_of(dep) if managed else ""))
            self._where_read = seen
        if LADDER in types:
            out.extend(self._read_ladders())
        return out

    def _pool_from(self, dep: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        meta = dep.get("metadata") or {}
        labels = meta.get("labels") or {}
        ann = meta.get("annotations") or {}
        spec = dep.get("spec") or {}
        tspec = (spec.get("template") or {}).get("spec") or {}
        replicas = _int(spec.get("replicas"), 1)  # the API's default
        max_nodes = _int(ann.get(ANN_MAX), replicas)
        floor = _int(ann.get(ANN_MIN), None)
        min_nodes = replicas
        if isinstance(floor, int) and isinstance(replicas, int) and isinstance(max_nodes, int) \
                and floor <= replicas <= max_nodes:
            min_nodes = floor
        gpu = str((tspec.get("nodeSelector") or {}).get(self.gpu_label, "")) if _has_gpu_limit(tspec) else ""
        pool = {
            "region": str(labels.get(REGION_LABEL, "")),
            "gpu": gpu,
            "min_nodes": min_nodes,
            "max_nodes": max_nodes,
            "target_queue_per_node": _int(ann.get(ANN_QUEUE), 0),
            "ladder": str(ann.get(ANN_LADDER, "")),
        }
        if ANN_QUEUE_SOURCE in ann:
            pool["queue"] = _json_value(ann[ANN_QUEUE_SOURCE], None)
        return pool, labels.get(OWNER_LABEL) == OWNER_VALUE

    def _read_ladders(self) -> list[Resource]:
        found: dict[str, dict[str, tuple[dict[str, Any], bool]]] = {}  # ladder -> cluster -> (spec, managed)
        owners: dict[str, str] = {}  # ladder -> the lineage its first ConfigMap naming one names
        keys = self._distinct_keys()
        for key in keys:
            cluster = self._cluster(key)
            body = self._call(cluster, "list ConfigMaps", cluster.core.list_namespaced_config_map, self.namespace)
            for cm in body.get("items") or []:
                meta = cm.get("metadata") or {}
                cm_name = str(meta.get("name", ""))
                if not cm_name.startswith(LADDER_PREFIX) or len(cm_name) == len(LADDER_PREFIX):
                    continue
                data = cm.get("data") or {}
                spec = {
                    "codecs": _json_value(data.get("codecs.json"), []),
                    "formats": _json_value(data.get("formats.json"), []),
                    "segment_seconds": _int(data.get("segment_seconds"), 0),
                    "rungs": _json_value(data.get("rungs.json"), []),
                }
                managed = (meta.get("labels") or {}).get(OWNER_LABEL) == OWNER_VALUE
                found.setdefault(cm_name[len(LADDER_PREFIX):], {})[key] = (spec, managed)
                if managed and _lineage_of(cm):
                    owners.setdefault(cm_name[len(LADDER_PREFIX):], _lineage_of(cm))
        out = []
        for name, per in sorted(found.items()):
            first_key = next(k for k in keys if k in per)
            spec = dict(per[first_key][0])
            stale = [f"{k}: missing" if k not in per else f"{k}: differs" for k in keys
                     if k not in per or per[k][0] != spec]
            if stale:
                spec["out_of_sync"] = stale
            out.append(Resource(LADDER, name, spec, self.name, managed=all(m for _, m in per.values()),
                                owner=owners.get(name, "")))
        return out

    # ----- apply --------------------------------------------------------------------------------
    def _apply(self, batch: Sequence[Change]) -> None:
        for change in batch:
            if change.type == POOL:
                self._apply_pool(change)
            elif change.type == LADDER:
                self._apply_ladder(change)
            else:  # pragma: no cover - the engine routes only our types here
                raise PermanentError(f"kubernetes provider '{self.name}' does not manage {change.type}")

    def _labels(self, component: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        lineage = {LINEAGE_LABEL: self.lineage} if self.lineage else {}
        return {OWNER_LABEL: OWNER_VALUE, COMPONENT_LABEL: component, **lineage, **(extra or {})}

    def _pool_meta(self, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        queue = spec.get("queue")
        return {
            "labels": self._labels("transcode-pool", {POOL_LABEL: name, REGION_LABEL: str(spec["region"])}),
            "annotations": {
                ANN_MIN: str(spec["min_nodes"]), ANN_MAX: str(spec["max_nodes"]), ANN_GPU: str(spec["gpu"]),
                ANN_QUEUE: str(spec["target_queue_per_node"]), ANN_LADDER: str(spec["ladder"]),
                # None removes it in a merge patch (and is dropped from a create)
                ANN_QUEUE_SOURCE: json.dumps(queue, sort_keys=True) if queue is not None else None,
            },
        }

    def _ladder_volume(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": LADDER_VOLUME, "configMap": {"name": ladder_configmap(str(spec["ladder"]))}}

    def _deployment(self, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        meta = self._pool_meta(name, spec)
        meta["annotations"] = {k: v for k, v in meta["annotations"].items() if v is not None}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": self.namespace, **meta},
            "spec": {
                "replicas": int(spec["min_nodes"]),
                "selector": {"matchLabels": {POOL_LABEL: name}},
                "template": {
                    "metadata": {"labels": {POOL_LABEL: name, COMPONENT_LABEL: "transcode-worker"},
                                 "annotations": {ANN_LADDER: str(spec["ladder"])}},
                    "spec": {
                        "nodeSelector": {self.gpu_label: str(spec["gpu"])},
                        "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
                        "containers": [{
                            "name": "transcoder",
                            "image": self.image,
                            "env": [{"name": "STREAMVERSE_POOL", "value": name},
                                    {"name": "STREAMVERSE_LADDER_DIR", "value": LADDER_MOUNT}],
                            "resources": {"limits": {GPU_RESOURCE: "1"}},
                            "volumeMounts": [{"name": LADDER_VOLUME, "mountPath": LADDER_MOUNT, "readOnly": True}],
                        }],
                        "volumes": [self._ladder_volume(spec)],
                    },
                },
            },
        }

    def _apply_pool(self, change: Change) -> None:
        name = change.name
        after = change.after
        old_key = self._where_read.get(name)
        if change.before is not None and old_key is None:  # not read by this process (a saved plan)
            try:
                old_key = self._key_for_region(str(change.before.get("region", "")))
            except PermanentError:
                old_key = None
        if after is None:
            if old_key is not None:
                self._delete_pool(self._cluster(old_key), name)
                self._sync_hpa(self._cluster(old_key), name, None)
            return
        new_key = self._key_for_region(str(after["region"]))
        cluster = self._cluster(new_key)
        current = self._get(cluster, f"get Deployment {name}", cluster.apps.read_namespaced_deployment, name)
        if current is None:
            try:
                self._call(cluster, f"create Deployment {name}", cluster.apps.create_namespaced_deployment,
                           self.namespace, self._deployment(name, after))
            except TemporaryError as exc:
                if "HTTP 409" not in str(exc):
                    raise
                # created meanwhile (e.g. an earlier attempt timed out after succeeding): patch it next try
                raise TemporaryError(f"{exc} (created concurrently; retrying as an update)", 0.2) from None
        else:
            self._patch_pool(cluster, name, current, after, takeover=change.before is not None)
        self._sync_hpa(cluster, name, after)
        if old_key is not None and not self._same_cluster(old_key, new_key):  # moved to another cluster
            self._delete_pool(self._cluster(old_key), name)
            self._sync_hpa(self._cluster(old_key), name, None)
        self._where_read[name] = new_key

    def _patch_pool(self, cluster: _Cluster, name: str, current: Mapping[str, Any], after: Mapping[str, Any],
                    takeover: bool) -> None:
        meta = current.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(OWNER_LABEL) != OWNER_VALUE and not takeover:
            raise PermanentError(f"kubernetes provider '{self.name}': Deployment {self.namespace}/{name} on "
                                 f"{cluster.describe()} is not managed by streamverse-ctl; refusing to change it")
        spec = current.get("spec") or {}
        tspec = (spec.get("template") or {}).get("spec") or {}
        replicas = _int(spec.get("replicas"), 1)
        lo, hi = int(after["min_nodes"]), int(after["max_nodes"])
        target = min(max(replicas, lo), hi) if isinstance(replicas, int) else lo
        template_spec: dict[str, Any] = {"nodeSelector": {self.gpu_label: str(after["gpu"])}}
        volumes = [v for v in tspec.get("volumes") or [] if v.get("name") != LADDER_VOLUME]
        template_spec["volumes"] = [*volumes, self._ladder_volume(after)]  # merge patch replaces lists
        if not _has_gpu_limit(tspec):  # restore the GPU limit on the first container, keep the rest
            containers = [dict(c) for c in tspec.get("containers") or []]
            if containers:
                res = dict(containers[0].get("resources") or {})
                res["limits"] = {**(res.get("limits") or {}), GPU_RESOURCE: "1"}
                containers[0]["resources"] = res
                template_spec["containers"] = containers
        patch: dict[str, Any] = {
            "metadata": self._pool_meta(name, after),
            "spec": {"replicas": target,
                     "template": {"metadata": {"annotations": {ANN_LADDER: str(after["ladder"])}},
                                  "spec": template_spec}},
        }
        if meta.get("resourceVersion") and meta["resourceVersion"] != "...":
            patch["metadata"]["resourceVersion"] = meta["resourceVersion"]  # optimistic concurrency
        self._call(cluster, f"patch Deployment {name}", cluster.apps.patch_namespaced_deployment, name,
                   self.namespace, patch, _content_type=MERGE_PATCH)

    def _hpa(self, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """An autoscaling/v2 HorizontalPodAutoscaler scaling the pool's Deployment on its queue depth: the
        external metric (label ``pool``) per replica targets ``target_queue_per_node``, so the HPA's answer
        is ceil(depth / target) within min..max, as on Auto Scaling."""
        queue = spec["queue"]
        metric = str(queue.get("metric") or "streamverse_transcode_queue_depth") if isinstance(queue, Mapping) \
            else "streamverse_transcode_queue_depth"
        return {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": self.namespace,
                         "labels": self._labels("transcode-autoscaler", {POOL_LABEL: name})},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": max(1, int(spec["min_nodes"])), "maxReplicas": int(spec["max_nodes"]),
                "metrics": [{"type": "External", "external": {
                    "metric": {"name": metric, "selector": {"matchLabels": {"pool": name}}},
                    "target": {"type": "AverageValue", "averageValue": str(spec["target_queue_per_node"])}}}],
            },
        }

    def _sync_hpa(self, cluster: _Cluster, name: str, spec: Mapping[str, Any] | None) -> None:
        """Create or update the pool's HPA when it is queue-scaled; delete ours when it no longer is."""
        api = cluster.hpa
        current = self._get(cluster, f"get HorizontalPodAutoscaler {name}",
                            api.read_namespaced_horizontal_pod_autoscaler, name)
        owned = current is not None and \
            ((current.get("metadata") or {}).get("labels") or {}).get(OWNER_LABEL) == OWNER_VALUE
        if spec is None or spec.get("queue") is None:
            if owned:
                self._delete(cluster, f"delete HorizontalPodAutoscaler {name}",
                             api.delete_namespaced_horizontal_pod_autoscaler, name)
            return
        body = self._hpa(name, spec)
        if current is None:
            self._call(cluster, f"create HorizontalPodAutoscaler {name}",
                       api.create_namespaced_horizontal_pod_autoscaler, self.namespace, body)
        else:
            self._call(cluster, f"patch HorizontalPodAutoscaler {name}",
                       api.patch_namespaced_horizontal_pod_autoscaler, name, self.namespace,
                       {"metadata": {"labels": body["metadata"]["labels"]}, "spec": body["spec"]},
                       _content_type=MERGE_PATCH)

    def hpa(self, name: str, region: str) -> dict[str, Any] | None:
        """The pool's HorizontalPodAutoscaler as the API server holds it (None: none)."""
        cluster = self._cluster(self._key_for_region(region))
        return self._get(cluster, f"get HorizontalPodAutoscaler {name}",
                         cluster.hpa.read_namespaced_horizontal_pod_autoscaler, name)

    def _delete_pool(self, cluster: _Cluster, name: str) -> None:
        current = self._get(cluster, f"get Deployment {name}", cluster.apps.read_namespaced_deployment, name)
        if current is None:
            return
        if ((current.get("metadata") or {}).get("labels") or {}).get(OWNER_LABEL) != OWNER_VALUE:
            raise PermanentError(f"kubernetes provider '{self.name}': Deployment {self.namespace}/{name} on "
                                 f"{cluster.describe()} is not managed by streamverse-ctl; refusing to delete it")
        self._delete(cluster, f"delete Deployment {name}", cluster.apps.delete_namespaced_deployment, name)

    def _delete(self, cluster: _Cluster, what: str, fn: Callable[..., Any], name: str) -> None:
        try:
            self._call(cluster, what, fn, name, self.namespace)
        except _NotFound:  # already gone: fine
            pass

    def _apply_ladder(self, change: Change) -> None:
        cm_name = ladder_configmap(change.name)
        for key in self._distinct_keys():
            cluster = self._cluster(key)
            current = self._get(cluster, f"get ConfigMap {cm_name}", cluster.core.read_namespaced_config_map,
                                cm_name)
            owned = current is not None and \
                ((current.get("metadata") or {}).get("labels") or {}).get(OWNER_LABEL) == OWNER_VALUE
            if change.after is None:
                if owned:
                    self._delete(cluster, f"delete ConfigMap {cm_name}", cluster.core.delete_namespaced_config_map,
                                 cm_name)
                continue
            after = change.after
            data = {
                "codecs.json": json.dumps(list(after["codecs"])),
                "formats.json": json.dumps(list(after["formats"])),
                "segment_seconds": str(after["segment_seconds"]),
                "rungs.json": json.dumps(list(after["rungs"]), sort_keys=True),
            }
            labels = self._labels("transcode-ladder", {"streamverse.io/ladder": change.name})
            if current is None:
                body = {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": cm_name, "namespace": self.namespace, "labels": labels}, "data": data}
                self._call(cluster, f"create ConfigMap {cm_name}", cluster.core.create_namespaced_config_map,
                           self.namespace, body)
                continue
            if not owned and change.before is None:
                raise PermanentError(f"kubernetes provider '{self.name}': ConfigMap {self.namespace}/{cm_name} on "
                                     f"{cluster.describe()} exists and is not managed by streamverse-ctl")
            stale = [k for k in (current.get("data") or {}) if k not in data]
            patch = {"metadata": {"labels": labels}, "data": {**data, **dict.fromkeys(stale)}}
            self._call(cluster, f"patch ConfigMap {cm_name}", cluster.core.patch_namespaced_config_map, cm_name,
                       self.namespace, patch, _content_type=MERGE_PATCH)

    # ----- checks -------------------------------------------------------------------------------
    def check(self, desired: Sequence[Resource]) -> list[str]:
        problems = super().check(desired)
        if self.contexts:
            for r in desired:
                region = str(r.spec.get("region", "")) if r.type == POOL else ""
                if r.type == POOL and region not in self.contexts:
                    problems.append(f"provider '{self.name}' (kubernetes) has no kube context for region "
                                    f"'{region}' needed by {r.origin or r.id} (setting contexts)")
        return problems

    def verify(self, desired: Sequence[Resource], timeout: float = 30.0) -> list[VerifyResult]:
        """Read back and compare: the API server answers exactly the desired specs."""
        return self.verify_by_reading(desired, self.namespace)


def _status_message(exc: ApiException) -> str:
    """The Status message of an API error (never the headers, which may echo credentials)."""
    reason = str(exc.reason or "")
    try:
        body = json.loads(exc.body) if exc.body else {}
    except (TypeError, ValueError):
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return f"{reason}: {message}" if message else reason


def _net_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    for known in ("Connection refused", "timed out", "Name or service not known", "Connection reset"):
        if known.lower() in text.lower():
            return known.lower()
    return redact(text)[:200]
