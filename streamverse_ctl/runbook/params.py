"""Typed runbook parameters: ``--set key=value`` strings (or JSON values) -> validated values."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from ..core.errors import InputError, Problem
from ..inventory.models import parse_duration
from .model import Parameter, Runbook


def parse_sets(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    problems = []
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            problems.append(Problem(f"'{pair}' is not KEY=VALUE", "<command line>", field="--set"))
            continue
        out[key.strip()] = value
    if problems:
        raise InputError(problems, "runbook parameters")
    return out


def _coerce(p: Parameter, raw: Any, regions: Collection[str]) -> Any:
    t = p.type
    if raw is None:
        return None
    if t == "string" or t == "region":
        value: Any = str(raw)
        if t == "region" and regions and value not in regions:
            raise ValueError(f"unknown region '{value}' (regions: {', '.join(sorted(regions))})")
    elif t == "int":
        if isinstance(raw, bool):
            raise ValueError("expected an integer")
        value = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
        if value is None:
            raise ValueError(f"expected an integer, not {raw!r}")
    elif t == "float":
        value = float(raw)
    elif t == "bool":
        if isinstance(raw, bool):
            value = raw
        elif str(raw).strip().lower() in ("true", "yes", "1", "on"):
            value = True
        elif str(raw).strip().lower() in ("false", "no", "0", "off", ""):
            value = False
        else:
            raise ValueError(f"expected true or false, not {raw!r}")
    elif t == "duration":
        value = parse_duration(raw)
    elif t == "list":
        if isinstance(raw, str):
            text = raw.strip()
            value = json.loads(text) if text.startswith("[") else [x.strip() for x in text.split(",") if x.strip()]
        else:
            value = list(raw)
        if p.allowed is not None:
            bad = [v for v in value if v not in p.allowed]
            if bad:
                raise ValueError(f"{bad} not among the allowed values {p.allowed}")
        return value
    else:  # map
        value = json.loads(raw) if isinstance(raw, str) else dict(raw)
        if not isinstance(value, dict):
            raise ValueError("expected a JSON object")
        return value
    if p.allowed is not None and value not in p.allowed:
        raise ValueError(f"{value!r} is not one of {p.allowed}")
    if p.pattern is not None and isinstance(value, str) and not re.fullmatch(p.pattern, value):
        raise ValueError(f"{value!r} does not match {p.pattern}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if p.min is not None and value < p.min:
            raise ValueError(f"{value} is below the minimum {p.min:g}")
        if p.max is not None and value > p.max:
            raise ValueError(f"{value} is above the maximum {p.max:g}")
    return value


def resolve(rb: Runbook, given: Mapping[str, Any], regions: Collection[str] = ()) -> dict[str, Any]:
    """Every parameter's value (given, else default), validated; every problem reported at once."""
    problems = []
    for key in given:
        if key not in rb.parameters:
            problems.append(Problem(f"unknown parameter '{key}' (parameters: {', '.join(rb.parameters) or 'none'})",
                                    "<command line>", field=f"--set {key}"))
    out: dict[str, Any] = {}
    for name, p in rb.parameters.items():
        raw = given.get(name, p.default)
        if raw is None and p.required:
            problems.append(Problem(f"parameter '{name}' is required ({p.description or p.type})",
                                    "<command line>", field=f"--set {name}"))
            continue
        try:
            out[name] = _coerce(p, raw, regions)
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            problems.append(Problem(f"parameter '{name}': {exc}", "<command line>", field=f"--set {name}"))
    if problems:
        raise InputError(problems, f"runbook {rb.name} parameters")
    return out
