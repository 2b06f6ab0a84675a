"""The runbook layer's built-in actions (lazy ``module:attribute`` targets).

Declared as the ``runbook`` entry point of the ``streamverse.builtins`` group in pyproject.toml.
"""

from __future__ import annotations

from ..core.registry import actions

_A = "streamverse_ctl.runbook.actions"
ACTIONS: dict[str, str] = {
    "dns.set_weights": f"{_A}.dns:set_weights",
    "dns.verify": f"{_A}.dns:verify",
    "dns.clear_override": f"{_A}.dns:clear_override",
    "region.drain": f"{_A}.region:drain",
    "region.serve": f"{_A}.region:serve",
    "failover.check": f"{_A}.failover:check_failover",
    "failback.check": f"{_A}.failover:check_failback",
    "failback.step": f"{_A}.failover:step_failback",
    "apply": f"{_A}.misc:apply",
    "pool.scale": f"{_A}.pool:scale",
    "pool.release": f"{_A}.pool:release",
    "cdn.warm": f"{_A}.cdn:warm",
    "cdn.set_ttl": f"{_A}.cdn:set_ttl",
    "cdn.set_origin": f"{_A}.origin:set_origin",
    "pop.deploy": f"{_A}.pop:deploy",
    "pop.rollback": f"{_A}.pop:rollback",
    "pop.select": f"{_A}.pop_serving:select",
    "pop.serve": f"{_A}.pop_serving:serve",
    "ratelimit.set": f"{_A}.ratelimit:set_limit",
    "health.check": f"{_A}.health:check",
    "probe.playback": f"{_A}.probe:playback",
    "ansible.playbook": f"{_A}.ansible:playbook",
    "notify": f"{_A}.misc:notify",
    "sleep": f"{_A}.misc:sleep",
}


def register() -> None:
    for name, target in ACTIONS.items():
        actions.register_lazy(name, target)
