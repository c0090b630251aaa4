"""The shared HTTP layer against a real loopback server."""

from __future__ import annotations

import gzip
import itertools
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli
import httpx
import pytest

from monitor.demo.server import FeedServer
from monitor.errors import HTTPStatusError, ResponseTooLarge, TransportError
from monitor.http import HttpClient, HttpSettings, _HostGate, parse_retry_after
from monitor.netguard import redirect_refusal
from tests.helpers import free_port


def client(**overrides: object) -> HttpClient:
    settings = {
        "user_agent": "monitor-test/1",
        "timeout_seconds": 2.0,
        "max_response_bytes": 1000,
        "retries": 0,  # the retry tests ask for them
    }
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


def test_a_flaky_server_is_retried(feed_server: FeedServer) -> None:
    feed_server.serve("/f", b"ok", fail_first=2)
    with client(retries=2, retry_base_delay=0.05) as http:
        assert http.get(feed_server.url("/f")).body == b"ok"
    assert feed_server.requests["/f"] == 3


def test_retries_run_out(feed_server: FeedServer) -> None:
    feed_server.serve("/f", b"ok", fail_first=5)
    with client(retries=1, retry_base_delay=0.05) as http, pytest.raises(HTTPStatusError) as caught:
        http.get(feed_server.url("/f"))
    assert caught.value.status == 503
    assert feed_server.requests["/f"] == 2


def test_a_short_retry_after_is_waited_for(feed_server: FeedServer) -> None:
    feed_server.serve("/f", b"", "text/plain", status=429, headers={"Retry-After": "1"})
    with client(retries=1) as http, pytest.raises(HTTPStatusError):
        started = time.monotonic()
        http.get(feed_server.url("/f"))
    assert time.monotonic() - started >= 1.0
    assert feed_server.requests["/f"] == 2


def test_a_client_error_is_not_retried(feed_server: FeedServer) -> None:
    feed_server.serve("/f", b"", "text/plain", status=404)
    with client(retries=2) as http, pytest.raises(HTTPStatusError):
        http.get(feed_server.url("/f"))
    assert feed_server.requests["/f"] == 1


def test_redirects_are_followed_and_capped(feed_server: FeedServer) -> None:
    feed_server.serve("/old", b"", "text/plain", status=301, headers={"Location": "/new"})
    feed_server.serve("/new", b"moved here")
    feed_server.serve("/loop", b"", "text/plain", status=302, headers={"Location": "/loop"})
    with client() as http:
        response = http.get(feed_server.url("/old"))
        assert (response.url, response.body) == (feed_server.url("/new"), b"moved here")
        with pytest.raises(TransportError, match=r"more than 5 redirects from"):
            http.get(feed_server.url("/loop"))
    assert feed_server.requests["/loop"] == 6


def test_cookies_a_server_sets_are_sent_back(feed_server: FeedServer) -> None:
    """Within a redirect chain (a consent or anti-bot cookie set on the way) and on
    later requests; answers setting none leave the jar as it was."""
    feed_server.serve(
        "/consent",
        b"",
        "text/plain",
        status=302,
        headers={"Location": "/page", "Set-Cookie": "consent=yes; Path=/"},
    )
    feed_server.serve("/page", b"the page")
    feed_server.serve("/other", b"other")
    with client() as http:
        http.get(feed_server.url("/other"))
        assert "Cookie" not in feed_server.last_headers["/other"]
        assert http.get(feed_server.url("/consent")).body == b"the page"
        assert feed_server.last_headers["/page"]["Cookie"] == "consent=yes"
        http.get(feed_server.url("/other"))
    assert feed_server.last_headers["/other"]["Cookie"] == "consent=yes"


def test_a_public_address_may_not_redirect_into_the_private_network() -> None:
    """No public server runs here: the public side is a fake transport."""

    def public_site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})

    http = HttpClient(
        HttpSettings(user_agent="t", timeout_seconds=1, max_response_bytes=100, per_host_delay=0),
        transport=httpx.MockTransport(public_site),
    )
    with pytest.raises(TransportError) as caught:
        http.get("https://93.184.215.14/feed")
    assert str(caught.value) == (
        "redirect from https://93.184.215.14/feed to the internal address "
        "http://169.254.169.254/latest/meta-data refused"
    )


@pytest.mark.parametrize(
    ("configured", "target", "refused"),
    [
        ("https://93.184.215.14/a", "http://127.0.0.1/b", True),
        ("https://93.184.215.14/a", "http://10.1.2.3/b", True),
        ("https://93.184.215.14/a", "http://[::1]/b", True),
        ("https://93.184.215.14/a", "http://localhost:8080/b", True),
        ("https://93.184.215.14/a", "https://93.184.215.15/b", False),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b", False),  # chosen by the operator
        ("http://192.168.1.5/a", "http://10.0.0.1/b", False),
        ("https://93.184.215.14/a", "file:///etc/passwd", True),
    ],
)
def test_redirect_rules(configured: str, target: str, refused: bool) -> None:
    assert (redirect_refusal(configured, target) is not None) == refused


def test_a_compression_bomb_hits_the_size_cap(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB that travel as ~50 KB
    feed_server.serve("/bomb", bomb, "application/rss+xml", headers={"Content-Encoding": "gzip"})
    with client(max_response_bytes=1_000_000) as http, pytest.raises(ResponseTooLarge):
        http.get(feed_server.url("/bomb"))


def test_gzip_and_brotli_bodies_are_decoded(feed_server: FeedServer) -> None:
    feed_server.serve("/gz", gzip.compress(b"<rss/>"), headers={"Content-Encoding": "gzip"})
    feed_server.serve("/br", brotli.compress(b"<rss/>"), headers={"Content-Encoding": "br"})
    with client() as http:
        assert http.get(feed_server.url("/gz")).body == b"<rss/>"
        assert http.get(feed_server.url("/br")).body == b"<rss/>"
    assert "br" in feed_server.last_headers["/br"]["Accept-Encoding"]


def test_requests_to_one_host_are_spaced_and_bounded() -> None:
    gate = _HostGate(connections=1, delay=0.2)
    starts: list[float] = []
    inside = 0
    most = 0
    lock = threading.Lock()

    def request() -> None:
        nonlocal inside, most
        with gate.turn(polite=True):
            with lock:
                starts.append(time.monotonic())
                inside += 1
                most = max(most, inside)
            time.sleep(0.01)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=request) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    assert most == 1
    assert all(later - earlier >= 0.19 for earlier, later in itertools.pairwise(starts))


@pytest.mark.parametrize("status", [304, 404, 503])
def test_answers_whose_body_is_skipped_keep_the_connection(status: int) -> None:
    """A 304 (and an error page, whose body is not wanted) must not cost a new TCP
    connection each: httpcore drops a connection whose response is closed unread."""
    with FeedServer(keep_alive=True) as server:
        server.serve("/f", b"<rss/>")
        server.serve("/gone", b"nothing here", status=404)
        server.serve("/busy", b"later", fail_first=100)
        with client() as http:
            first = http.get(server.url("/f"))
            for _ in range(10):
                if status == 304:
                    assert http.get(server.url("/f"), etag=first.etag).not_modified
                else:
                    with pytest.raises(HTTPStatusError):
                        http.get(server.url("/gone" if status == 404 else "/busy"))
        assert server.connections == 1


def test_redirects_keep_the_connection() -> None:
    with FeedServer(keep_alive=True) as server:
        server.serve("/f", b"<rss/>")
        server.serve("/old", b"moved", status=301, headers={"Location": "/f"})
        with client() as http:
            for _ in range(5):
                assert http.get(server.url("/old")).body == b"<rss/>"
        assert server.connections == 1
        assert server.requests == {"/old": 5, "/f": 5}


def test_a_big_unwanted_body_is_not_read() -> None:
    with FeedServer(keep_alive=True) as server:
        server.serve("/gone", b"x" * 100_000, status=404)
        with client() as http:
            for _ in range(2):
                with pytest.raises(HTTPStatusError):
                    http.get(server.url("/gone"))
        assert server.connections == 2


def test_before_parsing_is_called_for_a_body_only(feed_server: FeedServer) -> None:
    feed_server.serve("/f", b"<rss/>")
    calls: list[str] = []
    with client() as http:
        http.before_parsing = lambda: calls.append("body")
        first = http.get(feed_server.url("/f"))
        http.get(feed_server.url("/f"), etag=first.etag)  # a 304: nothing to parse
        child = http.for_forked_process()
        assert child.before_parsing is http.before_parsing
        child.close()
    assert calls == ["body"]


def test_a_client_that_cannot_be_prepared_fails_each_request_instead() -> None:
    """`run --once` prepares the client before forking its poll processes: a proxy
    httpx cannot use must not end the run there, but fail each source's poll."""
    with client(proxy="ftp://127.0.0.1:1") as http:
        http.prepare()
        with pytest.raises(ValueError, match="Unknown scheme for proxy URL"):
            http.get("http://127.0.0.1:9/feed")
