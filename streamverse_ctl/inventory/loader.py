"""Load an inventory directory: documents, overlays (``extends`` + patches), variables, validation.

Overlays: a directory's ``Inventory`` document may say ``extends: ../base``. The base is loaded
first (with its own patches); a document in the overlay with the same kind and name replaces the
base's whole; then the overlay's ``patches`` (JSON merge patches, RFC 7386) are applied to every
document whose kind and name (a shell glob) match. Variables: ``${name}`` inside any string is
replaced by ``spec.variables`` (overlay wins over base), then ``STREAMVERSE_VAR_<NAME>`` from the
environment, then ``--var name=value`` from the command line. A string that is only ``${name}``
takes the variable's type (so ``ttl: ${ttl}`` stays a number). ``$${`` escapes a literal ``${``.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import API_VERSION
from ..core import trust
from ..core.errors import InputError, Problem
from ..core.gcpause import paused_gc
from . import confine
from .model import Document, Inventory
from .validate import validate
from .yamlsource import Path_, SourceDoc, read_yaml

VAR = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
YAML_SUFFIXES = (".yaml", ".yml")
_INV_DOC = "\0document"  # key under which a layer's settings carry its Inventory document (for locations)


@paused_gc()
def load_inventory(directory: str | Path, variables: Mapping[str, str] | None = None,
                   *, validate_meaning: bool = True, inventory_root: str | Path | None = None) -> Inventory:
    """Load, merge, substitute and validate; raise :class:`InputError` with every problem found.

    ``inventory_root`` (default :func:`streamverse_ctl.core.trust.inventory_root`: ``--inventory-root``,
    ``STREAMVERSE_INVENTORY_ROOT``, else the parent of ``directory``) bounds the files it reads."""
    root = Path(directory)
    problems: list[Problem] = []
    if not root.is_dir():
        raise InputError([Problem(f"inventory directory not found: {root} (give one with -i DIR or "
                                  "STREAMVERSE_INVENTORY)", str(root))])
    trust_root = trust.inventory_root(root) if inventory_root is None else Path(os.path.realpath(inventory_root))
    outside = confine.root_problem(root, trust_root)
    if outside:
        raise InputError([outside])
    docs, settings, layers = _load_layer(root, problems, chain=[], trust_root=trust_root)
    merged_vars: dict[str, Any] = {}
    var_origin: dict[str, Problem] = {}  # where each variable is set (its problems are reported there)
    for layer_settings in settings:
        layer_vars = layer_settings.get("variables")
        if isinstance(layer_vars, dict):  # anything else is reported by the Inventory document's validation
            merged_vars.update(layer_vars)
            inv_doc = layer_settings.get(_INV_DOC)
            for name in layer_vars:
                var_origin[name] = inv_doc.problem("", ("spec", "variables", name)) if inv_doc else Problem("", "")
    for key, value in os.environ.items():
        if key.startswith("STREAMVERSE_VAR_"):
            merged_vars[key[len("STREAMVERSE_VAR_"):].lower()] = value
            var_origin[key[len("STREAMVERSE_VAR_"):].lower()] = Problem("", f"environment {key}")
    for name in variables or {}:
        var_origin[name] = Problem("", f"--var {name}")
    merged_vars.update(variables or {})
    merged_vars = _resolve_variables(merged_vars, var_origin, problems)
    for d in docs:
        # repr() is C code: a document with no "$" anywhere (most of 20,000) is not walked at all
        if "$" in repr(d.spec):
            d.spec = _substitute(d.spec, merged_vars, d, ("spec",), problems)
        if "$" in repr(d.labels):
            d.labels = _substitute(d.labels, merged_vars, d, ("metadata", "labels"), problems)
    problems += confine.check_file_references(docs, trust_root)
    state_path = None
    state_url: str | None = None
    state_password_file: Path | None = None
    for layer_settings, layer_dir in zip(settings, layers, strict=True):
        st = layer_settings.get("state")
        if isinstance(st, dict) and isinstance(st.get("path"), str):
            state_path = (layer_dir / st["path"]) if not os.path.isabs(st["path"]) else Path(st["path"])
        if isinstance(st, dict) and isinstance(st.get("url"), str):
            state_url = st["url"]
        if isinstance(st, dict) and isinstance(st.get("passwordFile"), str):
            state_password_file = layer_dir / st["passwordFile"]  # an absolute path stays absolute
    inv = Inventory(root=root, documents=docs, variables=merged_vars, state_path=state_path, layers=layers,
                    state_url=state_url, state_password_file=state_password_file)
    problems += validate(inv, meaning=validate_meaning and not problems)
    if problems:
        raise InputError(_dedupe(problems))
    return inv


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for p in problems:
        key = (p.file, p.line, p.field, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _display(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _load_layer(root: Path, problems: list[Problem], chain: list[Path], trust_root: Path
                ) -> tuple[list[Document], list[dict[str, Any]], list[Path]]:
    """Documents of ``root`` merged over its base; settings and directories of each layer, base first."""
    resolved = root.resolve()
    if resolved in chain:
        cycle = " -> ".join(_display(p) for p in [*chain, resolved])
        problems.append(Problem(f"overlay cycle: {cycle}", _display(root)))
        return [], [], []
    docs = _read_directory(root, problems)
    inv_docs = [d for d in docs if d.kind == "Inventory"]
    docs = [d for d in docs if d.kind != "Inventory"]
    for extra in inv_docs[1:]:
        problems.append(extra.problem(f"only one Inventory document per directory (first: {inv_docs[0].describe()})"))
    inv = inv_docs[0] if inv_docs else None
    inv_spec: dict[str, Any] = inv.spec if inv else {}
    base_docs: list[Document] = []
    settings: list[dict[str, Any]] = []
    layers: list[Path] = []
    extends = inv_spec.get("extends")
    if inv and isinstance(extends, str) and extends:
        try:
            base_dir = (root / extends).resolve()
            found = base_dir.is_dir()
        except OSError:  # e.g. a name too long for the file system
            base_dir, found = root / extends, False
        escape = confine.extends_problem(inv, base_dir, trust_root)
        if escape:  # checked first: whether a directory outside the root exists is not the inventory's business
            problems.append(escape)
        elif not found:
            problems.append(inv.problem(f"base inventory directory not found: {_display(base_dir)}",
                                        ("spec", "extends")))
        elif base_dir in (*chain, resolved):  # reported here, where the extends line is known
            cycle = " -> ".join(_display(p) for p in [*chain, resolved, base_dir])
            problems.append(inv.problem(f"overlay cycle: {cycle}", ("spec", "extends")))
        else:
            base_docs, settings, layers = _load_layer(base_dir, problems, [*chain, resolved], trust_root)
    merged: dict[tuple[str, str], Document] = {(d.kind, d.name): d for d in base_docs}
    seen_here: dict[tuple[str, str], Document] = {}
    for d in docs:
        key = (d.kind, d.name)
        if key in seen_here:
            problems.append(d.problem(f"duplicate {d.kind} '{d.name}' (also in {seen_here[key].describe()})",
                                      ("metadata", "name")))
            continue
        seen_here[key] = d
        merged[key] = d  # an overlay document replaces the base's whole
    result = list(merged.values())
    if inv:
        _apply_patches(inv, result, problems)
        if inv.model is None:
            from .validate import validate_document

            problems.extend(validate_document(inv))
    settings.append({**inv_spec, _INV_DOC: inv} if inv else inv_spec)
    layers.append(root)
    return result, settings, layers


def _read_directory(root: Path, problems: list[Problem]) -> list[Document]:
    files = _yaml_files(root, problems)
    if not files and not problems:
        problems.append(Problem("no YAML files (*.yaml, *.yml) in inventory directory", _display(root)))
    docs: list[Document] = []
    for path in files:
        sources, errs = read_yaml(path, _display(path))
        problems.extend(errs)
        for src in sources:
            doc = _document(src, problems)
            if doc is not None:
                docs.append(doc)
    return docs


def _yaml_files(root: Path, problems: list[Problem]) -> list[Path]:
    """Every regular ``*.yaml``/``*.yml`` file under ``root`` (symlinked files followed, symlinked
    directories not). A YAML-named entry that is not one — a symlink loop, a dangling link, a FIFO, a
    device, a directory named ``x.yaml`` — and an unreadable directory are problems, never skipped: a
    skipped file's resources would be planned for delete. Types come from lstat/stat: nothing is opened."""
    import stat as st_

    from .yamlsource import file_type

    found: list[Path] = []

    def walk_error(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        problems.append(Problem(f"cannot read directory: {exc.strerror or exc}", _display(where)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error, followlinks=False):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            if not name.endswith(YAML_SUFFIXES):
                continue
            path = Path(dirpath) / name
            shown = _display(path)
            try:
                mode = path.lstat().st_mode
                link = st_.S_ISLNK(mode)
                if link:
                    mode = path.stat().st_mode  # follows the link
            except OSError as exc:
                import errno

                if exc.errno == errno.ELOOP:
                    problems.append(Problem("symbolic link loop: the link never reaches a file", shown))
                elif exc.errno == errno.ENOENT:
                    problems.append(Problem(f"dangling symbolic link: its target {os.readlink(path)!r} does not "
                                            "exist", shown))
                else:
                    problems.append(Problem(f"cannot read file: {exc.strerror or exc}", shown))
                continue
            if st_.S_ISREG(mode):
                found.append(path)
                continue
            via = "a symbolic link to " if link else ""
            what = file_type(mode)
            if st_.S_ISDIR(mode):
                problems.append(Problem(f"{via}{what} named like a YAML file: inventory files must be regular "
                                        "files (rename it)", shown))
            else:
                problems.append(Problem(f"not a regular file: it is {via}{what}", shown))
    return sorted(found)


def _document(src: SourceDoc, problems: list[Problem]) -> Document | None:
    data = src.data

    def bad(message: str, path: Path_ = ()) -> None:
        problems.append(Problem(message, src.file, src.line_of(path), "", ".".join(map(str, path))))

    if not isinstance(data, dict):
        bad("a document must be a mapping with apiVersion, kind, metadata and spec")
        return None
    ok = True
    for key in ("apiVersion", "kind", "metadata", "spec"):
        if key not in data:
            bad(f"missing '{key}'")
            ok = False
    for key in data:
        if key not in ("apiVersion", "kind", "metadata", "spec"):
            bad(f"unknown top-level field '{key}' (allowed: apiVersion, kind, metadata, spec)", (key,))
            ok = False
    if "apiVersion" in data and data["apiVersion"] != API_VERSION:
        bad(f"apiVersion must be {API_VERSION}, not '{data['apiVersion']}'", ("apiVersion",))
        ok = False
    meta = data.get("metadata")
    if "metadata" in data and (not isinstance(meta, dict) or not isinstance(meta.get("name"), str)):
        bad("metadata needs a name", ("metadata",))
        ok = False
    if "spec" in data and not isinstance(data["spec"], dict):
        bad("spec must be a mapping", ("spec",))
        ok = False
    kind = data.get("kind")
    if "kind" in data and not isinstance(kind, str):
        bad("kind must be a string", ("kind",))
        ok = False
    if not ok:
        return None
    assert isinstance(meta, dict) and isinstance(kind, str)
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    doc = Document(API_VERSION, kind, meta["name"], labels if isinstance(labels, dict) else {},
                   data["spec"], src, annotations if isinstance(annotations, dict) else {})
    extra_meta = set(meta) - {"name", "labels", "annotations"}
    if extra_meta:
        problems.append(doc.problem(f"unknown metadata field(s): {', '.join(sorted(extra_meta))}", ("metadata",)))
    return doc


def _apply_patches(inv: Document, docs: list[Document], problems: list[Problem]) -> None:
    patches = inv.spec.get("patches")
    for i, patch in enumerate(patches if isinstance(patches, list) else []):
        where = ("spec", "patches", i)
        if not isinstance(patch, dict) or not isinstance(patch.get("target"), dict) \
                or not isinstance(patch.get("merge"), dict):
            problems.append(inv.problem("a patch needs target: {kind, name} and merge: {...}", where))
            continue
        target = patch["target"]
        matched = [d for d in docs
                   if fnmatch.fnmatchcase(d.kind, str(target.get("kind", "*")))
                   and fnmatch.fnmatchcase(d.name, str(target.get("name", "*")))]
        if not matched:
            problems.append(inv.problem(f"patch matches no document (target {target})", (*where, "target")))
        for d in matched:
            merge = patch["merge"]
            unknown = set(merge) - {"spec", "metadata"}
            if unknown:
                problems.append(inv.problem(f"a patch may change spec and metadata only, not {sorted(unknown)}",
                                            (*where, "merge")))
            if isinstance(merge.get("spec"), dict):
                d.spec = merge_patch(d.spec, merge["spec"])
                _record(inv, d, merge["spec"], (*where, "merge", "spec"), ("spec",))
            meta = merge.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("labels"), dict):
                d.labels = {k: v for k, v in merge_patch(d.labels, meta["labels"]).items() if v is not None}


def _record(inv: Document, d: Document, patch: Any, src_path: Path_, dst_path: Path_) -> None:
    file, line = inv.locate(src_path)
    d.patched[dst_path] = (file, line)
    if isinstance(patch, dict):
        for k, v in patch.items():
            _record(inv, d, v, (*src_path, k), (*dst_path, k))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _resolve_variables(values: dict[str, Any], origin: Mapping[str, Problem],
                       problems: list[Problem]) -> dict[str, Any]:
    """Variables may use other variables (``url: https://${host}``): resolve them, reporting a cycle
    (``a -> b -> a``) or an undefined name at the variable's own file and line."""
    resolved: dict[str, Any] = {}
    failed: set[str] = set()

    def report(name: str, message: str) -> None:
        where = origin.get(name) or Problem("", "")
        problems.append(Problem(message, where.file, where.line, where.document, where.field))

    def resolve(name: str, stack: tuple[str, ...]) -> Any:
        if name in resolved:
            return resolved[name]
        if name in failed:
            return values[name]
        value = values[name]
        if not isinstance(value, str) or "${" not in value:
            resolved[name] = value
            return value
        if name in stack:
            cycle = " -> ".join((*stack[stack.index(name):], name))
            report(name, f"variable cycle: {cycle}")
            failed.update(stack[stack.index(name):])
            return value
        whole = VAR.fullmatch(value)

        def repl(m: re.Match[str]) -> str:
            if m.group(1):
                return "$${" + m.group(2) + "}"  # stays escaped until the value is used
            ref = m.group(2)
            if ref not in values:
                report(name, f"undefined variable '{ref}' in variable '{name}'")
                return m.group(0)
            return str(resolve(ref, (*stack, name)))

        if whole and not whole.group(1) and whole.group(2) in values:
            out = resolve(whole.group(2), (*stack, name))
        else:
            out = VAR.sub(repl, value)
        if name not in failed:
            resolved[name] = out
        return out

    for name in values:
        resolve(name, ())
    return {k: v for k, v in resolved.items() if k not in failed} | {k: values[k] for k in failed}


def _substitute(value: Any, variables: Mapping[str, Any], doc: Document, path: Path_,
                problems: list[Problem]) -> Any:
    if isinstance(value, str) and "$" in value:
        whole = VAR.fullmatch(value)
        if whole and not whole.group(1):
            name = whole.group(2)
            if name in variables:
                return variables[name]
        def repl(m: re.Match[str]) -> str:
            if m.group(1):
                return "${" + m.group(2) + "}"
            if m.group(2) not in variables:
                problems.append(doc.problem(f"undefined variable '{m.group(2)}'", path))
                return m.group(0)
            return str(variables[m.group(2)])
        return VAR.sub(repl, value)
    # copy on write: a mapping or list without a variable in it is returned as it is, not rebuilt
    # (a 100,000-resource inventory has few variables, and a copy of every spec cost time and memory)
    if isinstance(value, dict):
        out: dict[Any, Any] | None = None
        for k, v in value.items():
            new = _substitute(v, variables, doc, (*path, k), problems)
            if new is not v:
                if out is None:
                    out = dict(value)
                out[k] = new
        return value if out is None else out
    if isinstance(value, list):
        items: list[Any] | None = None
        for i, v in enumerate(value):
            new = _substitute(v, variables, doc, (*path, i), problems)
            if new is not v:
                if items is None:
                    items = list(value)
                items[i] = new
        return value if items is None else items
    return value
