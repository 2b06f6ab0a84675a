"""The controller's HTTP endpoint (``reconcile --metrics-addr HOST:PORT``): /metrics, /healthz, /readyz.

/metrics is the Prometheus text format of the controller's own registry (prometheus_client).
/healthz answers 200 while the loop is alive (an iteration finished within three intervals plus
the lease TTL and 30 s, or a runbook the iteration runs, such as a gradual failback that waits
between its steps, reported progress within that time) and 503 when it is stuck. /readyz answers 200
once an iteration finished that could read the inventory and the state, and 503 before that or
while the last iteration was an error; a follower is ready (it serves plans and metrics).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.leader import Status
    from ..engine.reconcile import Tick

NS = "streamverse_reconcile"


def parse_addr(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``:PORT`` means all interfaces; ``[::1]:PORT`` for IPv6)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"'{text}' is not HOST:PORT (e.g. 127.0.0.1:9400 or :9400)")
    return host.strip("[]") or "0.0.0.0", int(port)


class Metrics:
    """The controller's metrics and health, updated by the loop and served by :meth:`serve`."""

    def __init__(self, interval: float, ttl: float = 0.0) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = r = CollectorRegistry()
        self.iterations = Counter(f"{NS}_iterations", "Reconcile iterations, by outcome", ["status"], registry=r)
        self.pending = Gauge(f"{NS}_pending_changes", "Changes the last plan would make", registry=r)
        self.drift = Gauge(f"{NS}_drift_resources", "Resources that drifted from what the tool last wrote",
                           registry=r)
        self.applied = Counter(f"{NS}_applied_changes", "Changes applied by this replica", registry=r)
        self.refusals = Counter(f"{NS}_refusals", "Iterations whose plan a guardrail refused", registry=r)
        self.errors = Counter(f"{NS}_errors", "Iterations that ended in an error", registry=r)
        self.last_success = Gauge(f"{NS}_last_success_timestamp_seconds",
                                  "Unix time of the last iteration that ended without error", registry=r)
        self.duration = Gauge(f"{NS}_iteration_seconds", "How long the last iteration took", registry=r)
        self.is_leader = Gauge(f"{NS}_is_leader", "1 while this replica holds the lease (and may write)",
                               registry=r)
        self.lease_age = Gauge(f"{NS}_lease_age_seconds", "Seconds the current holder has held the lease",
                               registry=r)
        self.remediations = Counter(f"{NS}_remediations", "Automatic remediations started, by action and result",
                                    ["action", "result"], registry=r)
        self.unhealthy = Gauge(f"{NS}_unhealthy_observations",
                               "Consecutive unhealthy observations of a region", ["region"], registry=r)
        self.interval, self.ttl = interval, ttl
        self._started = time.monotonic()
        self._last_tick: float | None = None
        self._last_beat: float | None = None  # the last sign of progress inside an iteration
        self._ready = False
        self._server: ThreadingHTTPServer | None = None

    # ----- updates from the loop ------------------------------------------------------------------
    def observe(self, tick: Tick) -> None:
        self.iterations.labels(tick.status).inc()
        self.duration.set(tick.seconds)
        if tick.status != "error":
            self.pending.set(tick.changes)
            self.drift.set(tick.drift)
            self.last_success.set(time.time())
        if tick.applied:
            self.applied.inc(tick.applied)
        if tick.status == "refused":
            self.refusals.inc()
        if tick.status == "error":
            self.errors.inc()
        for item in tick.remediation:
            if item.get("action") in ("failover", "failback") and item.get("result"):
                self.remediations.labels(item["action"], item["result"]).inc()
            if "region" in item and "observations" in item:
                self.unhealthy.labels(item["region"]).set(item["observations"])
        self._last_tick = time.monotonic()
        self._ready = tick.status != "error"

    def heartbeat(self) -> None:
        """Progress inside a long iteration (a runbook's events): the loop is not stuck."""
        self._last_beat = time.monotonic()

    def lease(self, status: Status) -> None:
        self.is_leader.set(1 if status.leader else 0)
        self.lease_age.set(status.age if status.holder else 0)

    # ----- health ---------------------------------------------------------------------------------
    def healthy(self) -> tuple[bool, str]:
        budget = 3 * self.interval + self.ttl + 30
        tick = self._last_tick if self._last_tick is not None else self._started
        last = max(tick, self._last_beat) if self._last_beat is not None else tick
        since = time.monotonic() - last
        if since > budget:
            return False, f"no iteration finished for {since:.0f} s (budget {budget:.0f} s)"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        if self._last_tick is None:
            return False, "the first iteration has not finished"
        return (True, "ok") if self._ready else (False, "the last iteration ended in an error")

    # ----- serving --------------------------------------------------------------------------------
    def serve(self, host: str, port: int) -> tuple[str, int]:
        """Start serving in a daemon thread; the address bound (port 0 picks a free one)."""
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
                elif path in ("/healthz", "/readyz"):
                    ok, why = metrics.healthy() if path == "/healthz" else metrics.ready()
                    self._send(200 if ok else 503, (why + "\n").encode(), "text/plain; charset=utf-8")
                else:
                    self._send(404, b"not found: /metrics, /healthz, /readyz\n", "text/plain; charset=utf-8")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:  # scrapes are not events
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True).start()
        bound = self._server.server_address
        return str(bound[0]), int(bound[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
