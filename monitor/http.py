"""The one HTTP layer every source fetches through.

One client per process (one connection pool per proxy), HTTP/2 where the
server offers it, gzip/brotli decoded with the size cap counted on the decoded
bytes (a compression bomb is an error, not an out-of-memory), a bounded number
of connections overall and per host, a politeness delay between requests to
one host, conditional GET, redirects followed by hand (at most five, never
from a public address into a private one), retries with backoff and jitter on
timeouts, 5xx and 429 (a short Retry-After is honoured, a long one is left to
the source's backoff), and an overall deadline per exchange. httpx's
exceptions are translated into monitor's tree here and nowhere else.
"""

from __future__ import annotations

import logging
import queue
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar
from typing import Any
from urllib.parse import urlsplit

import httpx

from monitor.errors import HTTPStatusError, ResponseTooLarge, TransportError
from monitor.netguard import is_loopback_url, redirect_refusal

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Retry-After up to this long is waited for within the fetch; longer ones are
# left to the source's own backoff, so a worker is never parked for minutes.
MAX_INLINE_WAIT = 30.0
# A body we do not want (a 304's, a redirect's, an error page's) is still read
# to its end when it is at most this long: httpcore drops a connection whose
# response was closed unread, so every such answer would open a new one.
DISCARD_LIMIT = 64 * 1024
_NO_BODY = frozenset({204, 304})


@dataclass(frozen=True)
class HttpSettings:
    user_agent: str
    timeout_seconds: float  # for each phase: connect, each read, ...
    max_response_bytes: int
    proxy: str | None = None
    # For the whole exchange: a server trickling bytes never hits the per-read
    # timeout, so without this one slow source could hold a worker for hours.
    deadline_seconds: float | None = None
    max_connections: int = 32
    per_host_connections: int = 4
    per_host_delay: float = 0.5  # seconds between two requests to one host
    retries: int = 2  # extra attempts after a timeout, a 5xx or a 429
    retry_base_delay: float = 1.0

    @property
    def deadline(self) -> float:
        return self.deadline_seconds or 4 * self.timeout_seconds


@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def rate_limit_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until a rate limit resets when the answer says none is left
    (``x-rate-limit-*`` as X sends them, ``x-ratelimit-*`` as GitHub and others do)."""
    for prefix in ("x-rate-limit-", "x-ratelimit-"):
        if headers.get(prefix + "remaining", "").strip() != "0":
            continue
        try:
            reset = float(headers.get(prefix + "reset", ""))
        except ValueError:
            return None
        return max(0.0, reset - (time.time() if now is None else now))
    return None


def _retryable(error: Exception) -> bool:
    if isinstance(error, HTTPStatusError):
        return error.status >= 500 or error.status in (408, 429)
    return isinstance(error, TransportError) and error.retryable


class _HostGate:
    """At most N requests in flight to one host, and a pause between two of them."""

    def __init__(self, connections: int, delay: float) -> None:
        # The free slots as tokens in a queue: taking one and handing it back are C
        # calls, where a threading.Semaphore is Python code over a Condition, paid
        # twice per request.
        self._slots: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(connections):
            self._slots.put(None)
        self._delay = delay
        self._lock = threading.Lock()
        self._next_start = 0.0

    @contextmanager
    def turn(self, polite: bool) -> Iterator[None]:
        self._slots.get()
        try:
            if polite and self._delay:
                with self._lock:
                    now = time.monotonic()
                    start = max(now, self._next_start)
                    self._next_start = start + self._delay
                time.sleep(max(0.0, start - now))
            yield
        finally:
            self._slots.put(None)


class _AnswerCookies(httpx.Cookies):
    """A cookie jar that passes over answers setting no cookie: for every answer,
    httpx first wraps its request in a urllib request for the jar to read, which
    is a good part of a 304's handling, and most answers set none."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers or "set-cookie2" in response.headers:
            super().extract_cookies(response)


class _Client(httpx.Client):
    """httpx's client with an _AnswerCookies jar (cookies a server sets are still
    kept and sent back, within a redirect chain and across polls)."""

    _answer_cookies: _AnswerCookies

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.cookies = options.get("cookies") or {}

    @property
    def cookies(self) -> httpx.Cookies:
        return self._answer_cookies

    @cookies.setter
    def cookies(
        self, cookies: httpx.Cookies | CookieJar | dict[str, str] | list[tuple[str, str]]
    ) -> None:
        self._answer_cookies = _AnswerCookies(cookies)


class HttpClient:
    """Thread-safe; one per process, with one connection pool per proxy."""

    def __init__(
        self,
        settings: HttpSettings,
        transport: httpx.BaseTransport | None = None,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self._transport = transport
        # One TLS context (the CA bundle loaded once, about 20 ms) for every pool,
        # and for the clients of forked poll processes (see for_forked_process).
        self._tls = tls
        # Called before a body is handed back to be parsed (CPU work), by the thread
        # that will parse it: a poll's runtime sets Database.stand_aside_for_writer.
        self.before_parsing: Callable[[], None] | None = None
        self._clients: dict[str | None, httpx.Client] = {}
        self._gates: dict[str, _HostGate] = {}
        self._lock = threading.Lock()
        self._poll = threading.local()  # this thread's poll deadline, if any
        self.cancelled = threading.Event()  # set on shutdown: no new request starts

    @contextmanager
    def poll_deadline(self, seconds: float) -> Iterator[None]:
        """Every request of this thread within the block ends by ``seconds`` from now:
        the hard deadline of one poll, however many pages or retries it takes."""
        self._poll.deadline = time.monotonic() + seconds
        self._poll.limit = seconds
        try:
            yield
        finally:
            self._poll.deadline = None

    def _time_left(self, url: str) -> float | None:
        """Seconds this thread's poll may still take (None: no deadline); raises when
        none are left or the client was cancelled."""
        if self.cancelled.is_set():
            raise TransportError(f"shutting down: {url} not fetched", retryable=False)
        deadline: float | None = getattr(self._poll, "deadline", None)
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransportError(
                f"poll deadline of {self._poll.limit:g}s passed before fetching {url}",
                retryable=False,
            )
        return left

    def prepare(self) -> None:
        """Build the pool of direct requests now (once its imports and its TLS
        context are in a process, forks of it need not load them again). If it
        cannot be built (a proxy httpx cannot use), each request meets the same
        error and it is reported as its source's failure, not raised here."""
        try:
            self._client(None)
        except Exception as exc:
            log.debug("HTTP client not prepared: %s", exc)

    def for_forked_process(self) -> HttpClient:
        """A client of its own for a forked process (no pool or connection shared),
        with this one's settings and TLS context."""
        client = HttpClient(self.settings, self._transport, tls=self._tls)
        client.before_parsing = self.before_parsing
        return client

    def _client(self, proxy: str | None) -> httpx.Client:
        proxy = proxy or self.settings.proxy
        client = self._clients.get(proxy)  # without the lock: every request asks
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(proxy)
            if client is None:
                if self._tls is None:
                    self._tls = httpx.create_ssl_context()
                client = _Client(
                    headers={"User-Agent": self.settings.user_agent},
                    timeout=self.settings.timeout_seconds,
                    follow_redirects=False,  # followed by hand, each hop checked
                    http2=True,
                    limits=httpx.Limits(
                        max_connections=self.settings.max_connections,
                        max_keepalive_connections=self.settings.max_connections,
                    ),
                    proxy=proxy,
                    transport=self._transport,
                    verify=self._tls,
                )
                self._clients[proxy] = client
            return client

    def _gate(self, url: str) -> _HostGate:
        host = urlsplit(url).netloc.lower()
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = _HostGate(self.settings.per_host_connections, self.settings.per_host_delay)
                self._gates[host] = gate
            return gate

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        proxy: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """GET ``url`` (with ``params`` added to its query); 2xx and 304 return,
        anything else raises HTTPStatusError, and transport trouble TransportError."""
        request_headers = dict(headers or {})
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        if params:
            url = str(httpx.URL(url).copy_merge_params(dict(params)))
        attempt = 0
        while True:
            try:
                response = self._exchange(url, request_headers, proxy)
                if self.before_parsing is not None and response.body:
                    self.before_parsing()
                return response
            except (HTTPStatusError, TransportError) as error:
                wait = self._retry_wait(error, attempt)
                if wait is None:
                    raise
            attempt += 1
            left = self._time_left(url)
            if left is not None and wait >= left:
                raise TransportError(
                    f"poll deadline of {self._poll.limit:g}s leaves no time to retry {url}",
                    retryable=False,
                )
            time.sleep(wait)

    def _retry_wait(self, error: Exception, attempt: int) -> float | None:
        """How long to wait before trying again, or None to give up now."""
        if attempt >= self.settings.retries or not _retryable(error):
            return None
        retry_after: float | None = (
            error.retry_after if isinstance(error, HTTPStatusError) else None
        )
        if retry_after is not None:
            return retry_after if retry_after <= MAX_INLINE_WAIT else None
        base = self.settings.retry_base_delay * 2.0**attempt
        return base + random.uniform(0, base / 2)  # jitter: replicas do not retry in step

    def _exchange(self, url: str, headers: dict[str, str], proxy: str | None) -> HttpResponse:
        """One request, its redirects followed and checked, within the overall deadline."""
        started = time.monotonic()
        deadline = started + self.settings.deadline
        client = self._client(proxy)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            with self._gate(current).turn(polite=not is_loopback_url(current)):
                left = self._time_left(current)
                timeout = self.settings.timeout_seconds
                if left is not None:
                    deadline = min(deadline, time.monotonic() + left)
                    timeout = min(timeout, left)
                request = client.build_request("GET", current, headers=headers, timeout=timeout)
                response = self._send(client, request, current)
                try:
                    if response.status_code in _REDIRECTS and "Location" in response.headers:
                        target = str(response.url.join(response.headers["Location"]))
                        self._discard(response, deadline)
                    else:
                        return self._finish(response, current, deadline, deadline - started)
                finally:
                    response.close()
            refusal = redirect_refusal(url, target)
            if refusal:
                raise TransportError(refusal, retryable=False)
            current = target
        raise TransportError(f"more than {MAX_REDIRECTS} redirects from {url}", retryable=False)

    def _send(self, client: httpx.Client, request: httpx.Request, url: str) -> httpx.Response:
        try:
            return client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise TransportError(
                f"timed out after {self.settings.timeout_seconds:g}s fetching {url}"
            ) from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"could not fetch {url}: {exc or type(exc).__name__}") from exc

    def _finish(
        self, response: httpx.Response, url: str, deadline: float, allowed: float
    ) -> HttpResponse:
        if response.status_code >= 400:
            headers = {name.lower(): value for name, value in response.headers.items()}
            retry_after = parse_retry_after(headers.get("retry-after"))
            if retry_after is None:
                retry_after = rate_limit_wait(headers)
            self._discard(response, deadline)
            raise HTTPStatusError(url, response.status_code, retry_after, headers=headers)
        if response.status_code == 304:
            self._discard(response, deadline)
            body = b""
        else:
            body = self._read_capped(response, url, deadline, allowed)
        return HttpResponse(
            url=str(response.url),
            status=response.status_code,
            body=body,
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            headers={name.lower(): value for name, value in response.headers.items()},
        )

    @staticmethod
    def _discard(response: httpx.Response, deadline: float) -> None:
        """Read an unwanted body to its end when it is empty or small, so that
        closing the response hands its connection back to the pool; a larger
        one (or one of unknown length, or one still arriving at the exchange's
        deadline) is left unread and its connection dropped on close."""
        if response.status_code not in _NO_BODY:
            declared = response.headers.get("Content-Length", "")
            if not (declared.isdigit() and int(declared) <= DISCARD_LIMIT):
                return
        with suppress(httpx.HTTPError, httpx.StreamError):
            for _ in response.iter_raw():
                if time.monotonic() > deadline:
                    return

    def _read_capped(
        self, response: httpx.Response, url: str, deadline: float, allowed: float
    ) -> bytes:
        limit = self.settings.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(url, limit)
        chunks: list[bytes] = []
        size = 0
        try:
            # Decoded bytes are counted, so a gzip bomb hits the cap like any big body.
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise ResponseTooLarge(url, limit)
                if time.monotonic() > deadline:
                    raise TransportError(
                        f"took longer than {round(allowed, 1):g}s fetching {url}; download aborted",
                        retryable=False,
                    )
                chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise TransportError(
                f"timed out after {self.settings.timeout_seconds:g}s reading {url}"
            ) from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"could not read {url}: {exc or type(exc).__name__}") from exc
        return b"".join(chunks)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
