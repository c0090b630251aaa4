"""One feed entry as a parser read it, and the rules that make a Post of it.

Both readers of the rss kind (the lxml one in ``rss_fast`` and feedparser in
``rss``) and the JSON Feed reader fill a ``FeedEntry``; ``to_post`` is the one
place that decides the Post: so the paths cannot drift apart in how a title
and a body combine, which id wins, or which time is taken.
"""

from __future__ import annotations

import calendar
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.sources.base import Post
from monitor.text.html import element_text, html_to_text, normalize_whitespace


@dataclass(frozen=True)
class Xhtml:
    """Inline XHTML (Atom ``type="xhtml"``): the parsed element, read in place."""

    element: Any


@dataclass(frozen=True)
class Plain:
    """Text that is not HTML (JSON Feed's ``content_text`` and titles)."""

    text: str


Markup = str | Xhtml | Plain  # an HTML string, XHTML already parsed, or plain text


@dataclass
class FeedEntry:
    id: str | None = None
    link: str | None = None
    title: Markup = ""
    contents: list[Markup] = field(default_factory=list)  # full content, in order
    summary: Markup = ""
    author: str | None = None
    published: time.struct_time | None = None  # UTC, as feedparser's *_parsed
    updated: time.struct_time | None = None
    created: time.struct_time | None = None
    language: str | None = None


def to_post(entry: FeedEntry, feed_language: str | None) -> Post:
    title = normalize_whitespace(_text(entry.title))
    body = _body(entry)
    published_at = _entry_time(entry)
    link = entry.link or ""
    # feedparser falls back to the entry id for the link; a tag: URI is not a link.
    url = link if link.startswith(("http://", "https://")) else None
    return Post(
        external_id=_entry_id(entry, title, body),
        text=combine(title, body),
        url=url,
        title=title or None,
        author=entry.author or None,
        published_at=published_at,
        language=primary_language(entry.language) or feed_language,
        sort_key=int(published_at.timestamp() * 1000) if published_at else None,
    )


def combine(title: str, body: str) -> str:
    """The statement text: the title leads unless the body already starts with it."""
    if not body:
        return title
    if not title or body.startswith(title.rstrip(".… ")):
        return body
    return f"{title}\n\n{body}"


def primary_language(value: str | None) -> str | None:
    if not value:
        return None
    return value.split("-")[0].split("_")[0].strip().lower() or None


def _text(value: Markup) -> str:
    if isinstance(value, Xhtml):
        return element_text(value.element) or ""
    if isinstance(value, Plain):
        return normalize_whitespace(value.text)
    return html_to_text(value)


def _body(entry: FeedEntry) -> str:
    # Full content beats the summary when a feed offers both.
    for content in entry.contents:
        text = _text(content)
        if text:
            return text
    return _text(entry.summary)


def _entry_id(entry: FeedEntry, title: str, body: str) -> str:
    for value in (entry.id, entry.link):
        if value and value.strip():
            return value.strip()
    # No identifier at all: the content is the only stable identity there is.
    digest = hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()[:32]
    return f"sha256:{digest}"


def _entry_time(entry: FeedEntry) -> datetime | None:
    for parsed in (entry.published, entry.updated, entry.created):
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    return None
