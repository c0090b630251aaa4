"""A YouTube channel's videos, from its public feed (kind: youtube).

``https://www.youtube.com/feeds/videos.xml?channel_id=ID`` (or the source's
``url:``) is Atom with YouTube's own elements: the id is ``yt:videoId``, the
description ``media:group/media:description`` (plain text, line breaks kept).
It is read with lxml directly rather than feedparser, which files the
description as an HTML summary (a plain-text "<" or line break would not
survive) and falls into its loose mode on the real feed, which starts with a
blank line before ``<?xml``. The parser resolves no entities, loads no DTD and
touches no network: an entity bomb or an external entity is inert, and a
document with a DOCTYPE is refused.

Posts: id = video id, title, text = title + blank line + description, link,
published (sort key, in milliseconds), author. The feed lists the channel's
newest videos newest first, so deletion windows follow the rss rule: a video
missing between the oldest and newest shown, at a poll that follows another
with the same order, was deleted (or made private).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from lxml import etree  # type: ignore[import-untyped]

from monitor.config import YouTubeSource
from monitor.errors import ParseError
from monitor.http import HttpClient
from monitor.sources.base import (
    FetchResult,
    FetchState,
    ParseContext,
    Post,
)
from monitor.sources.rss import fetch_feed
from monitor.text.html import normalize_whitespace

FEED_URL = "https://www.youtube.com/feeds/videos.xml?channel_id={channel_id}"
WATCH_URL = "https://www.youtube.com/watch?v={video_id}"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
}
_BOM = b"\xef\xbb\xbf"
_ROOT_START = re.compile(rb"<[A-Za-z_]")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


class YouTubeAdapter:
    kind: ClassVar[str] = "youtube"

    def __init__(self, url: str, proxy: str | None = None) -> None:
        self.url = url
        self.proxy = proxy

    @classmethod
    def from_source(cls, source: YouTubeSource) -> YouTubeAdapter:
        url = source.url or FEED_URL.format(channel_id=source.channel_id)
        return cls(url, proxy=source.proxy)

    def fetch(self, http: HttpClient, state: FetchState) -> FetchResult:
        return fetch_feed(http, self.url, self.proxy, state, self.parse)

    @classmethod
    def parse(cls, body: bytes, context: ParseContext) -> list[Post]:
        root = _feed_root(body, context)
        feed_author = _text(root.find("atom:author/atom:name", NS))
        posts = [_post(entry, feed_author) for entry in root.iterfind("atom:entry", NS)]
        return [post for post in posts if post is not None]


def _feed_root(body: bytes, context: ParseContext) -> Any:
    where = context.url or "the given file"
    # YouTube's own feed starts with a blank line before <?xml, which XML forbids.
    data = body.removeprefix(_BOM).lstrip()
    root_start = _ROOT_START.search(data)
    if _DOCTYPE.search(data, 0, root_start.start() if root_start else len(data)):
        raise ParseError(f"not a YouTube feed at {where}: a DOCTYPE is not allowed")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not a YouTube feed at {where}: {exc}") from exc
    if tree.docinfo.doctype:  # one the byte check missed (UTF-16, say)
        raise ParseError(f"not a YouTube feed at {where}: a DOCTYPE is not allowed")
    root = tree.getroot()
    if root.tag != f"{{{NS['atom']}}}feed":
        raise ParseError(f"not a YouTube feed at {where}: the root element is {root.tag!r}")
    return root


def _text(element: Any) -> str | None:
    if element is None:
        return None
    value = normalize_whitespace("".join(element.itertext()))
    return value or None


def _post(entry: Any, feed_author: str | None) -> Post | None:
    video_id = _text(entry.find("yt:videoId", NS))
    if video_id is None:
        atom_id = _text(entry.find("atom:id", NS)) or ""
        video_id = atom_id.removeprefix("yt:video:") or None
    if video_id is None:
        return None
    title = _text(entry.find("atom:title", NS))
    description = _text(entry.find("media:group/media:description", NS))
    published_at = _time(entry.find("atom:published", NS)) or _time(entry.find("atom:updated", NS))
    link = entry.find("atom:link[@rel='alternate']", NS)
    href = link.get("href") if link is not None else None
    return Post(
        external_id=video_id,
        text=_combine(title or "", description or ""),
        url=href or WATCH_URL.format(video_id=video_id),
        title=title,
        author=_text(entry.find("atom:author/atom:name", NS)) or feed_author,
        published_at=published_at,
        sort_key=int(published_at.timestamp() * 1000) if published_at else None,
        extra=_extra(entry),
    )


def _combine(title: str, description: str) -> str:
    if not description:
        return title
    if not title or description.startswith(title):
        return description
    return f"{title}\n\n{description}"


def _time(element: Any) -> datetime | None:
    value = _text(element)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _extra(entry: Any) -> dict[str, object]:
    extra: dict[str, object] = {}
    channel_id = _text(entry.find("yt:channelId", NS))
    if channel_id:
        extra["channel_id"] = channel_id
    thumbnail = entry.find("media:group/media:thumbnail", NS)
    if thumbnail is not None and thumbnail.get("url"):
        extra["thumbnail"] = thumbnail.get("url")
    statistics = entry.find("media:group/media:community/media:statistics", NS)
    views = statistics.get("views") if statistics is not None else None
    if views and views.isdigit():
        extra["views"] = int(views)
    return extra
