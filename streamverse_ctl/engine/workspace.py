"""A workspace: one inventory, its state backend and its provider instances, for one run."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..compiler import Compiled, CompileInput, Override, compile_inventory
from ..core.errors import PermanentError, UnsupportedFeature
from ..core.gcpause import paused_gc
from ..core.registry import providers as provider_registry
from ..core.resources import Resource, resource_type_names
from ..core.secrets import resolve_settings
from ..inventory import Inventory, load_inventory
from ..providers.base import Provider, ProviderContext
from ..state import StateStore
from ..state.sql import is_postgres, local_dir
from . import plan as planmod
from .guardrails import check

DEFAULT_STATE_DIR = ".streamverse"


@dataclass
class Drift:
    """A difference between what the tool last wrote and what the provider holds now."""

    id: str
    provider: str
    kind: str  # changed | deleted | created
    fields: list[Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "provider": self.provider, "kind": self.kind,
                "fields": [{"path": f.path, "applied": f.before, "actual": f.after} for f in self.fields]}


class Workspace:
    def __init__(self, inventory_dir: str | Path, *, state_dir: str | Path | None = None,
                 variables: Mapping[str, str] | None = None, platform: str | None = None,
                 dry_run: bool = False) -> None:
        self.inventory_dir = Path(inventory_dir)
        self._state_dir = state_dir
        self.variables = dict(variables or {})
        self.platform = platform
        self.dry_run = dry_run
        self._providers: dict[str, Provider] = {}
        # deliberate changes staged for this run: persisted only once their apply passes guardrails
        self.pending_overrides: list[Override] = []
        self.pending_regions: dict[str, str] = {}  # region -> "serving" | "drained"
        self._lock_depth = 0  # > 0 while this workspace holds the apply lock
        self.lock_epoch = 0  # counts lock holds: a plan made under hold N needs no re-check under hold N

    # ----- the apply lock -----------------------------------------------------------------------
    @contextmanager
    def locked(self, purpose: str, timeout: float = 0.0) -> Iterator[None]:
        """Hold the apply lock (re-entrant within this workspace) and forget cached desired state.

        Plan inside it and the plan is made from the state as it is under the lock: overrides and
        drained regions another process wrote while this one waited are part of it.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        with self.state.lock("apply", purpose=purpose, timeout=timeout):
            self._lock_depth, self.lock_epoch = 1, self.lock_epoch + 1
            self.refresh()
            try:
                yield
            finally:
                self._lock_depth = 0

    @property
    def holding_lock(self) -> bool:
        return self._lock_depth > 0

    # ----- lazily built parts -------------------------------------------------------------------
    @cached_property
    def inventory(self) -> Inventory:
        return load_inventory(self.inventory_dir, self.variables)

    @cached_property
    def state_dir(self) -> Path:
        """The local directory: the SQLite store's own, or (state on PostgreSQL) STREAMVERSE_LOCAL_DIR,
        else ./.streamverse, for the sim platform's data and runbook artifacts."""
        return local_dir(self._state_location()[0])

    def _state_location(self) -> tuple[str | Path, bool]:
        """The state location (a directory, sqlite:///DIR or postgresql://...) and whether it was
        given explicitly (then a directory must exist: never create a mistyped location); the
        default (the inventory's state.url or state.path, else ./.streamverse) may be created.

        Order: --state-url/--state-dir, STREAMVERSE_STATE_URL, STREAMVERSE_STATE_DIR, the inventory."""
        if self._state_dir:
            return (self._state_dir if isinstance(self._state_dir, str) and "://" in self._state_dir
                    else Path(self._state_dir)), True
        for var in ("STREAMVERSE_STATE_URL", "STREAMVERSE_STATE_DIR"):
            env = os.environ.get(var)
            if env:
                return (env if "://" in env else Path(env)), True
        if self.inventory.state_url:
            return self.inventory.state_url, False
        if self.inventory.state_path is not None:
            return self.inventory.state_path, False
        return Path.cwd() / DEFAULT_STATE_DIR, False

    @cached_property
    def state(self) -> StateStore:
        """The store, bound to this inventory: refused if another inventory applied through it."""
        location, explicit = self._state_location()
        password_file = self.inventory.state_password_file if is_postgres(location) else None
        store = StateStore(location, create=not explicit,
                           password_file=str(password_file) if password_file else None)
        try:
            store.bind_inventory(inventory_id(self.inventory))
        except BaseException:
            store.close()
            raise
        return store

    def overrides(self) -> list[Override]:
        stored = [Override(o["kind"], o["name"], o["merge"], o["who"], o["at"], o["reason"])
                  for o in self.state.overrides()]
        pending = {(o.kind, o.name) for o in self.pending_overrides}
        return [o for o in stored if (o.kind, o.name) not in pending] + self.pending_overrides

    def drained(self) -> frozenset[str]:
        statuses = {n: r["status"] for n, r in self.state.region_statuses().items()}
        statuses.update(self.pending_regions)
        return frozenset(n for n, s in statuses.items() if s == "drained")

    @cached_property
    def compiled(self) -> Compiled:
        ci = CompileInput(drained=self.drained(), overrides=self.overrides(), platform=self.platform)
        compiled = compile_inventory(self.inventory, ci)
        if any("queue" in r.spec for r in compiled.resources if r.type == "transcode.pool"):
            from .queuedepth import measure

            self.__dict__["compiled"] = compiled  # the measuring providers are built from its bindings
            try:
                ci.queue_depths = measure(self, compiled)
            finally:
                self.__dict__.pop("compiled", None)  # never leave the unmeasured sizes cached
            if ci.queue_depths:
                compiled = compile_inventory(self.inventory, ci)
        return compiled

    def refresh(self) -> None:
        """Forget the compiled desired state (after an override or failover state changed)."""
        self.__dict__.pop("compiled", None)

    def provider(self, name: str) -> Provider:
        if name not in self._providers:
            binding = self.compiled.bindings.get(name)
            if binding is None:
                raise PermanentError(f"no provider named '{name}' in the inventory")
            cls = provider_registry.get(binding.type)
            settings = resolve_settings(binding.settings, f"provider '{name}'", allowed=self.secret_roots())
            regions = {n: {"cloud_region": r.cloud_region, "kube_context": r.kube_context,
                           "endpoints": list(r.endpoints)} for n, r in self.compiled.regions.items()}
            ctx = ProviderContext(self.state_dir, self.dry_run, regions=regions, lineage=self.state.lineage)
            self._providers[name] = cls(name, settings, ctx)
        return self._providers[name]

    def secret_roots(self) -> list[Path]:
        """Where ``fromFile`` secrets may be read: the inventory root and the secrets directories."""
        from ..core import trust

        return [trust.inventory_root(self.inventory_dir), *trust.secrets_dirs()]

    def providers(self) -> dict[str, Provider]:
        return {name: self.provider(name) for name in self.compiled.bindings}

    def close(self) -> None:
        for p in self._providers.values():
            p.close()
        self._providers.clear()
        if "state" in self.__dict__:
            self.state.close()

    # ----- reading ------------------------------------------------------------------------------
    def scope(self) -> dict[str, list[str]]:
        """Provider -> the resource types it is asked to read."""
        import fnmatch

        out: dict[str, list[str]] = {}
        types = resource_type_names()
        docs = {d.name: d for d in self.inventory.of("Provider")}
        for name, binding in self.compiled.bindings.items():
            doc = docs.get(name)
            patterns = doc.model.serves.types if doc is not None and self.platform != "sim" else ["*"]
            cls = provider_registry.get(binding.type)
            out[name] = [t for t in types if cls.serves(t)
                         and any(fnmatch.fnmatchcase(t, p) for p in patterns)]
        return out

    def read_actual(self, only: Sequence[str] | None = None) -> list[Resource]:
        actual: list[Resource] = []
        for name, types in self.scope().items():
            if only is not None and name not in only:
                continue
            provider = self.provider(name)
            provider.expected = {r.id: r.spec for r in self.compiled.resources if r.provider == name}
            try:
                actual.extend(provider.read(types))
            finally:
                provider.expected = {}
        return actual

    def metrics_source(self) -> Any:
        """The Prometheus named by the SLO's ``prometheusUrl`` (None on the sim platform or without one).

        ``STREAMVERSE_METRICS_AT`` (Unix seconds or an ISO time) evaluates every query at that time,
        to replay a recorded incident in a rehearsal.
        """
        url = self.compiled.slo.prometheus_url
        if not url or self.platform == "sim" or not self.inventory.of("Provider"):
            return None
        from ..providers.prometheus import PrometheusSource

        return PrometheusSource(url, at=_metrics_time(os.environ.get("STREAMVERSE_METRICS_AT", "")))

    def health(self) -> dict[str, bool]:
        """Region -> healthy: down if any source (a provider, or Prometheus probes) says so."""
        out: dict[str, bool] = {}
        sources = [p.region_health() for p in self.providers().values()]
        prom = self.metrics_source()
        if prom is not None:
            sources.append(prom.region_health(list(self.compiled.regions)))
        for health in sources:
            for region, ok in health.items():
                out[region] = out.get(region, True) and ok
        return out

    def check_capabilities(self) -> None:
        problems = []
        for name, resources in self.compiled.by_provider().items():
            problems += self.provider(name).check(resources)
        problems = list(dict.fromkeys(problems))  # one line per refusal, not one per record of a policy
        if problems:
            raise UnsupportedFeature("refused at plan time:\n" + "\n".join(f"  {p}" for p in problems))

    # ----- plan and drift -----------------------------------------------------------------------
    def drift(self, actual: Sequence[Resource] | None = None) -> list[Drift]:
        """Compare what the tool last wrote (by digest) with actual state; load specs only where they differ."""
        from ..core.resources import diff_fields

        actual = list(actual) if actual is not None else self.read_actual()
        have = {(r.provider, r.id): r for r in actual}
        out = []
        for (provider, rid), digest in sorted(self.state.applied_digests().items()):
            if provider not in self.compiled.bindings:
                continue
            cur = have.get((provider, rid))
            if cur is not None and cur.digest() == digest:
                continue
            spec = self.state.applied_spec(provider, rid) or {}
            if cur is None:
                out.append(Drift(rid, provider, "deleted", diff_fields(spec, {})))
            elif dict(cur.spec) != spec:
                out.append(Drift(rid, provider, "changed", diff_fields(spec, dict(cur.spec))))
        return out

    @paused_gc()  # one pause over load, compile, read and diff (see core.gcpause)
    def plan(self, targets: Sequence[str] = (), force: Sequence[str] = (),
             actual: Sequence[Resource] | None = None) -> planmod.Plan:
        self.check_capabilities()
        actual = list(actual) if actual is not None else self.read_actual()
        drift = {d.id: f"reverts a change made outside StreamVerse Control ({d.kind})" for d in self.drift(actual)}
        changes, unmanaged = planmod.diff(self.compiled.resources, actual, self.compiled.reasons, drift)
        changes = planmod.select(changes, targets)
        refusals = check(changes, self.compiled, actual, self.health(), force, lineage=self.state.lineage,
                         state_location=self.state.option_value)
        return planmod.Plan(
            changes=changes, fingerprint=planmod.fingerprint(actual), inventory=str(self.inventory_dir),
            platform=self.platform, targets=list(targets), refusals=refusals,
            overrides=[o.__dict__ | {"merge": dict(o.merge)} for o in self.compiled.overrides],
            unmanaged=unmanaged, scope=self.scope(),
            made_under=self.lock_epoch if self.holding_lock else None,
        )

    def binding(self) -> dict[str, str]:
        """What a plan is made from: inventory, desired state, provider bindings, state backend.

        A digest over every desired resource: computed only for a plan that is saved, and for the plan
        a saved one is checked against under the lock, not for every plan."""
        desired = hashlib.sha256()
        for r in sorted(self.compiled.resources, key=lambda r: (r.provider, r.id)):
            desired.update(f"{r.provider}\0{r.id}\0{r.digest()}\n".encode())
        scope = self.scope()
        providers = hashlib.sha256(repr(sorted(
            (name, b.type, sorted(scope.get(name, []))) for name, b in self.compiled.bindings.items()
        )).encode())
        lineage = self.state.lineage
        return {"inventory": str(self.inventory_dir.resolve()), "desired": desired.hexdigest()[:24],
                "providers": providers.hexdigest()[:24],
                "state": f"{self.state.location}" + (f" (lineage {lineage})" if lineage else "")}


def inventory_id(inventory: Inventory) -> str:
    """A stable identity of an inventory: the name of its own ``Inventory`` document (the same
    inventory checked out elsewhere, or edited, is still the same), else its resolved directory.

    The loader keeps Inventory documents as settings, not documents, so the name is read from the
    top-level YAML files of the inventory's own directory (where ``inventory.yaml`` lives).
    """
    import re

    import yaml

    root = Path(inventory.root)
    files = sorted((p for p in root.glob("*") if p.suffix in (".yaml", ".yml") and p.is_file()),
                   key=lambda p: (p.stem != "inventory", p.name))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            if not re.search(r"^kind:\s*['\"]?Inventory\b", text, re.MULTILINE):
                continue
            for data in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
                if isinstance(data, dict) and data.get("kind") == "Inventory":
                    name = (data.get("metadata") or {}).get("name")
                    if isinstance(name, str) and name:
                        return name
        except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
            continue  # the loader already reported it, or it is not ours to judge
    return f"dir:{root.resolve()}"


def _metrics_time(text: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise PermanentError(f"STREAMVERSE_METRICS_AT: '{text}' is neither Unix seconds nor an ISO time") from exc
