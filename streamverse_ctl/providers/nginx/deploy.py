"""Deliver rendered configs to PoP hosts and purge their caches with playbooks (ansible-runner), one run for many
hosts."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.errors import PermanentError


@dataclass
class DeployResult:
    ok: list[str] = field(default_factory=list)  # hosts now serving their new config
    failed: dict[str, str] = field(default_factory=dict)  # host -> why (its old config still serves)


def deploy(playbook: Path, inventory: str | Path, configs: Mapping[str, Mapping[str, str]],
           timeout: int = 300) -> DeployResult:
    """Run ``playbook`` for the hosts of ``configs`` ({host: {"text", "digest"}}) in parallel."""
    out, _ = run(playbook, inventory, configs, {"sv_configs": {h: dict(c) for h, c in configs.items()}}, timeout)
    return out


def purge(playbook: Path, inventory: str | Path, files: Mapping[str, Sequence[str]],
          timeout: int = 300) -> tuple[DeployResult, dict[str, int]]:
    """Delete cache files ({host: [paths under the cache dir]}); (result, host -> files that existed)."""
    return run(playbook, inventory, files, {"sv_purge": {h: list(f) for h, f in files.items()}}, timeout)


def run(playbook: Path, inventory: str | Path, hosts: Collection[str], extravars: Mapping[str, Any],
        timeout: int = 300) -> tuple[DeployResult, dict[str, int]]:
    """Run ``playbook`` on ``hosts`` in parallel; (which hosts failed and why, host -> ``sv-purged N`` counts)."""
    import ansible_runner

    if not playbook.is_file():
        raise PermanentError(f"nginx provider: deploy playbook {playbook} does not exist")
    bindir = str(Path(sys.executable).parent)
    path = bindir + os.pathsep + os.environ.get("PATH", "")
    if shutil.which("ansible-playbook", path=path) is None:
        raise PermanentError(f"ansible-playbook is not installed (looked on PATH and in {bindir})")
    envvars = {"PATH": path, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
               "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_HOST_KEY_CHECKING": "0", "ANSIBLE_PIPELINING": "1"}
    failures: dict[str, str] = {}
    counts: dict[str, int] = {}

    def handler(event: dict[str, Any]) -> bool:
        data = event.get("event_data") or {}
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            host = str(data.get("host", "?"))
            res = data.get("res") or {}
            why = str(res.get("stderr") or res.get("msg") or "failed").strip()
            failures[host] = f"{data.get('task', '?')}: {why.splitlines()[-1] if why else 'failed'}"
        msg = str(((data.get("res") or {}).get("msg")) or "") if event.get("event") == "runner_on_ok" else ""
        if msg.startswith("sv-purged "):
            counts[str(data.get("host"))] = int(msg.split()[1])
        return True

    pdd = Path(tempfile.mkdtemp(prefix="sv-nginx-deploy-"))
    try:
        runner = ansible_runner.run(
            private_data_dir=str(pdd), playbook=str(playbook.resolve()), inventory=str(inventory),
            extravars={"sv_hosts": ",".join(sorted(hosts)), **extravars},
            envvars=envvars, quiet=True, timeout=timeout, forks=max(5, min(len(hosts), 50)),
            event_handler=handler, settings={"suppress_ansible_output": True},
        )
        rc = runner.rc
    finally:
        shutil.rmtree(pdd, ignore_errors=True)
    out = DeployResult(failed=failures)
    out.ok = [h for h in sorted(hosts) if h not in failures]
    if rc not in (0, 2) and not failures:  # 2: some host failed (named above); anything else is the run itself
        raise PermanentError(f"nginx provider: playbook {playbook.name} did not run (ansible-runner rc {rc})")
    return out, counts
