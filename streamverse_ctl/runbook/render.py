"""Templates in runbooks: a sandboxed Jinja2 environment with StrictUndefined.

A string that is exactly one ``{{ expression }}`` renders to the expression's native value (a
list stays a list, a number a number); any other string renders to text. Conditions (``when``,
``wait_until``, preconditions) are expressions whose truth decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from ..core.errors import PermanentError
from ..inventory.models import parse_duration

_WHOLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


class TemplateError(PermanentError):
    """A template failed to render (undefined variable, bad expression, sandbox violation)."""


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["duration"] = parse_duration
    env.filters["percent"] = lambda v, digits=1: f"{float(v) * 100:.{digits}f} %"
    return env


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def syntax_error(text: str) -> str | None:
    """The syntax error in a template or expression, if any (for validation)."""
    env = environment()
    try:
        m = _WHOLE.match(text)
        if m and "}}" not in m.group(1):
            env.compile_expression(m.group(1))
        else:
            env.parse(text)
    except TemplateSyntaxError as exc:
        return exc.message or str(exc)
    return None


def render_value(value: Any, context: Mapping[str, Any], where: str = "") -> Any:
    """Render every string in ``value`` (recursively through lists and mappings)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        env = environment()
        try:
            m = _WHOLE.match(value)
            if m and "}}" not in m.group(1) and "{%" not in value:
                return env.compile_expression(m.group(1), undefined_to_none=False)(**context)
            return env.from_string(value).render(**context)
        except (UndefinedError, SecurityError, TemplateSyntaxError, TypeError, ValueError,
                ZeroDivisionError, KeyError, AttributeError) as exc:
            raise TemplateError(f"{where or 'template'}: {type(exc).__name__}: {exc} (in {value!r})") from exc
    if isinstance(value, Mapping):
        return {(str(render_value(k, context, where)) if is_template(k) else k):
                render_value(v, context, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def truthy(expr: str | None, context: Mapping[str, Any], where: str = "") -> bool:
    if expr is None:
        return True
    text = expr if is_template(expr) else "{{ " + expr + " }}"
    value = render_value(text, context, where)
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0", "none")
    return bool(value)


def render_duration(value: Any, context: Mapping[str, Any], where: str = "") -> float:
    rendered = render_value(value, context, where)
    if rendered is None:
        return 0.0
    try:
        return parse_duration(rendered)
    except (ValueError, TypeError) as exc:
        raise TemplateError(f"{where}: {exc}") from exc
