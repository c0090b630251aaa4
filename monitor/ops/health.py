"""`/healthz`, `/readyz` and `/metrics` on ``settings.health_port``.

A small threaded HTTP server beside the scheduler: liveness is "the scheduler
ticked recently" (a wedged event loop fails it, so an orchestrator restarts the
container), readiness is "the database answers" (checked at most once a second,
so a probe storm does not become a database load), and metrics are the
daemon's Prometheus registry.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.ops.metrics import Metrics

log = logging.getLogger(__name__)


class HealthState:
    """What the endpoints report; the scheduler feeds it."""

    def __init__(self, metrics: Metrics, check_database: Callable[[], None], stale_after: float):
        self.metrics = metrics
        self._check_database = check_database
        self.stale_after = stale_after
        self._last_tick = time.monotonic()
        self._ready: tuple[float, str | None] = (0.0, "not checked yet")
        self._lock = threading.Lock()
        self.stopping = False

    def ticked(self) -> None:
        self._last_tick = time.monotonic()
        self.metrics.last_tick.set(time.time())

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        age = time.monotonic() - self._last_tick
        return age <= self.stale_after, {"last_tick_seconds_ago": round(age, 3)}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            checked_at, problem = self._ready
            if time.monotonic() - checked_at > 1.0:
                try:
                    self._check_database()
                    problem = None
                except Exception as exc:  # any failure of the check means "not ready"
                    problem = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
                self._ready = (time.monotonic(), problem)
                self.metrics.database_up.set(0 if problem else 1)
        if self.stopping:
            return False, {"database": "unknown", "stopping": True}
        return problem is None, {"database": "ok" if problem is None else problem}


class _Handler(BaseHTTPRequestHandler):
    server_version = "monitor"

    def do_GET(self) -> None:
        state: HealthState = self.server.state  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._reply(200, generate_latest(state.metrics.registry), CONTENT_TYPE_LATEST)
        elif path in ("/healthz", "/readyz"):
            ok, details = state.liveness() if path == "/healthz" else state.readiness()
            body = json.dumps({"status": "ok" if ok else "fail", **details}).encode()
            self._reply(200 if ok else 503, body, "application/json")
        else:
            self._reply(404, b"not found: try /healthz, /readyz or /metrics\n", "text/plain")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # probes every few seconds would drown the poll lines


class HealthServer:
    def __init__(self, state: HealthState, port: int, host: str = "0.0.0.0") -> None:
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.state = state  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        log.info("health endpoint on port %d: /healthz /readyz /metrics", self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
