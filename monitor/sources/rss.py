"""RSS 0.9x/1.0/2.0, Atom and JSON Feed (also bridges such as RSSHub or Nitter for X).

Three readers, one set of rules for the Post (``rss_entry.to_post``):

- ``rss_fast``: well-formed XML feeds, read with lxml (the poll hot path);
- feedparser for the rest: ill-formed XML it recovers, DOCTYPEs (reduced first
  to the entities that cannot grow, ``_defused``; no external entity is read),
  shapes the fast reader leaves to it; a body that is no feed is a ParseError,
  a feed without entries gives no posts;
- ``rss_json``: JSON Feed 1.0/1.1, any body that starts with ``{``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import feedparser
from feedparser.encodings import convert_to_utf8

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
from monitor.sources.rss_entry import FeedEntry, primary_language, to_post
from monitor.sources.rss_fast import read_feed
from monitor.sources.rss_json import looks_like_json, read_json_feed

_BOM = b"\xef\xbb\xbf"
_HTML_START = re.compile(
    rb"\s*(?:<!--.*?-->\s*|<\?xml[^>]*>\s*)*<(?:!doctype\s+html|html|head|body)[\s>]",
    re.IGNORECASE | re.DOTALL,
)
_ELEMENT = re.compile(rb"<[A-Za-z_]")
_HARMLESS = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
_WIDE_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
# A DOCTYPE in the prolog (after a BOM, the XML declaration, comments, PIs), and
# the whole declaration: its internal subset read past quoted strings, comments
# and PIs, so that a ">" or "]" in them is not taken for its end.
_DOCTYPE_IN_PROLOG = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:\s|<\?.*?\?>|<!--.*?-->)*+(?=<!DOCTYPE)", re.IGNORECASE | re.DOTALL
)
_QUOTED = rb"\"[^\"]*\"|'[^']*'"
_SUBSET_ITEM = _QUOTED + rb"|<!--.*?-->|<\?.*?\?>|<(?!!--|\?)|[^\]\"'<]"
_DOCTYPE_DECLARATION = re.compile(
    rb"<!DOCTYPE(?:" + _QUOTED + rb"|\[(?:" + _SUBSET_ITEM + rb")*\]|[^>\[\"'])*>",
    re.IGNORECASE | re.DOTALL,
)
_DOCTYPE = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:\s|<\?.*?\?>|<!--.*?-->)*+"
    rb"(<!DOCTYPE(?:" + _QUOTED + rb"|\[(?:" + _QUOTED + rb"|[^\]\"'])*\]|[^>\[\"'])*>)",
    re.IGNORECASE | re.DOTALL,
)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?[-\w.:]+[\"']?", re.IGNORECASE)
_SAFE_ENTITY = re.compile(rb"<!ENTITY\s+(\w+)\s+\"(&#\w+;|[^&%\"]*)\"\s*>")


class _UnsafeDoctype(Exception):
    """A DOCTYPE whose end cannot be told: the document is refused."""


class RssAdapter:
    kind: ClassVar[str] = "rss"

    def __init__(self, url: str, proxy: str | None = None) -> None:
        self.url = url
        self.proxy = proxy

    def fetch(self, http: HttpClient, state: FetchState) -> FetchResult:
        return fetch_feed(http, self.url, self.proxy, state, self.parse)

    @classmethod
    def parse(cls, body: bytes, context: ParseContext) -> list[Post]:
        if looks_like_json(body):
            entries, language = read_json_feed(body, context.url)
        elif (feed := read_feed(body, context)) is not None:
            entries, language = feed.entries, feed.language
        else:
            entries, language = parse_with_feedparser(body, context)
        feed_language = primary_language(language)
        return [to_post(entry, feed_language) for entry in entries]


def parse_with_feedparser(body: bytes, context: ParseContext) -> tuple[list[FeedEntry], str | None]:
    """feedparser's reading of a feed: its entries and the feed's language."""
    where = context.url or "the given file"
    content_type = context.content_type
    utf8 = _utf8_of_wide(body)  # feedparser would read UTF-16 without a declaration as Latin-1
    if utf8 is not None:
        body, content_type = utf8, content_type and _with_utf8_charset(content_type)
    headers = {"content-location": context.url or ""}
    if content_type:
        headers["content-type"] = content_type
    # feedparser's own decoding first, so that the DOCTYPE is seen as expat will see it.
    body = convert_to_utf8(dict(headers), body, {})
    if content_type:
        headers["content-type"] = _with_utf8_charset(content_type)
    try:
        body = _defused(body)
    except _UnsafeDoctype:
        raise ParseError(f"not an RSS or Atom feed at {where}: a DOCTYPE without an end") from None
    feed = feedparser.parse(body, response_headers=headers, sanitize_html=True)
    # A feed without entries is a quiet feed, unless it is no feed or is broken
    # (a wrong or missing Content-Type does not make it broken).
    harmless = isinstance(feed.get("bozo_exception"), _HARMLESS) or not feed.bozo
    if not feed.entries and not (feed.get("version") and harmless):
        raise ParseError(f"not an RSS or Atom feed at {where}: {_not_a_feed(body, feed)}")
    return [_entry_of(entry) for entry in feed.entries], feed.feed.get("language")


def newest_first(posts: list[Post]) -> bool:
    """A feed listing its newest entries newest first covers the time between its
    oldest and newest entry: a stored entry from that stretch that is missing was
    deleted. A feed in another order (curated, "top stories") says nothing of the kind."""
    keys = [post.sort_key for post in posts]
    if len(keys) < 2 or None in keys:
        return False
    return all(a >= b for a, b in itertools.pairwise(keys))  # type: ignore[operator]


def _utf8_of_wide(body: bytes) -> bytes | None:
    """A UTF-16/32 body (by its byte-order mark) in UTF-8, or None."""
    for mark, codec in _WIDE_BOMS:
        if body.startswith(mark):
            text = _DECLARATION.sub("", body[len(mark) :].decode(codec, "replace"), count=1)
            return b'<?xml version="1.0" encoding="utf-8"?>' + text.encode("utf-8")
    return None


def _with_utf8_charset(content_type: str) -> str:
    if _CHARSET.search(content_type):
        return _CHARSET.sub("charset=utf-8", content_type)
    return f"{content_type}; charset=utf-8"


def _defused(body: bytes) -> bytes:
    """The body with its DOCTYPE reduced to the entities that cannot grow (text or
    one character reference), as feedparser means to do: its own pattern misses a
    DOCTYPE that is not at the start of a line, which expat then expands (a
    billion-laughs document cost seconds)."""
    prolog = _DOCTYPE_IN_PROLOG.match(body) if _DOCTYPE.search(body) else None
    if prolog is None:
        return body
    declaration = _DOCTYPE_DECLARATION.match(body, prolog.end())
    if declaration is None:  # no end this reading finds: keep expat away from it
        raise _UnsafeDoctype
    safe = _SAFE_ENTITY.findall(declaration.group())
    entities = b"".join(b'<!ENTITY %s "%s">' % entity for entity in safe)
    doctype = b"<!DOCTYPE feed [" + entities + b"]>" if safe else b""
    return body[: declaration.start()] + doctype + body[declaration.end() :]


def _not_a_feed(body: bytes, feed: Any) -> str:
    head = body[:4096].removeprefix(_BOM)
    if _HTML_START.match(head):
        return "an HTML page"
    if not _ELEMENT.search(body):
        return "no XML element in the document"
    exception = feed.get("bozo_exception")
    if exception is not None:
        return str(exception) or type(exception).__name__
    return "no feed elements found"


def _entry_of(entry: Any) -> FeedEntry:
    return FeedEntry(
        id=entry.get("id") or None,
        link=entry.get("link"),
        title=entry.get("title", ""),
        contents=[content.get("value", "") for content in entry.get("content") or []],
        summary=entry.get("summary", ""),
        author=entry.get("author"),
        published=entry.get("published_parsed"),
        updated=dict.get(entry, "updated_parsed"),  # no fallback to published (and its warning)
        created=entry.get("created_parsed"),
        language=entry.get("language"),
    )


def fetch_feed(
    http: HttpClient,
    url: str,
    proxy: str | None,
    state: FetchState,
    parse: Callable[[bytes, ParseContext], list[Post]],
) -> FetchResult:
    """One conditional GET of a feed (RSS, Atom, JSON Feed, a YouTube channel feed)."""
    validators = state.validators
    response = http.get(
        url, etag=validators.etag, last_modified=validators.last_modified, proxy=proxy
    )
    if response.not_modified:
        # A 304 need not repeat the validators; keep the ones we sent.
        kept = Validators(
            etag=response.etag or validators.etag,
            last_modified=response.last_modified or validators.last_modified,
        )
        return FetchResult(posts=[], validators=kept, not_modified=True, http_status=304)
    posts = parse(response.body, ParseContext(response.url, response.content_type))
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
