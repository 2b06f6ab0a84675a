"""Files an inventory names stay inside the inventory root (or a secrets directory).

* ``extends`` (checked by the loader with :func:`extends_problem`) must resolve, symlinks followed,
  inside the inventory root (:func:`streamverse_ctl.core.trust.inventory_root`);
* every ``{fromFile: PATH}`` secret reference, at any depth of any document's spec, resolves
  relative to the file that wrote it (the document's file, or the overlay file of a patch that set
  it) and must lie, symlinks followed, inside the inventory root or a secrets directory
  (``--secrets-dir`` / ``STREAMVERSE_SECRETS_DIR``). :func:`check_file_references` rewrites each
  accepted reference to its resolved absolute path, so a provider reads exactly the file that was
  checked (and :func:`streamverse_ctl.core.secrets.resolve` checks it again when it reads it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core import trust
from ..core.errors import Problem
from ..core.secrets import is_reference
from .model import Document
from .yamlsource import Path_


def _show(path: Path) -> str:
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def extends_problem(inv: Document, base_dir: Path, root: Path) -> Problem | None:
    """A problem when the (resolved) base directory of ``extends`` is outside the inventory root."""
    if trust.within(base_dir, [root]):
        return None
    return inv.problem(f"extends leads outside the inventory root {_show(root)} (to {_show(base_dir)}); an "
                       f"inventory reads only files below its root: to allow this base, give {trust.ROOT_HINT}",
                       ("spec", "extends"))


def root_problem(directory: Path, root: Path) -> Problem | None:
    """A problem when the inventory directory itself is outside the (explicit) inventory root."""
    if trust.within(directory, [root]):
        return None
    return Problem(f"inventory directory is outside the inventory root {_show(root)} ({trust.ROOT_HINT})",
                   _show(directory))


def check_file_references(docs: list[Document], root: Path) -> list[Problem]:
    """Confine and absolutise every ``fromFile`` reference in ``docs`` (in place); the problems found."""
    allowed = [root, *trust.secrets_dirs()]
    problems: list[Problem] = []

    def walk(d: Document, value: Any, path: Path_) -> Any:
        if is_reference(value) and "fromFile" in value:
            return _confine(d, value["fromFile"], path, allowed, problems)
        if isinstance(value, dict):  # copy on write: a subtree without a reference is kept as it is
            out: dict[Any, Any] | None = None
            for k, v in value.items():
                new = walk(d, v, (*path, k))
                if new is not v:
                    if out is None:
                        out = dict(value)
                    out[k] = new
            return value if out is None else out
        if isinstance(value, list):
            items: list[Any] | None = None
            for i, v in enumerate(value):
                new = walk(d, v, (*path, i))
                if new is not v:
                    if items is None:
                        items = list(value)
                    items[i] = new
            return value if items is None else items
        return value

    for d in docs:
        if "fromFile" in repr(d.spec):  # repr() is C code: most documents hold no reference, skip their walk
            d.spec = walk(d, d.spec, ("spec",))
    return problems


def _confine(d: Document, raw: Any, path: Path_, allowed: list[Path], problems: list[Problem]) -> Any:
    field = (*path, "fromFile")
    if not isinstance(raw, str) or not raw:
        problems.append(d.problem("fromFile needs a file path", field))
        return {"fromFile": raw}
    file, _line = d.locate(field)
    try:
        target = Path(os.path.expanduser(raw))
        if not target.is_absolute():
            target = Path(file).parent / target
        real = Path(os.path.realpath(target))
    except (OSError, ValueError) as exc:
        problems.append(d.problem(f"fromFile {raw!r} is not a usable path: {exc}", field))
        return {"fromFile": raw}
    if not trust.within(real, allowed):
        where = ", ".join(_show(a) for a in allowed)
        link = f" (a link to {real})" if real != Path(os.path.abspath(target)) else ""
        problems.append(d.problem(
            f"fromFile {raw!r}{link} is outside the inventory root and the secrets directories ({where}); "
            f"put the secret file in a directory named with {trust.SECRETS_HINT}", field))
        return {"fromFile": raw}
    return {"fromFile": str(real)}
