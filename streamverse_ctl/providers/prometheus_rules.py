"""The ``prometheus`` rules provider: SLO rule files (``monitoring.rule_group``) in a directory Prometheus loads.

Settings (typed in :class:`~streamverse_ctl.inventory.provider_settings.PrometheusRulesSettings`):
``rulesDir`` (Prometheus' ``rule_files`` must include ``<rulesDir>/*.rules.yml``), ``url`` (the
Prometheus base URL), ``reloadUrl`` (default ``<url>/-/reload``; Prometheus needs
``--web.enable-lifecycle``), ``promtool`` (default ``promtool`` on PATH), ``timeout``.

read
    every ``*.rules.yml`` in ``rulesDir``; a file that starts with :data:`MARKER` is managed (the
    tool wrote it), any other is reported unmanaged and never deleted. An edited file reads as what
    it now says, so plan shows it as drift and apply writes it back.
apply
    all changes of a stage in one batch: the new files are written to a staging directory inside
    ``rulesDir`` (same file system), checked with ``promtool check rules``, and only then renamed
    over the old ones (``os.replace``: a reader sees the old file or the new one, never half); a
    failed check changes nothing. Then Prometheus is told to reload (POST), which it answers only
    after loading the files (a bad file gives 500 with its error).
verify
    ``GET /api/v1/rules``: every desired group is loaded, from this file, with the same number of rules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..compiler.slo_resources import RULE_TYPE, SUFFIX, spec_rule_file
from ..compiler.slo_rules import to_yaml
from ..core.errors import PermanentError, ProviderError, TemporaryError
from ..core.resources import Change, Resource
from ..inventory.provider_settings import PrometheusRulesSettings
from .base import Provider, ProviderContext, VerifyResult

MARKER = "# managed by streamverse-ctl: edits are reverted by `streamverse ctl apply`"


class PrometheusRulesProvider(Provider):
    provider_type = "prometheus"
    settings_model: ClassVar[type[Any] | None] = PrometheusRulesSettings
    resource_types: ClassVar[frozenset[str]] = frozenset([RULE_TYPE])
    max_concurrency: ClassVar[int] = 1  # one directory, one reload

    def __init__(self, name: str, settings: Mapping[str, Any], context: ProviderContext) -> None:
        super().__init__(name, settings, context)
        if not self.settings.get("rulesDir") or not self.settings.get("url"):
            raise PermanentError(f"provider '{name}' (prometheus): settings rulesDir and url are required")
        self.rules_dir = Path(str(self.settings["rulesDir"]))
        self.url = str(self.settings["url"]).rstrip("/")
        self.reload_url = str(self.settings.get("reloadUrl") or f"{self.url}/-/reload")
        self.promtool = str(self.settings.get("promtool") or "promtool")
        self.timeout = float(self.settings.get("timeout", 10))

    # ----- read ---------------------------------------------------------------------------------
    def _read(self, types: Sequence[str]) -> list[Resource]:
        import yaml

        if not self.rules_dir.is_dir():
            return []  # nothing written yet: the first apply creates it
        out = []
        for path in sorted(self.rules_dir.glob("*" + SUFFIX)):
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            stem = path.name[: -len(SUFFIX)]
            try:
                data = yaml.safe_load(text) or {}
                groups = {str(g["name"]): list(g.get("rules") or []) for g in data.get("groups") or []}
            except (yaml.YAMLError, AttributeError, KeyError, TypeError) as exc:
                groups = {"(unreadable)": [{"error": str(exc).splitlines()[0][:200]}]}
            out.append(Resource(RULE_TYPE, stem, {"file": path.name, "groups": groups}, self.name,
                                managed=text.startswith(MARKER)))
        return out

    # ----- apply --------------------------------------------------------------------------------
    def _batches(self, changes: Sequence[Change]) -> Sequence[Sequence[Change]]:
        return [list(changes)]  # one check, one swap, one reload

    def _apply(self, batch: Sequence[Change]) -> None:
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".streamverse-staging-", dir=self.rules_dir))
        try:
            staged: list[tuple[Path, Path]] = []
            for c in batch:
                if c.action == "delete":
                    continue
                assert c.after is not None
                name = str(c.after["file"])
                tmp = staging / name
                tmp.write_text(f"{MARKER}\n# {c.origin or c.id}\n" + to_yaml(spec_rule_file(c.after)),
                               encoding="utf-8")
                staged.append((tmp, self.rules_dir / name))
            if staged:
                self._check([tmp for tmp, _ in staged])
            for tmp, final in staged:
                os.replace(tmp, final)
            for c in batch:
                if c.action == "delete":
                    assert c.before is not None
                    target = self.rules_dir / str(c.before.get("file") or f"{c.name}{SUFFIX}")
                    if target.exists() and target.read_text(encoding="utf-8", errors="replace").startswith(MARKER):
                        target.unlink()
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._reload()

    def _check(self, files: list[Path]) -> None:
        try:
            run = subprocess.run([self.promtool, "check", "rules", *map(str, files)], capture_output=True,
                                 text=True, timeout=60)
        except FileNotFoundError:
            raise PermanentError(f"provider '{self.name}': promtool not found ({self.promtool}); install "
                                 "Debian's prometheus package or set settings.promtool") from None
        if run.returncode != 0:
            detail = (run.stdout + run.stderr).strip().replace(str(files[0].parent) + "/", "")
            raise PermanentError(f"provider '{self.name}': promtool check rules failed, nothing was "
                                 f"changed in {self.rules_dir}:\n{detail[:2000]}")

    def _http(self) -> Any:
        import httpx

        return httpx.Client(timeout=self.timeout)

    def _reload(self) -> None:
        import httpx

        try:
            with self._http() as http:
                resp = http.post(self.reload_url)
        except httpx.TransportError as exc:
            raise TemporaryError(f"prometheus {self.reload_url}: reload failed: {exc}") from None
        if resp.status_code == 403 or resp.status_code == 404:
            raise PermanentError(f"prometheus {self.reload_url}: reload refused (HTTP {resp.status_code}); "
                                 "start Prometheus with --web.enable-lifecycle")
        if resp.status_code >= 300:
            raise ProviderError(f"prometheus {self.reload_url}: reload failed (HTTP {resp.status_code}), so "
                                f"Prometheus still runs its previous rules although the files in {self.rules_dir} "
                                f"are written: {resp.text.strip()[:500]}")

    # ----- verify -------------------------------------------------------------------------------
    def loaded_groups(self) -> dict[str, tuple[str, int]]:
        """Group name -> (file, number of rules) as Prometheus has loaded them."""
        import httpx

        try:
            with self._http() as http:
                resp = http.get(f"{self.url}/api/v1/rules")
                resp.raise_for_status()
                data = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TemporaryError(f"prometheus {self.url}: cannot read /api/v1/rules: {exc}") from None
        return {str(g["name"]): (str(g.get("file", "")), len(g.get("rules") or []))
                for g in (data.get("data") or {}).get("groups") or []}

    def verify(self, desired: Sequence[Resource], timeout: float = 30.0) -> list[VerifyResult]:
        start = time.monotonic()
        pending = list(desired)
        out: list[VerifyResult] = []
        while True:
            loaded = self.loaded_groups()
            still: list[Resource] = []
            for r in pending:
                problem = self._problem(r, loaded)
                if problem and time.monotonic() - start < timeout:
                    still.append(r)
                else:
                    out.append(VerifyResult(r.id, not problem, time.monotonic() - start, problem, self.url))
            pending = still
            if not pending:
                return out
            time.sleep(0.5)

    def _problem(self, r: Resource, loaded: Mapping[str, tuple[str, int]]) -> str:
        path = str((self.rules_dir / str(r.spec["file"])).resolve())
        for group, rules in dict(r.spec["groups"]).items():
            got = loaded.get(group)
            if got is None:
                return (f"group {group} is not loaded by Prometheus: does its rule_files include "
                        f"{self.rules_dir}/*{SUFFIX}?")
            if Path(got[0]).resolve() != Path(path) or got[1] != len(rules):
                return f"group {group} is loaded from {got[0]} with {got[1]} rules, not {path} with {len(rules)}"
        return ""
