"""``ansible.playbook``: run a playbook with ansible-runner; check mode in a dry run.

Each run gets a fresh private data directory under ``<state dir>/runbooks/<run id>/`` (kept as
the step's artifacts); a dry run uses a temporary one and removes it. Ansible's events are
streamed as ``step.ansible`` run events.

Trust boundary: the playbook must resolve (symlinks followed) inside the runbook's directory or
the inventory root; ``templates_dir`` and ``out_dir`` are the action's, not the runbook's to set;
and every ``name`` in ``extravars`` (a PoP's, which the playbook makes ``out_dir/<name>/nginx.conf``
of) must be one path component that stays under ``out_dir``.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from ...core import trust
from ...core.builtin import builtin_dir
from ...core.errors import PermanentError
from ..context import ActionContext

SHOWN = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_skipped": "skipped",
         "runner_on_unreachable": "unreachable", "playbook_on_task_start": "task"}


def playbook(ctx: ActionContext, playbook: str, extravars: dict[str, Any] | None = None, check: bool = False,
             timeout: int = 600) -> dict[str, Any]:
    """Run ``playbook`` against localhost with ``extravars``. A relative path is looked up in the runbook's
    directory, then in the built-in runbooks' (so a copy of a built-in runbook keeps its playbook); it must
    resolve inside one of those or the inventory root. ``templates_dir`` (the built-in templates) and
    ``out_dir`` (the run's artifacts) are passed too, and extravars may not replace them."""
    path = find_playbook(ctx.runbook_dir, playbook)
    allowed = [ctx.runbook_dir, builtin_dir("runbooks"), trust.inventory_root(ctx.ws.inventory_dir)]
    if not trust.within(path, allowed):
        raise PermanentError(f"playbook {playbook} is outside the runbook's directory, the built-in runbooks and "
                             f"the inventory root ({', '.join(map(str, allowed))}); not run")
    reserved = sorted({"templates_dir", "out_dir"} & set(extravars or {}))
    if reserved:
        raise PermanentError(f"extravars may not set {', '.join(reserved)}: the ansible.playbook action sets them")
    check_mode = check or ctx.dry_run
    if ctx.dry_run:
        base = Path(tempfile.mkdtemp(prefix="sv-ansible-"))
    else:
        base = ctx.artifacts_dir / f"{ctx.step.replace('/', '_')}-{uuid.uuid4().hex[:6]}"
    out_dir = base / "out"
    try:
        for name in _names(extravars or {}):
            trust.safe_join(out_dir, name, what="extravars name")
    except PermanentError:
        if ctx.dry_run:
            shutil.rmtree(base, ignore_errors=True)
        raise
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


def _names(value: Any) -> list[str]:
    """Every ``name`` of a mapping in ``value`` (at any depth): the playbook turns them into paths."""
    if isinstance(value, dict):
        own = [str(value["name"])] if "name" in value and isinstance(value["name"], str | int) else []
        return own + [n for v in value.values() for n in _names(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in _names(v)]
    return []


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
