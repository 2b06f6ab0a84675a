"""A plugin adds a resource type (with its schema and dependency stage) and a kind that compiles to it.

Before resource types came from a registry, the closed tuple in core/resources.py made a Provider
serving ``cdn.distribution`` invalid ("'cdn.distribution' matches no resource type") and no plugin kind
could compile to a type of its own. Runs the installed CLI on the sim platform.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from .test_cli import CLI

PLUGIN = '''
from pydantic import BaseModel, ConfigDict

from streamverse_ctl.core.registry import kinds, resource_types
from streamverse_ctl.core.resources import Resource, ResourceType
from streamverse_ctl.inventory.models import Spec


class DistributionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: str
    ttl: int


# after the PoPs (20), before their cache policies (50)
resource_types.register("cdn.distribution", ResourceType("cdn.distribution", 25, "a backup CDN distribution",
                                                         DistributionSpec))


class BackupCdnSpec(Spec):
    domain: str
    ttl: int | None = None

    def resources(self, name, doc):
        spec = {"domain": self.domain}
        if self.ttl is not None:
            spec["ttl"] = self.ttl
        return [Resource("cdn.distribution", name, spec)]


kinds.register("BackupCdn", BackupCdnSpec)
'''

DOC = """
apiVersion: streamverse.io/v1
kind: BackupCdn
metadata: {{name: backup}}
spec:
  domain: d111.cloudfront.example
{ttl}
"""


@pytest.fixture
def plugin_cli(cli: CLI, tmp_path: Path) -> CLI:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "backup_cdn.py").write_text(PLUGIN)
    cli.env["STREAMVERSE_PLUGIN_PATH"] = str(plugins)
    return cli


def write_doc(cli: CLI, ttl: str) -> None:
    (cli.inventory / "backup-cdn.yaml").write_text(textwrap.dedent(DOC.format(ttl=ttl)))


def test_a_plugin_resource_type_is_planned_in_its_stage_and_applied(plugin_cli: CLI) -> None:
    write_doc(plugin_cli, "  ttl: 86400")
    plan = plugin_cli.json("plan", "--platform", "sim")
    types = [c["type"] for c in plan["changes"]]
    assert "cdn.distribution" in types
    first, last = types.index("cdn.distribution"), len(types) - 1 - types[::-1].index("cdn.distribution")
    assert all(t in ("platform.region", "cdn.pop") for t in types[:first])  # stage 25: after the PoPs
    assert "cdn.cache_policy" in types[last + 1:]  # ... and before the cache policies
    plugin_cli.ok("apply", "--platform", "sim", "--auto-approve")
    again = plugin_cli.json("plan", "--platform", "sim")
    assert again["changes"] == []  # the sim stored it and reads it back
    out = plugin_cli("plugins", "list", "-r", "resource_types", "-o", "json", inv=False)
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    entry = next(e for e in listed["entries"] if e["name"] == "cdn.distribution")
    assert entry["origin"].endswith("backup_cdn.py")
    builtin = next(e for e in listed["entries"] if e["name"] == "dns.record")
    assert builtin["origin"] == "builtin"


def test_a_resource_that_breaks_its_type_schema_is_refused_naming_the_document(plugin_cli: CLI) -> None:
    write_doc(plugin_cli, "")  # no ttl: the type's schema requires one
    out = plugin_cli("plan", "--platform", "sim")
    assert out.returncode == 1, out.stdout + out.stderr
    text = " ".join((out.stdout + out.stderr).split())
    assert "BackupCdn/backup" in text and "backup-cdn.yaml" in text
    assert "does not match resource type cdn.distribution" in text and "ttl" in text
    assert "Traceback" not in out.stderr


def test_a_provider_may_serve_a_plugin_type(plugin_cli: CLI) -> None:
    (plugin_cli.inventory / "provider.yaml").write_text(textwrap.dedent("""
        apiVersion: streamverse.io/v1
        kind: Provider
        metadata: {name: backup-sim}
        spec:
          type: sim
          serves: {types: ["cdn.distribution"]}
    """))
    out = plugin_cli("validate")
    assert out.returncode == 0, out.stdout + out.stderr
    plugin_cli.env.pop("STREAMVERSE_PLUGIN_PATH")  # without the plugin the type is unknown
    out = plugin_cli("validate")
    assert out.returncode == 1 and "'cdn.distribution' matches no resource type" in out.stdout + out.stderr

