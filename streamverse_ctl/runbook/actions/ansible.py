"""``ansible.playbook``: run a playbook with ansible-runner; check mode in a dry run.

Each run gets a fresh private data directory under ``<state dir>/runbooks/<run id>/`` (kept as
the step's artifacts); a dry run uses a temporary one and removes it. Ansible's events are
streamed as ``step.ansible`` run events.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from ...core.builtin import builtin_dir
from ...core.errors import PermanentError
from ..context import ActionContext

SHOWN = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_skipped": "skipped",
         "runner_on_unreachable": "unreachable", "playbook_on_task_start": "task"}


def playbook(ctx: ActionContext, playbook: str, extravars: dict[str, Any] | None = None, check: bool = False,
             timeout: int = 600) -> dict[str, Any]:
    """Run ``playbook`` against localhost with ``extravars``. A relative path is looked up in the runbook's
    directory, then in the built-in runbooks' (so a copy of a built-in runbook keeps its playbook).
    ``templates_dir`` (the built-in templates, unless ``extravars`` names another) and ``out_dir`` (the
    run's artifacts) are passed too."""
    path = find_playbook(ctx.runbook_dir, playbook)
    check_mode = check or ctx.dry_run
    if ctx.dry_run:
        base = Path(tempfile.mkdtemp(prefix="sv-ansible-"))
    else:
        base = ctx.artifacts_dir / f"{ctx.step.replace('/', '_')}-{uuid.uuid4().hex[:6]}"
    out_dir = base / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    variables = {"templates_dir": str(builtin_dir("templates")), "out_dir": str(out_dir), **(extravars or {})}

    def on_event(event: dict[str, Any]) -> None:
        kind = SHOWN.get(str(event.get("event")))
        if kind is None:
            return
        data = event.get("event_data") or {}
        ctx.events("step.ansible", step=ctx.step, status=kind, task=data.get("task", ""), host=data.get("host", ""),
                   msg=str((data.get("res") or {}).get("msg", ""))[:300])

    from ...providers.ansible import run_playbook as run  # ansible_runner loads only when a playbook runs

    try:
        result = run(path, base / "runner", extravars=variables, check=check_mode, timeout=timeout,
                     on_event=on_event)
    finally:
        if ctx.dry_run:
            shutil.rmtree(base, ignore_errors=True)
    out = {"rc": result.rc, "status": result.status, "check_mode": check_mode,
           "artifacts": None if ctx.dry_run else str(base), "ok": result.stats.get("ok", {}),
           "changed": result.stats.get("changed", {}), "failures": result.stats.get("failures", {})}
    if result.rc != 0 or result.status != "successful":
        raise PermanentError(f"playbook {path.name} {result.status} (rc {result.rc})"
                             + (f"; failed task(s): {', '.join(result.failed_tasks)}" if result.failed_tasks else "")
                             + ("" if ctx.dry_run else f"; artifacts in {base}"))
    ctx.audit("ansible.playbook", path.name, "ok", check=check_mode, artifacts=out["artifacts"])
    return out


def find_playbook(runbook_dir: Path, playbook: str) -> Path:
    """``playbook`` if absolute, else the first of runbook_dir/playbook and <built-in runbooks>/playbook."""
    if Path(playbook).is_absolute():
        if not Path(playbook).is_file():
            raise PermanentError(f"playbook {playbook} does not exist")
        return Path(playbook)
    dirs = list(dict.fromkeys([runbook_dir.resolve(), builtin_dir("runbooks").resolve()]))
    for d in dirs:
        if (d / playbook).is_file():
            return (d / playbook).resolve()
    raise PermanentError(f"no playbook {playbook} (searched {', '.join(str(d) for d in dirs)})")
