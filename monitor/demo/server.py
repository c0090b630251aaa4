"""Small real HTTP servers on 127.0.0.1 for `monitor demo` (and the tests).

``FeedServer`` serves byte bodies by path with ETag / If-None-Match (so the
fetchers' conditional GET is exercised for real), counts requests and times them.
``WebhookReceiver`` records every POST and answers with a chosen status.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True  # False: no ETag, every GET gets the full body
    delay: float = 0.0  # seconds to wait before answering (slow servers, timeouts)
    fail_first: int = 0  # answer this many requests with 503 first (a flaky server)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _BaseServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> _BaseServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _FeedHandler(BaseHTTPRequestHandler):
    server_version = "monitor-demo"

    def setup(self) -> None:
        super().setup()
        feeds: FeedServer = self.server.owner  # type: ignore[attr-defined]
        with feeds.lock:
            feeds.connections += 1

    def do_GET(self) -> None:
        feeds: FeedServer = self.server.owner  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        with feeds.lock:
            feeds.requests[path] += 1
            feeds.request_times[path].append(time.monotonic())
            feeds.log.append(self.path)
            feeds.last_headers[path] = dict(self.headers.items())
            # A route for the exact path and query (a page of a paginated API) wins.
            route = feeds.routes.get(self.path) or feeds.routes.get(path)
        if route is None:
            self._answer(404, b"not found", "text/plain", {})
            return
        if route.delay:
            time.sleep(route.delay)
        if route.fail_first > 0:
            with feeds.lock:
                route.fail_first -= 1
            self._answer(503, b"try again", "text/plain", {})
            return
        conditional = route.conditional and route.status == 200
        if conditional and self.headers.get("If-None-Match") == route.etag:
            self._answer(304, b"", None, {"ETag": route.etag})
            return
        headers = {"ETag": route.etag, **route.headers} if conditional else route.headers
        self._answer(route.status, route.body, route.content_type, headers)

    def _answer(
        self, status: int, body: bytes, content_type: str | None, headers: dict[str, str]
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the demo's output is the monitor's, not an access log


class _KeepAliveFeedHandler(_FeedHandler):
    protocol_version = "HTTP/1.1"  # connections stay open between requests


class FeedServer(_BaseServer):
    def __init__(self, *, keep_alive: bool = False) -> None:
        """``keep_alive``: answer in HTTP/1.1 and keep connections open between
        requests (the default, HTTP/1.0, closes each after one answer)."""
        super().__init__(_KeepAliveFeedHandler if keep_alive else _FeedHandler)
        self.connections = 0  # TCP connections accepted
        self.routes: dict[str, Route] = {}
        self.requests: Counter[str] = Counter()  # by path, query left out
        self.log: list[str] = []  # every request's path with its query, in order
        # When each request came in (time.monotonic() of this process), by path as above.
        self.request_times: defaultdict[str, list[float]] = defaultdict(list)
        self.last_headers: dict[str, dict[str, str]] = {}

    def serve(self, path: str, body: bytes, content_type: str | None = None, **kw: Any) -> None:
        """Serve ``body`` at ``path``; a path with a query ("/feed?page=2") is matched
        exactly and wins over the same path without one."""
        route = Route(body, content_type, **kw) if content_type else Route(body, **kw)
        with self.lock:
            self.routes[path] = route


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


class _ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        receiver: WebhookReceiver = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        request = ReceivedRequest(self.path, dict(self.headers.items()), body)
        with receiver.lock:
            receiver.received.append(request)
            status = receiver.status
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class WebhookReceiver(_BaseServer):
    def __init__(self, status: int = 204) -> None:
        super().__init__(_ReceiverHandler)
        self.status = status
        self.received: list[ReceivedRequest] = []
