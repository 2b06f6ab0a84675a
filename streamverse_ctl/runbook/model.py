"""The runbook file format (pydantic models). Unknown fields are refused, like inventory kinds.

Durations (``timeout``, ``poll``, ``interval``, ``delay``) are ``500ms``/``30s``/``10m``/``1h`` or
seconds; they may also be a template (``"{{ params.interval }}"``) rendered at run time.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..inventory.models import parse_duration

STEP_ID = r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"
PARAM_TYPES = ("string", "int", "float", "bool", "duration", "region", "list", "map")


def _duration_or_template(v: Any) -> Any:
    if isinstance(v, str) and "{{" in v:
        return v
    if v is None:
        return v
    parse_duration(v)
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Parameter(_Model):
    type: Literal["string", "int", "float", "bool", "duration", "region", "list", "map"] = "string"
    description: str = ""
    required: bool = False
    default: Any = None
    allowed: list[Any] | None = Field(None, description="the only values accepted")
    pattern: str | None = Field(None, description="regular expression a string value must match")
    min: float | None = None
    max: float | None = None

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            re.compile(v)
        return v


class Precondition(_Model):
    condition: str
    message: str


class Retry(_Model):
    attempts: int = Field(1, ge=1, le=100)
    delay: str | float = 1.0

    _d = field_validator("delay")(_duration_or_template)


class WaitUntil(_Model):
    condition: str = Field(description="Jinja expression, polled until true")
    timeout: str | float = "5m"
    poll: str | float = "5s"
    on_timeout: Literal["fail", "pause"] = Field(
        "fail", description="fail: the step fails (compensation runs); pause: the run pauses, resumable")
    description: str = ""

    _t = field_validator("timeout", "poll")(_duration_or_template)


class Step(_Model):
    id: str = Field(pattern=STEP_ID)
    name: str = ""
    description: str = ""
    action: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    when: str | None = None
    approve: bool | str = False
    for_each: str | list[Any] | None = Field(None, description="run once per item (``item``, ``index``)")
    interval: str | float | None = Field(None, description="pause between for_each iterations")
    wait_until: WaitUntil | None = None
    retries: Retry | int = 1
    force: list[str] = Field(default_factory=list, description="guardrails this step may override")
    optional: bool = Field(False, description=(
        "when nothing real serves what the step changes here (only the sim platform would: an inventory with "
        "real providers, not run with --platform sim), skip it, reported 'skipped: ...; nothing changed', "
        "instead of refusing the run before it starts"))
    on_failure: list[Step] = Field(default_factory=list)

    _i = field_validator("interval")(_duration_or_template)

    @property
    def retry(self) -> Retry:
        return self.retries if isinstance(self.retries, Retry) else Retry(attempts=max(1, self.retries))

    @property
    def title(self) -> str:
        return self.name or self.id


class Runbook(_Model):
    name: str = Field(pattern=STEP_ID)
    description: str = ""
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    preconditions: list[Precondition] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)
    outputs: dict[str, Any] = Field(default_factory=dict)
