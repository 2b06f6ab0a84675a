"""The trust boundary: which directories an inventory may read files from, and path joins that stay put.

An inventory (or a checkout holding one) is data, never a licence to read arbitrary files:

* the **inventory root** is ``--inventory-root DIR`` (global ``streamverse ctl`` option), else
  ``STREAMVERSE_INVENTORY_ROOT``, else the parent of the ``-i`` directory (so ``-i
  inventories/demo`` with ``extends: ../base`` needs no flag). ``extends``, ``fromFile`` and every
  template or playbook path an inventory or runbook names must resolve (symlinks followed) inside it;
* **secrets directories** (``--secrets-dir DIR``, repeatable, and ``STREAMVERSE_SECRETS_DIR``, a
  ``os.pathsep`` list) are where ``fromFile`` may read from outside the root;
* a name that becomes a path component goes through :func:`safe_join`, which refuses a result
  outside its directory.

Plugin code is the other half of the boundary: see :func:`streamverse_ctl.core.registry.plugin_dirs`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import PermanentError

ROOT_ENV = "STREAMVERSE_INVENTORY_ROOT"
SECRETS_ENV = "STREAMVERSE_SECRETS_DIR"
ROOT_HINT = f"--inventory-root DIR (global option of streamverse ctl) or {ROOT_ENV}"
SECRETS_HINT = f"--secrets-dir DIR (global option of streamverse ctl) or {SECRETS_ENV}"

_root_override: Path | None = None
_secrets_override: list[Path] = []


def configure(inventory_root: Path | str | None = None, secrets_dirs: Sequence[Path | str] | None = None) -> None:
    """Set the command line's choices (they win over the environment) for this process."""
    global _root_override, _secrets_override
    _root_override = Path(inventory_root) if inventory_root else None
    _secrets_override = [Path(d) for d in secrets_dirs or []]


def _real(path: Path) -> Path:
    try:
        return Path(os.path.realpath(os.path.expanduser(str(path))))
    except (OSError, ValueError):  # pragma: no cover - realpath does not raise on POSIX
        return Path(os.path.abspath(path))


def inventory_root(inventory_dir: Path | str) -> Path:
    """The directory an inventory loaded from ``inventory_dir`` may read files in (resolved)."""
    if _root_override is not None:
        return _real(_root_override)
    env = os.environ.get(ROOT_ENV)
    if env:
        return _real(Path(env))
    return _real(Path(inventory_dir)).parent


def secrets_dirs() -> list[Path]:
    """The directories ``fromFile`` may read outside the inventory root (resolved)."""
    dirs = list(_secrets_override)
    dirs += [Path(p) for p in os.environ.get(SECRETS_ENV, "").split(os.pathsep) if p]
    out: list[Path] = []
    for d in dirs:
        real = _real(d)
        if real not in out:
            out.append(real)
    return out


def within(path: Path | str, bases: Iterable[Path | str]) -> bool:
    """Whether ``path``, symlinks resolved, is one of ``bases`` or below one of them."""
    real = _real(Path(path))
    return any(real.is_relative_to(_real(Path(b))) for b in bases)


def safe_join(base: Path | str, *parts: str, what: str = "name") -> Path:
    """``base / parts...``, refused (PermanentError) when the result is not below ``base``."""
    base_path = Path(base)
    for part in parts:
        if not part or part in (".", "..") or "/" in part or "\\" in part or "\0" in part:
            raise PermanentError(f"{what} {part!r} cannot be used as a path component under {base_path}")
    joined = base_path.joinpath(*parts)
    if not within(joined, [base_path]):
        raise PermanentError(f"{what} {'/'.join(parts)!r} leads outside {base_path}")
    return joined
