"""``health.check``: regions healthy on the platform (the sim, or providers' health), or an HTTP probe."""

from __future__ import annotations

from typing import Any

from ...core.errors import PermanentError
from ..context import ActionContext


def check(ctx: ActionContext, regions: list[str] | str | None = None, url: str | None = None,
          expect: bool = True, timeout: float = 5.0) -> dict[str, Any]:
    """Fail unless every named region (default: all) is healthy (``expect: false``: is down), or ``url``
    answers 2xx/3xx."""
    if url is not None:
        from ...providers.healthprobe import probe  # httpx loads only for an HTTP probe

        scheme, _, rest = url.partition("://")
        host_port, _, path = rest.partition("/")
        host, _, port = host_port.partition(":")
        spec = {"protocol": scheme.upper(), "target": host, "port": int(port or (443 if scheme == "https" else 80)),
                "path": "/" + path, "failure_threshold": 2}
        ok = bool(probe(spec, timeout))
        if ok != expect:
            state = "healthy" if ok else "unhealthy"
            raise PermanentError(f"{url} is {state}; expected {'healthy' if expect else 'down'}")
        return {"url": url, "healthy": ok}
    health = ctx.ws.health()
    names = [regions] if isinstance(regions, str) else list(regions or health)
    bad = [r for r in names if health.get(r, True) != expect]
    if bad:
        raise PermanentError(f"region(s) {', '.join(bad)} {'unhealthy' if expect else 'still healthy'} "
                             f"({'expected healthy' if expect else 'expected down'})")
    return {"health": {r: health.get(r, True) for r in names}}
