"""The shared HTTP layer against a real loopback server."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.demo.server import FeedServer
from monitor.errors import HTTPStatusError, ResponseTooLarge, TransportError
from monitor.http import HttpClient, HttpSettings, parse_retry_after
from tests.helpers import free_port


def client(**overrides: object) -> HttpClient:
    settings = {"user_agent": "monitor-test/1", "timeout_seconds": 2.0, "max_response_bytes": 1000}
    settings.update(overrides)
    return HttpClient(HttpSettings(**settings))  # type: ignore[arg-type]


def test_conditional_get_round_trip(feed_server: FeedServer) -> None:
    feed_server.serve("/f", b"<rss/>")
    with client() as http:
        first = http.get(feed_server.url("/f"))
        assert (first.status, first.body) == (200, b"<rss/>")
        assert first.etag is not None
        second = http.get(feed_server.url("/f"), etag=first.etag)
    assert second.not_modified and second.body == b""


def test_body_over_the_cap_is_abandoned(feed_server: FeedServer) -> None:
    feed_server.serve("/big", b"x" * 5000)
    with client() as http, pytest.raises(ResponseTooLarge) as caught:
        http.get(feed_server.url("/big"))
    assert str(caught.value) == (
        f"response from {feed_server.url('/big')} is larger than 1000 bytes; download aborted"
    )


def test_timeout_is_a_transport_error(feed_server: FeedServer) -> None:
    feed_server.serve("/slow", b"late", delay=1.5)
    with client(timeout_seconds=0.3) as http, pytest.raises(TransportError) as caught:
        http.get(feed_server.url("/slow"))
    assert str(caught.value) == f"timed out after 0.3s fetching {feed_server.url('/slow')}"


def test_error_status_carries_retry_after(feed_server: FeedServer) -> None:
    feed_server.serve("/busy", b"", "text/plain", status=429, headers={"Retry-After": "120"})
    with client() as http, pytest.raises(HTTPStatusError) as caught:
        http.get(feed_server.url("/busy"))
    assert (caught.value.status, caught.value.retry_after) == (429, 120.0)


def test_user_agent_and_validators_are_sent(feed_server: FeedServer) -> None:
    feed_server.serve("/f", b"ok")
    with client() as http:
        http.get(feed_server.url("/f"), etag='"abc"', last_modified="Fri, 20 Nov 2026 09:00:00 GMT")
    headers = feed_server.last_headers["/f"]
    assert headers["User-Agent"] == "monitor-test/1"
    assert headers["If-None-Match"] == '"abc"'
    assert headers["If-Modified-Since"] == "Fri, 20 Nov 2026 09:00:00 GMT"


def test_refused_connection_is_a_transport_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with client() as http, pytest.raises(TransportError, match=f"could not fetch {url}"):
        http.get(url)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("Fri, 20 Nov 2026 09:02:00 GMT", 120.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert parse_retry_after(header, now) == seconds


def test_a_trickling_server_hits_the_overall_deadline() -> None:
    """Each read arrives within the timeout, but the whole body never would."""

    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    started = time.monotonic()
    try:
        with (
            client(timeout_seconds=1.0, deadline_seconds=1.0) as http,
            pytest.raises(TransportError) as caught,
        ):
            http.get(url)
    finally:
        server.shutdown()
        server.server_close()
    assert str(caught.value) == f"took longer than 1s fetching {url}; download aborted"
    assert time.monotonic() - started < 3
