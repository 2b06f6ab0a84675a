"""SLO documents -> ``monitoring.rule_group`` resources: the rule files a ``prometheus`` provider writes.

One resource per rule file, as ``streamverse ctl slo rules --out DIR`` writes them: ``streamverse``
(the platform's own recording rules) and ``slo-<name>`` per SLO document. The spec holds the file
name and its groups keyed by group name, so a plan shows which group (and which rule of it) differs:

``{"file": "slo-platform.rules.yml", "groups": {"streamverse-slo-platform-startup-sli": [rules...]}}``

They are compiled only when the inventory names a Provider of type ``prometheus`` that serves
``monitoring.rule_group`` (or a glob of it): without one, no rules are managed and plans are as before.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from ..core.resources import Resource
from ..inventory import models as m
from ..inventory.model import Document, Inventory
from .slo_rules import base_rule_file, slo_rule_file

RULE_TYPE = "monitoring.rule_group"
RULES_PROVIDER = "prometheus"
SUFFIX = ".rules.yml"


def rule_spec(stem: str, rule_file: Mapping[str, Any]) -> dict[str, Any]:
    """A rule file (``{"groups": [{"name", "rules"}, ...]}``) as a resource spec."""
    return {"file": stem + SUFFIX,
            "groups": {str(g["name"]): [dict(r) for r in g.get("rules") or []] for g in rule_file["groups"]}}


def spec_rule_file(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`rule_spec`: the rule file to write."""
    return {"groups": [{"name": name, "rules": list(rules)} for name, rules in dict(spec["groups"]).items()]}


def rules_provider(inv: Inventory) -> Document | None:
    """The Provider document of type ``prometheus`` that serves rule groups, if any."""
    for d in inv.of("Provider"):
        spec = d.model
        if spec.type == RULES_PROVIDER and any(fnmatch.fnmatchcase(RULE_TYPE, p) for p in spec.serves.types):
            return d
    return None


def rule_resources(inv: Inventory, models: Mapping[tuple[str, str], Any]) -> list[Resource]:
    provider = rules_provider(inv)
    if provider is None:
        return []
    out = [Resource(RULE_TYPE, "streamverse", rule_spec("streamverse", base_rule_file()),
                    origin=provider.describe(), document=provider.ref)]
    for (kind, name), spec in sorted(models.items()):
        if kind != "SLO" or not isinstance(spec, m.SLOSpec):
            continue
        doc = inv.get(kind, name)
        out.append(Resource(RULE_TYPE, f"slo-{name}", rule_spec(f"slo-{name}", slo_rule_file(name, spec)),
                            origin=doc.describe() if doc else f"SLO/{name}", document=f"SLO/{name}"))
    return out
