"""Telegram's public channel web preview (``https://t.me/s/CHANNEL``) read into a Page.

The pure half of the ``telegram`` kind: bytes in, posts out (see
:mod:`monitor.sources.telegram_message` for what each post carries and
:mod:`monitor.sources.telegram_text` for its text). lxml is used directly: one
parse of the page without its inline SVG, then one walk per message, a few ms
for a page of 20 posts where BeautifulSoup needs 30 ms or more.

A page is one of three kinds: a channel preview (``tgme_channel_history``, or
messages, as in a saved fragment), t.me's contact page (``tgme_page``: what
``t.me/s/NAME`` redirects to for a name that does not exist, is private or has
its preview turned off), or anything else. Only a preview has posts; a preview
with no posts (a new channel with only its "Channel created" service message)
is an empty list, not an error. An empty page, or a whole document cut before
its ``</html>``, is a ParseError: a cut page must not make posts look deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from lxml import etree  # type: ignore[import-untyped]

from monitor.errors import ParseError
from monitor.sources.base import ParseContext, Post
from monitor.sources.telegram_message import read_message
from monitor.sources.telegram_text import squash

PageKind = Literal["preview", "tme_page", "unknown"]

_CHARSET = re.compile(r"charset=([\w.:-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    """One fetched page: its posts and what paging needs to know."""

    kind: PageKind  # preview: a channel's web preview; tme_page: t.me's contact page
    posts: list[Post]
    message_ids: tuple[int, ...] = ()  # every message number shown, service ones too
    has_older: bool = False  # the page links to older messages (?before=)
    title: str | None = None

    @property
    def lowest(self) -> int | None:
        return min(self.message_ids, default=None)

    @property
    def highest(self) -> int | None:
        return max(self.message_ids, default=None)


def parse_posts(body: bytes, context: ParseContext) -> list[Post]:
    """The posts of a channel preview page; ParseError for any other page."""
    page = read_page(body, context)
    if page.kind != "preview":
        raise ParseError(f"not a Telegram channel preview page: {not_a_preview(page)}")
    return page.posts


def not_a_preview(page: Page) -> str:
    if page.kind == "tme_page":
        return (
            f"t.me's page for a name without a public preview ({page.title or 'no title'}): "
            "the channel does not exist, is private, or has no web preview"
        )
    return f"no channel messages or channel header found (page title: {page.title or 'none'})"


def read_page(body: bytes, context: ParseContext) -> Page:
    """Read a page; ParseError when it is empty or visibly cut short."""
    root = _document(body, context)
    messages = root.xpath("//div[@data-post]")
    kind = _kind(root, bool(messages))
    ids: list[int] = []
    posts: list[Post] = []
    for message in messages:
        number, post = read_message(message)
        if number is not None:
            ids.append(number)
        if post is not None:
            posts.append(post)
    has_older = bool(
        root.xpath("//a[contains(@class,'tme_messages_more')][@data-before]|//link[@rel='prev']")
    )
    title = None if kind == "preview" else squash(root.xpath("string(//title)")) or None
    return Page(kind, posts, tuple(ids), has_older, title)


def _document(body: bytes, context: ParseContext) -> Any:
    if not body.strip():
        raise ParseError("empty page")
    head = body[:2048].lower()
    if b"<html" in head and b"</html" not in body[-4096:].lower():
        raise ParseError("the page ends early (no </html>): a truncated response")
    match = _CHARSET.search(context.content_type or "")
    parser = etree.HTMLParser(encoding=match.group(1) if match else "utf-8")
    try:
        root = etree.fromstring(_without_svg(body), parser)
    except (etree.LxmlError, LookupError, ValueError) as exc:
        raise ParseError(f"not an HTML page: {exc}") from exc
    if root is None:
        raise ParseError("not an HTML page: nothing to parse")
    return root


def _without_svg(body: bytes) -> bytes:
    """The page without its inline SVG drawings (a speech-bubble tail in every
    message: some 40% of the bytes), which nothing reads: parsing gets faster."""
    pieces: list[bytes] = []
    position = 0
    while (start := body.find(b"<svg", position)) >= 0:
        end = body.find(b"</svg>", start)
        if end < 0:
            break
        pieces.append(body[position:start])
        position = end + len(b"</svg>")
    if not pieces:
        return body
    pieces.append(body[position:])
    return b"".join(pieces)


def _kind(root: Any, has_messages: bool) -> PageKind:
    if has_messages or root.xpath(
        "//*[contains(@class,'tgme_channel_history') or contains(@class,'tgme_channel_info')]"
    ):
        return "preview"
    if root.xpath("//div[contains(concat(' ',normalize-space(@class),' '),' tgme_page ')]"):
        return "tme_page"
    return "unknown"
