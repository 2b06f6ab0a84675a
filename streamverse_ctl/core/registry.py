"""One registry pattern for every pluggable thing: providers, inventory kinds, runbook actions, CLI verbs.

Built-ins are registered lazily as ``"module:attribute"`` strings, so a run imports only the
modules it uses (``streamverse --help`` imports no cloud client). Third parties add entries
through entry points (groups ``streamverse.providers``, ``streamverse.kinds``,
``streamverse.actions``, ``streamverse.verbs``) or by a ``.py`` file in a plugin directory the
user names: ``--plugin-dir DIR`` (a global ``streamverse ctl`` option, repeatable) or
``STREAMVERSE_PLUGIN_PATH`` (an ``os.pathsep`` list). The working directory is never searched
implicitly: a checkout's ``./plugins`` is code, and cloning a repository must not run it. Such a
file registers with the decorators below, e.g. ``@providers.register("acme-cdn")``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from .errors import PermanentError

T = TypeVar("T")


@dataclass
class Entry:
    name: str
    target: str  # "module:attr" for lazy entries, or a description of the object
    origin: str  # "builtin", "entry point <dist>", or the plugin file's path
    obj: Any = None

    @property
    def loaded(self) -> bool:
        return self.obj is not None


class Registry(Generic[T]):
    def __init__(self, group: str, what: str) -> None:
        self.group = group  # entry point group
        self.what = what  # "provider", "kind", ... for messages
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, obj: T | None = None, *, origin: str | None = None) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator."""

        def deco(o: T) -> T:
            src = origin or _caller_origin()
            what = getattr(o, "__qualname__", None) or type(o).__qualname__
            self._entries[name] = Entry(name, f"{getattr(o, '__module__', '?')}:{what}", src, o)
            return o

        if obj is not None:
            return deco(obj)
        return deco

    def register_lazy(self, name: str, target: str, origin: str = "builtin") -> None:
        self._entries.setdefault(name, Entry(name, target, origin))

    def register_default(self, name: str, obj: T, origin: str = "builtin") -> None:
        """Register a built-in object unless an entry of that name exists (like ``register_lazy``)."""
        what = getattr(obj, "__qualname__", None) or type(obj).__qualname__
        self._entries.setdefault(name, Entry(name, f"{getattr(obj, '__module__', '?')}:{what}", origin, obj))

    def get(self, name: str) -> T:
        load_plugins()
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            raise PermanentError(f"unknown {self.what} '{name}' (known: {known})")
        if entry.obj is None:
            module, _, attr = entry.target.partition(":")
            try:
                obj: Any = importlib.import_module(module)
                for part in attr.split("."):
                    obj = getattr(obj, part)
            except (ImportError, AttributeError) as exc:
                raise PermanentError(f"{self.what} '{name}' from {entry.origin} cannot be loaded: {exc}") from exc
            entry.obj = obj
        return entry.obj  # type: ignore[no-any-return]

    def __contains__(self, name: str) -> bool:
        load_plugins()
        return name in self._entries

    def names(self) -> list[str]:
        load_plugins()
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry]:
        load_plugins()
        yield from (self._entries[n] for n in sorted(self._entries))

    def items(self) -> Iterator[tuple[str, T]]:
        for name in self.names():
            yield name, self.get(name)


def _register_builtins(eps: Any) -> None:
    found = [ep for ep in eps if ep.value.startswith("streamverse_ctl.")]
    if not found:
        raise PermanentError("streamverse-ctl is not installed: its built-in providers, kinds and actions are "
                             f"registered through the '{BUILTINS_GROUP}' entry points of the installed package "
                             "(run scripts/setup.sh, or pip install the package)")
    for ep in sorted(found, key=lambda e: e.name):
        ep.load()()


def _caller_origin() -> str:
    """Who is registering: ``builtin`` for this package's modules, else the plugin file's path.

    Read from the call stack (the first frame outside this module), so an object registered
    directly (a ``ResourceType`` instance, whose class lives in core) is attributed to the file
    that registered it, not to the module that defines its class.
    """
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return "plugin"
    module = str(frame.f_globals.get("__name__", ""))
    if module.startswith("streamverse_ctl."):
        return "builtin"
    return str(frame.f_globals.get("__file__") or "plugin")


providers: Registry[Any] = Registry("streamverse.providers", "provider")
kinds: Registry[Any] = Registry("streamverse.kinds", "inventory kind")
resource_types: Registry[Any] = Registry("streamverse.resource_types", "resource type")  # core.resources.ResourceType
actions: Registry[Callable[..., Any]] = Registry("streamverse.actions", "runbook action")
verbs: Registry[Callable[..., Any]] = Registry("streamverse.verbs", "CLI verb")
REGISTRIES: dict[str, Registry[Any]] = {
    "providers": providers,
    "kinds": kinds,
    "resource_types": resource_types,
    "actions": actions,
    "verbs": verbs,
}

_loaded = False
# Each layer registers its own built-ins beside its code (``<layer>/registrations.py``); the package
# declares those ``register`` functions as entry points of this group, so this module never imports
# the layers above it. They run before third-party entry points and plugin files.
BUILTINS_GROUP = "streamverse.builtins"
plugin_errors: list[str] = []
PLUGIN_PATH_ENV = "STREAMVERSE_PLUGIN_PATH"
_named_dirs: list[Path] = []  # from --plugin-dir


def set_plugin_dirs(dirs: list[str] | list[Path]) -> None:
    """The ``--plugin-dir`` directories of this run (before the plugins load)."""
    _named_dirs[:] = [Path(d) for d in dirs]


def named_plugin_dirs() -> list[Path]:
    """Every plugin directory the user named, as given: ``--plugin-dir`` first, then the env var."""
    dirs = list(_named_dirs)
    dirs += [Path(part) for part in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep) if part]
    return dirs


def plugin_dirs() -> list[Path]:
    """The named plugin directories that exist, resolved, without duplicates (never ./plugins implicitly)."""
    seen: list[Path] = []
    for d in named_plugin_dirs():
        if d.is_dir() and d.resolve() not in seen:
            seen.append(d.resolve())
    return seen


def unnamed_cwd_plugins() -> Path | None:
    """``./plugins`` when it exists but is not among the named directories (it is not loaded)."""
    here = Path.cwd() / "plugins"
    if here.is_dir() and here.resolve() not in plugin_dirs():
        return here
    return None


def load_plugins() -> None:
    """Register built-ins, entry points and plugin files (once per process)."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # set first: a registering module may consult a registry
    from importlib.metadata import entry_points

    installed = entry_points()  # one scan of the installed distributions for every group
    try:
        _register_builtins(installed.select(group=BUILTINS_GROUP))
    except BaseException:
        _loaded = False
        raise
    for reg in REGISTRIES.values():
        for ep in installed.select(group=reg.group):
            dist = getattr(ep.dist, "name", "?") if ep.dist else "?"
            reg.register_lazy(ep.name, ep.value, origin=f"entry point ({dist})")
    for named in named_plugin_dirs():
        if not named.is_dir():
            plugin_errors.append(f"{named}: plugin directory does not exist")
    for d in plugin_dirs():
        for path in sorted(d.glob("*.py")):
            if path.name.startswith("_"):
                continue
            mod_name = f"streamverse_plugin_{path.stem}"
            if mod_name in sys.modules:
                continue
            try:
                spec = importlib.util.spec_from_file_location(mod_name, path)
                assert spec and spec.loader
                module = importlib.util.module_from_spec(spec)
                sys.modules[mod_name] = module
                spec.loader.exec_module(module)
            except Exception as exc:  # a broken plugin must not break the tool; it is reported
                plugin_errors.append(f"{path}: {type(exc).__name__}: {exc}")
