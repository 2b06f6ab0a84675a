"""The PoP hosts of an Ansible inventory: one host per PoP (the host name is the PoP name).

Host variables the provider reads (group vars apply too):

- ``nginx_prefix`` (required): the directory holding ``nginx.conf``, the cache, ``tmp/`` and logs;
- ``edge_url`` (required): how this tool reaches the PoP's cache (reads, warming, hit ratio);
- ``listen``: the ``listen`` address of the edge server (default ``80``);
- ``nginx_bin``, ``nginx_foreground`` (``daemon off;``, for nginx run as a foreground child), ``purge_module``
  (the ``ngx_http_cache_purge_module.so`` to ``load_module``), ``cache_max_size``, ``reload_command``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.errors import PermanentError

REQUIRED = ("nginx_prefix", "edge_url")


@dataclass(frozen=True)
class PopHost:
    name: str
    edge_url: str
    vars: dict[str, Any]


def load_hosts(path: str | Path, provider: str) -> dict[str, PopHost]:
    """Every host of the inventory at ``path`` with its variables; all problems reported at once."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    p = Path(path)
    if not p.exists():
        raise PermanentError(f"nginx provider '{provider}': Ansible inventory {p} does not exist")
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(p)])
    variables = VariableManager(loader=loader, inventory=inventory)
    out: dict[str, PopHost] = {}
    problems: list[str] = []
    for host in inventory.get_hosts():
        hv = variables.get_vars(host=host, include_hostvars=False)
        missing = [k for k in REQUIRED if not hv.get(k)]
        if missing:
            problems.append(f"host {host.name} lacks {', '.join(missing)}")
            continue
        keep = {k: v for k, v in hv.items() if not k.startswith(("ansible_", "group_names", "groups", "inventory_",
                                                                   "omit", "playbook_dir"))}
        out[host.name] = PopHost(host.name, str(hv["edge_url"]).rstrip("/"), keep)
    if problems:
        raise PermanentError(f"nginx provider '{provider}': Ansible inventory {p}: " + "; ".join(problems))
    if not out:
        raise PermanentError(f"nginx provider '{provider}': Ansible inventory {p} lists no PoP host")
    return out
