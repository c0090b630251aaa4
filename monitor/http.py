"""The one HTTP layer every source fetches through.

It sends a truthful User-Agent, does conditional GET, enforces timeouts and
a response-size cap while streaming (an oversized body is abandoned, never
buffered), and translates httpx's exceptions into monitor's tree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from monitor.errors import HTTPStatusError, ResponseTooLarge, TransportError

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class HttpSettings:
    user_agent: str
    timeout_seconds: float  # for each phase: connect, each read, ...
    max_response_bytes: int
    proxy: str | None = None
    # For the whole exchange: a server trickling bytes never hits the per-read
    # timeout, so without this one slow source could hold a worker for hours.
    deadline_seconds: float | None = None

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


class HttpClient:
    """Thread-safe; one per process, with one connection pool per proxy."""

    def __init__(
        self, settings: HttpSettings, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._clients: dict[str | None, httpx.Client] = {}
        self._lock = threading.Lock()

    def _client(self, proxy: str | None) -> httpx.Client:
        proxy = proxy or self.settings.proxy
        with self._lock:
            client = self._clients.get(proxy)
            if client is None:
                client = httpx.Client(
                    headers={"User-Agent": self.settings.user_agent},
                    timeout=self.settings.timeout_seconds,
                    follow_redirects=True,
                    max_redirects=MAX_REDIRECTS,
                    proxy=proxy,
                    transport=self._transport,
                )
                self._clients[proxy] = client
            return client

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
        headers = dict(headers or {})
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.settings.deadline
        try:
            with self._client(proxy).stream("GET", url, headers=headers, params=params) as response:
                if response.status_code == 304:
                    return self._response(response, b"")
                if response.status_code >= 400:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    raise HTTPStatusError(url, response.status_code, retry_after)
                return self._response(response, self._read_capped(response, url, deadline))
        except httpx.TooManyRedirects as exc:
            raise TransportError(f"more than {MAX_REDIRECTS} redirects from {url}") from exc
        except httpx.TimeoutException as exc:
            raise TransportError(
                f"timed out after {self.settings.timeout_seconds:g}s fetching {url}"
            ) from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"could not fetch {url}: {exc or type(exc).__name__}") from exc

    def _read_capped(self, response: httpx.Response, url: str, deadline: float) -> bytes:
        limit = self.settings.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(url, limit)
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted, so a gzip bomb hits the cap like any big body.
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(url, limit)
            if time.monotonic() > deadline:
                raise TransportError(
                    f"took longer than {self.settings.deadline:g}s fetching {url}; download aborted"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _response(response: httpx.Response, body: bytes) -> HttpResponse:
        return HttpResponse(
            url=str(response.url),
            status=response.status_code,
            body=body,
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
