"""Where the built-in runbooks (with their playbooks) and templates are, however the package is installed.

A wheel (``pip install .``, pipx) carries them as package data: ``[tool.setuptools.package-dir]`` maps
the subpackages ``streamverse_ctl._builtin.runbooks`` and ``streamverse_ctl._builtin.templates`` to the
repository's top-level ``runbooks/`` and ``templates/``, so git holds one copy and the wheel has
``streamverse_ctl/_builtin/{runbooks,templates}/``, read with ``importlib.resources``. A source
checkout (the editable install, or PYTHONPATH) has no ``_builtin`` directory: there the top-level
directories of the checkout this package was imported from are used. Found from the package's own
location, never from the current working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

KINDS = ("runbooks", "templates")


def builtin_dir(kind: str) -> Path:
    """The directory of built-in ``kind`` ("runbooks" or "templates"); it may be missing (check is_dir)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of built-in data {kind!r}")
    packaged = files("streamverse_ctl").joinpath("_builtin", kind)
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / kind).is_dir():
        return checkout / kind
    return Path(str(packaged))
