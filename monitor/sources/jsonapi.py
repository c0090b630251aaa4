"""What the JSON API kinds (x, bluesky, mastodon) share.

* Decoding with errors that say what is wrong (``ParseError``), and small
  typed accessors, so a parser never meets a ``KeyError`` or a ``TypeError``.
* ``profile_url``: how a ``url:`` in the config names an account and where its
  API is asked. The URL is the account's PROFILE page; on the platform's own
  web host the API is the platform's public API host, on any other host (a
  mirror, a local test server) the API is asked on that very host, same paths.
* ``Listing``: the bookkeeping of one paged, newest-first listing (responses
  kept as evidence, bytes, and the deletion window it covers).

Deletion windows of a newest-first listing. A listing asked for from the top
(no upper cursor) shows everything newer than its oldest entry, so it covers
``[oldest listed key, MAX_KEY]``: the newest post, the one most often quietly
deleted, is inside. When the listing ran out by itself (a short or empty page,
no next cursor) it covers everything above the lower bound it was asked for
(``since_id`` + 1), or the whole history (0) when it had none. A listing cut
by the page bound covers only down to its oldest entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import FetchError, HTTPStatusError, ParseError
from monitor.http import HttpResponse
from monitor.sources.base import FetchResult, Post, RawResponse, Validators, Window

# Above every id and every time in milliseconds; fits a signed 64-bit column.
MAX_KEY = 2**63 - 1


class ApiError(HTTPStatusError):
    """An API's refusal said in words; the status and Retry-After stay for the back-off."""

    def __init__(
        self, url: str, status: int, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(url, status, retry_after)
        self.args = (message,)


def decode_json(body: bytes, what: str) -> Any:
    """The JSON document in ``body``; ParseError naming ``what`` was expected."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        excerpt = body[:60].decode("utf-8", "replace")
        raise ParseError(f"{what} is not valid JSON ({exc}); it starts with {excerpt!r}") from exc


def as_dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"{what} should be a JSON object, got {_kind(value)}")
    return value


def as_list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ParseError(f"{what} should be a JSON array, got {_kind(value)}")
    return value


def dict_or_empty(value: object) -> dict[str, Any]:
    """An optional object: a missing or null one is empty (other types are not trusted)."""
    return value if isinstance(value, dict) else {}


def list_or_empty(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def text_of(obj: Mapping[str, Any], key: str) -> str | None:
    """An optional string field; a number is taken as its text (ids), anything else as absent."""
    value = obj.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int):
        return str(value)
    return None


def required_text(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = text_of(obj, key)
    if not value:
        raise ParseError(f"{what} has no {key!r}")
    return value


def parse_time(value: object, what: str) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset) as aware UTC; None when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ParseError(f"{what} should be an ISO 8601 time, got {_kind(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ParseError(f"{what} is not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


@dataclass(frozen=True)
class ProfileUrl:
    api_base: str  # scheme://host[:port] the API is asked on, no trailing slash
    account: str  # the account the profile path names, without a leading @
    platform_host: bool  # the URL was on the platform's own web host


def profile_url(url: str, api_hosts: Mapping[str, str], kind: str) -> ProfileUrl:
    """The account and API host of a profile URL (see the module docstring).

    ``api_hosts`` maps the platform's web hosts to its API base; the account
    is the segment after ``profile`` (bsky.app/profile/NAME/post/...), else the
    last segment of the path (a leading @ dropped).
    """
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if segment]
    if "profile" in segments[:-1]:
        segments = segments[: segments.index("profile") + 2]
    if not segments or not parts.hostname:
        raise FetchError(f"{kind} url {url!r} names no account: give the profile URL")
    account = segments[-1].removeprefix("@")
    host = parts.hostname.lower().removeprefix("www.").removeprefix("mobile.")
    api = api_hosts.get(host)
    if api is not None:
        return ProfileUrl(api.rstrip("/"), account, True)
    return ProfileUrl(f"{parts.scheme}://{parts.netloc}", account, False)


def recheck_boundary(keys: Iterable[int], keep: int, previous: int | None) -> int | None:
    """The lower bound (exclusive) for the next poll: just below the ``keep`` newest
    keys listed, so the next listing shows them again (an edit or a deletion among
    them is seen). With ``keep`` or fewer listed, the previous bound still holds."""
    ordered = sorted(set(keys), reverse=True)
    if len(ordered) > keep:
        return ordered[keep]
    return previous


def int_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@dataclass
class Listing:
    """One poll's pages of a newest-first listing, gathered into a FetchResult."""

    posts: list[Post] = field(default_factory=list)
    responses: list[RawResponse] = field(default_factory=list)
    bytes_read: int = 0
    http_status: int | None = None
    pages: int = 0

    def note(self, response: HttpResponse) -> None:
        """Count a response that carries no posts (an account lookup)."""
        self.bytes_read += len(response.body)
        self.http_status = response.status

    def add_page(self, response: HttpResponse, posts: list[Post]) -> None:
        self.note(response)
        index = len(self.responses)
        self.responses.append(RawResponse.of(response))
        self.posts.extend(replace(post, response=index) for post in posts)
        self.pages += 1

    def keys(self) -> list[int]:
        return [post.sort_key for post in self.posts if post.sort_key is not None]

    def window(self, *, exhausted: bool, lower: int | None) -> Window | None:
        """What this listing (asked for from the top) covers; see the module docstring."""
        keys = self.keys()
        if exhausted:
            return Window(0 if lower is None else lower + 1, MAX_KEY)
        return Window(min(keys), MAX_KEY) if keys else None

    def result(
        self,
        cursor: Mapping[str, Any],
        window: Window | None,
        validators: Validators = Validators(),
    ) -> FetchResult:
        return FetchResult(
            posts=self.posts,
            validators=validators,
            cursor=dict(cursor),
            windows=[window] if window else [],
            http_status=self.http_status,
            bytes_read=self.bytes_read,
            responses=self.responses,
        )


def not_modified(validators: Validators, response: HttpResponse) -> FetchResult:
    """A 304 on the first page: nothing new on top, and the last poll saw the rest."""
    kept = Validators(
        etag=response.etag or validators.etag,
        last_modified=response.last_modified or validators.last_modified,
    )
    return FetchResult(posts=[], validators=kept, not_modified=True, http_status=304)
