"""RSS 0.9x/1.0/2.0 and Atom feeds (also bridges such as RSSHub or Nitter for X)."""

from __future__ import annotations

import calendar
import hashlib
import itertools
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import feedparser

from monitor.errors import ParseError
from monitor.http import HttpClient
from monitor.sources.base import (
    FetchResult,
    FetchState,
    ParseContext,
    Post,
    RawResponse,
    Validators,
    window_of,
)
from monitor.text.html import html_to_text, normalize_whitespace


class RssAdapter:
    kind: ClassVar[str] = "rss"

    def __init__(self, url: str, proxy: str | None = None) -> None:
        self.url = url
        self.proxy = proxy

    def fetch(self, http: HttpClient, state: FetchState) -> FetchResult:
        validators = state.validators
        response = http.get(
            self.url, etag=validators.etag, last_modified=validators.last_modified, proxy=self.proxy
        )
        if response.not_modified:
            # A 304 need not repeat the validators; keep the ones we sent.
            kept = Validators(
                etag=response.etag or validators.etag,
                last_modified=response.last_modified or validators.last_modified,
            )
            return FetchResult(posts=[], validators=kept, not_modified=True, http_status=304)
        posts = self.parse(response.body, ParseContext(response.url, response.content_type))
        ordered = newest_first(posts)
        # One ordered listing can be chance; a feed ordered at two polls in a row
        # is taken to list its newest entries, so a gap in it is a deletion.
        window = window_of(posts) if ordered and state.cursor.get("newest_first") else None
        return FetchResult(
            posts=[replace(post, response=0) for post in posts],
            validators=Validators(response.etag, response.last_modified),
            cursor={"newest_first": ordered},
            windows=[window] if window else [],
            http_status=response.status,
            bytes_read=len(response.body),
            responses=[RawResponse.of(response)],
        )

    @classmethod
    def parse(cls, body: bytes, context: ParseContext) -> list[Post]:
        headers = {"content-location": context.url or ""}
        if context.content_type:
            headers["content-type"] = context.content_type
        feed = feedparser.parse(body, response_headers=headers, sanitize_html=True)
        if not feed.entries and (feed.bozo or not feed.get("version")):
            raise ParseError(f"not an RSS or Atom feed: {_bozo_reason(feed)}")
        language = _primary_language(feed.feed.get("language"))
        return [_post_from_entry(entry, language) for entry in feed.entries]


def newest_first(posts: list[Post]) -> bool:
    """A feed listing its newest entries newest first covers the time between its
    oldest and newest entry: a stored entry from that stretch that is missing was
    deleted. A feed in another order (curated, "top stories") says nothing of the kind."""
    keys = [post.sort_key for post in posts]
    if len(keys) < 2 or None in keys:
        return False
    return all(a >= b for a, b in itertools.pairwise(keys))  # type: ignore[operator]


def _bozo_reason(feed: Any) -> str:
    exception = feed.get("bozo_exception")
    if exception is not None:
        return str(exception) or type(exception).__name__
    return "no feed elements found"


def _primary_language(value: str | None) -> str | None:
    if not value:
        return None
    return value.split("-")[0].split("_")[0].strip().lower() or None


def _post_from_entry(entry: Any, feed_language: str | None) -> Post:
    title = normalize_whitespace(html_to_text(entry.get("title", "")))
    body = _entry_body(entry)
    published_at = _entry_time(entry)
    link = entry.get("link") or ""
    # feedparser falls back to the entry id for the link; a tag: URI is not a link.
    url = link if link.startswith(("http://", "https://")) else None
    return Post(
        external_id=_entry_id(entry, title, body),
        text=_combine(title, body),
        url=url,
        title=title or None,
        author=entry.get("author") or None,
        published_at=published_at,
        language=_primary_language(entry.get("language")) or feed_language,
        sort_key=int(published_at.timestamp() * 1000) if published_at else None,
    )


def _entry_body(entry: Any) -> str:
    # Full content beats the summary when a feed offers both.
    for content in entry.get("content") or []:
        text = html_to_text(content.get("value", ""))
        if text:
            return text
    return html_to_text(entry.get("summary", ""))


def _combine(title: str, body: str) -> str:
    """The statement text: the title leads unless the body already starts with it."""
    if not body:
        return title
    if not title or body.startswith(title.rstrip(".… ")):
        return body
    return f"{title}\n\n{body}"


def _entry_id(entry: Any, title: str, body: str) -> str:
    for key in ("id", "guid", "link"):
        value = entry.get(key)
        if value:
            return str(value).strip()
    # No identifier at all: the content is the only stable identity there is.
    digest = hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()[:32]
    return f"sha256:{digest}"


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed: time.struct_time | None = entry.get(key)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    return None
