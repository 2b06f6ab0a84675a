"""Run an Ansible playbook with ansible-runner (the ``ansible.playbook`` runbook action's backend).

Each run gets a fresh private data directory (ansible-runner writes ``env/`` and
``artifacts/<ident>/`` into it); the caller keeps it as the run's artifacts. The Python
environment's ``bin`` directory is put first on PATH, or ansible-runner cannot find
``ansible-playbook`` (exit 127) when the tool runs from a venv that is not activated.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import PermanentError

EventHandler = Callable[[dict[str, Any]], None]


@dataclass
class PlaybookResult:
    rc: int
    status: str
    artifacts: str
    stats: dict[str, Any] = field(default_factory=dict)
    failed_tasks: list[str] = field(default_factory=list)


def run_playbook(playbook: str | Path, private_data_dir: str | Path, *, extravars: Mapping[str, Any] | None = None,
                 check: bool = False, inventory: str = "localhost,", timeout: int = 600,
                 on_event: EventHandler | None = None) -> PlaybookResult:
    import ansible_runner

    play = Path(playbook).resolve()
    if not play.is_file():
        raise PermanentError(f"playbook {play} does not exist")
    pdd = Path(private_data_dir)
    pdd.mkdir(parents=True, exist_ok=True)
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    envvars = {"PATH": bindir + os.pathsep + path, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
               "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}
    if shutil.which("ansible-playbook", path=envvars["PATH"]) is None:
        raise PermanentError(f"ansible-playbook is not installed (looked on PATH and in {bindir})")
    failed: list[str] = []

    def handler(event: dict[str, Any]) -> bool:
        data = event.get("event_data") or {}
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            failed.append(str(data.get("task", "?")))
        if on_event is not None:
            on_event(event)
        return True

    runner = ansible_runner.run(
        private_data_dir=str(pdd), playbook=str(play), inventory=inventory, extravars=dict(extravars or {}),
        cmdline="--check --diff" if check else None, envvars=envvars, quiet=True, timeout=timeout,
        event_handler=handler, settings={"suppress_ansible_output": True},
    )
    stats = runner.stats or {}
    return PlaybookResult(int(runner.rc if runner.rc is not None else -1), str(runner.status),
                          str(Path(runner.config.artifact_dir)), dict(stats), failed)
