"""What every source kind shares: the Post it produces and the adapter interface.

An adapter has two halves. ``parse`` is pure (bytes in, posts out) so it can
run on saved pages in tests and in ``monitor parse``; ``fetch`` does the HTTP
work through the shared client (pagination, cursors, conditional GET) and
hands each body to ``parse``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from monitor.http import HttpClient, HttpResponse


@dataclass(frozen=True)
class Post:
    """One statement as a source shows it, before it is stored."""

    external_id: str
    text: str
    url: str | None = None
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None  # aware UTC; None: the source gave no usable time
    language: str | None = None  # what the source declares, if anything
    reply_to: str | None = None  # the post it answers (an id or a URL of the source)
    forwarded_from: str | None = None  # who it was forwarded/reposted from
    quote_of: str | None = None  # the post it quotes
    # The post's place in the source's listing (a message number, a snowflake
    # id, a time in milliseconds): what deletion windows are measured in.
    sort_key: int | None = None
    # Index into FetchResult.responses of the body this post was parsed from.
    response: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # views, media, poll, edited marker...


@dataclass(frozen=True)
class Validators:
    """HTTP validators kept per source for conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchState:
    """What the adapter left after the previous poll ({} and no validators at first)."""

    validators: Validators = Validators()
    cursor: Mapping[str, Any] = field(default_factory=dict)

    @property
    def first_poll(self) -> bool:
        return not self.cursor and self.validators == Validators()


@dataclass(frozen=True)
class Window:
    """A stretch of the listing, in sort keys (inclusive), that a fetch saw whole.

    Every stored post of the source whose sort key lies inside and that the
    fetch did not show has been deleted at the source.
    """

    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"window low {self.low} is above high {self.high}")


@dataclass(frozen=True)
class RawResponse:
    """A fetched body, kept (compressed) as evidence for the posts parsed from it."""

    url: str
    status: int
    content_type: str | None
    body: bytes

    @classmethod
    def of(cls, response: HttpResponse) -> RawResponse:
        return cls(response.url, response.status, response.content_type, response.body)


@dataclass(frozen=True)
class FetchResult:
    """What one poll of a source brought back."""

    posts: list[Post]
    validators: Validators = Validators()
    cursor: Mapping[str, Any] | None = None  # None: keep the previous cursor
    windows: Sequence[Window] = ()  # where deletions can be told apart from paging
    not_modified: bool = False
    http_status: int | None = None
    bytes_read: int = 0
    responses: Sequence[RawResponse] = ()
    # Ids the listing showed but the adapter did not re-read (an html source's pages
    # followed at an earlier poll): inside a window they count as seen, not deleted.
    seen_ids: Sequence[str] = ()


@dataclass(frozen=True)
class ParseContext:
    """What a parser may need beyond the bytes: where they came from."""

    url: str | None = None
    content_type: str | None = None


class SourceAdapter(Protocol):
    """One per source kind; built once per source from its config."""

    kind: ClassVar[str]

    def fetch(self, http: HttpClient, state: FetchState) -> FetchResult: ...

    @classmethod
    def parse(cls, body: bytes, context: ParseContext) -> list[Post]: ...


def window_of(posts: Sequence[Post]) -> Window | None:
    """The span of sort keys a complete listing covers, or None without keys."""
    keys = [post.sort_key for post in posts if post.sort_key is not None]
    return Window(min(keys), max(keys)) if keys else None
