"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), read by the rss kind.

A body whose first character is ``{`` is read as JSON: a JSON Feed (its
``version`` starts with ``https://jsonfeed.org/version/1``) gives its items;
any other JSON is a ParseError. Per item: id (a number is taken as its
string), ``url`` (else ``external_url``) as the link, title, body from
``content_html`` (else ``content_text``, else ``summary``), author (the
item's, else the feed's: 1.1 ``authors`` or 1.0 ``author``), published
(``date_published``, else ``date_modified``), language (1.1: the item's,
else the feed's).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urljoin

from feedparser.datetimes import _parse_date

from monitor.errors import ParseError
from monitor.sources.rss_entry import FeedEntry, Markup, Plain

_VERSIONS = ("https://jsonfeed.org/version/1", "http://jsonfeed.org/version/1")
_BOM = b"\xef\xbb\xbf"


def looks_like_json(body: bytes) -> bool:
    return body.removeprefix(_BOM).lstrip()[:1] == b"{"


def read_json_feed(body: bytes, url: str | None) -> tuple[list[FeedEntry], str | None]:
    """The entries and the feed's language; a ParseError for any other JSON."""
    where = url or "the given file"
    try:
        feed = json.loads(body.removeprefix(_BOM))
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not a JSON Feed at {where}: invalid JSON: {exc}") from exc
    version = feed.get("version") if isinstance(feed, dict) else None
    if not isinstance(version, str) or not version.startswith(_VERSIONS):
        raise ParseError(
            f"not an RSS, Atom or JSON feed at {where}: JSON without a jsonfeed.org version"
        )
    items = feed.get("items")
    if not isinstance(items, list):
        raise ParseError(f"not a JSON Feed at {where}: no list of items")
    author = _author(feed)
    entries = [_entry(item, url or "", author) for item in items if isinstance(item, dict)]
    return entries, _string(feed.get("language"))


def _entry(item: dict[str, Any], base: str, feed_author: str | None) -> FeedEntry:
    item_id = item.get("id")
    if isinstance(item_id, int | float) and not isinstance(item_id, bool):
        item_id = str(item_id)
    link = _string(item.get("url")) or _string(item.get("external_url"))
    contents: list[Markup] = []
    if html := _string(item.get("content_html")):
        contents.append(html)
    if text := _string(item.get("content_text")):
        contents.append(Plain(text))
    return FeedEntry(
        id=_string(item_id),
        link=urljoin(base, link) if link else None,
        title=Plain(_string(item.get("title")) or ""),
        contents=contents,
        summary=Plain(_string(item.get("summary")) or ""),
        author=_author(item) or feed_author,
        published=_time(item.get("date_published")),
        updated=_time(item.get("date_modified")),
        language=_string(item.get("language")),
    )


def _author(holder: dict[str, Any]) -> str | None:
    authors = holder.get("authors")
    people = authors if isinstance(authors, list) else [holder.get("author")]
    for person in people:
        if isinstance(person, dict) and (name := _string(person.get("name"))):
            return name
    return None


def _time(value: Any) -> time.struct_time | None:
    text = _string(value)
    parsed: time.struct_time | None = _parse_date(text) if text else None
    return parsed


def _string(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    if not value.isascii():  # JSON may carry lone surrogates ("\\ud800"): no text has them
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value.strip() or None
