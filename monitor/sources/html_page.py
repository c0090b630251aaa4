"""The pure half of the ``html`` kind: a page and its CSS selectors in, posts out.

Selectors (PRODUCT.md): ``"css"`` reads the first matching element inside the
item, ``"css@attr"`` that element's attribute, ``"@attr"`` the item's own.

- ``item``: every match is one post. A page where it matches nothing is a
  ParseError: a statements page with no statement at all is far more often
  a redesign, a block page or a login wall than a quiet site, and an error
  shows up in the source's health where an empty success would not.
- ``text`` (and ``body`` on followed pages): ALL matches, each turned to text
  with its line breaks kept, joined by a blank line (a selector such as
  ``.article p`` picks every paragraph); an attribute form reads the first.
- ``id``: defaults to the link; without either, a hash of the text (which
  changes when the text does: configure an id or link where the site has one).
- ``link``: resolved against the page's URL (or its ``<base href>``); only
  http(s) links are kept. An element without ``@attr`` gives its ``href``.
  Never guessed: without a ``link`` selector posts have no link.
- ``date``: see ``html_dates``; ``author``: the text or attribute.
- ``:scope`` stands for the item itself (``text: ":scope"`` reads all of it).

Sort keys (what deletion windows are measured in; see ``html.HtmlAdapter``):
when every item's id ends in a number after a separator (``msg-78808``,
``/statements/4129``, ``?p=7223``, ``article-164913.html``, not a date such as
``2026-11-21``), those numbers; otherwise, when every item has an absolute
date, that time in milliseconds; otherwise none.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Literal
from urllib.parse import urljoin

import soupsieve
from bs4 import BeautifulSoup, Tag
from bs4.element import CData, NavigableString

from monitor.config import Selectors
from monitor.errors import ParseError
from monitor.sources.base import ParseContext, Post
from monitor.sources.html_dates import parse_date
from monitor.text.html import normalize_whitespace

Basis = Literal["id", "date"]
_ATTRIBUTE = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]*")
_TRAILING_NUMBER = re.compile(r"(?:^|[^0-9A-Za-z])(\d{1,18})(?:\.[A-Za-z0-9]{1,5})?/?$")
_DATE_LIKE = re.compile(r"\d{4}[-/_.]\d{1,2}[-/_.]\d{1,2}(?:\.[A-Za-z0-9]{1,5})?/?$")
# As in monitor.text.html.html_to_text, which element_text mirrors.
_BLOCK_TAGS = frozenset(
    ("p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "pre")
)
_INVISIBLE_TAGS = frozenset(("script", "style", "template"))
_TEXT_TYPES = (NavigableString, CData)
_CHARSET = re.compile(r"charset=[\"']?([-\w.:]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Field:
    """One selector of the config, split: ``css`` None reads the item itself."""

    css: str | None
    attribute: str | None

    @classmethod
    def of(cls, spec: str) -> Field:
        css, at, attribute = spec.rpartition("@")
        if not at or not _ATTRIBUTE.fullmatch(attribute):
            return cls(spec.strip(), None)
        return cls(css.strip() or None, attribute)


@dataclass(frozen=True)
class Listing:
    """The posts of one page, in page order, and what their sort keys were taken from."""

    posts: list[Post]
    basis: Basis | None


def check_selectors(selectors: Selectors) -> None:
    """A ParseError naming the first selector that is not valid CSS (soupsieve's syntax)."""
    for name, spec in selectors.model_dump().items():
        css = Field.of(spec).css if spec else None
        if css is None:
            continue
        try:
            soupsieve.compile(css)
        except soupsieve.SelectorSyntaxError as exc:
            reason = str(exc).splitlines()[0]
            raise ParseError(f"selectors.{name} {spec!r} is not valid CSS: {reason}") from exc


def soup_of(body: bytes, context: ParseContext) -> BeautifulSoup:
    if not body.strip():
        raise ParseError(f"empty page at {context.url or 'the given file'}")
    declared = _CHARSET.search(context.content_type or "")
    return BeautifulSoup(body, "lxml", from_encoding=declared.group(1) if declared else None)


def parse_page(
    body: bytes,
    context: ParseContext,
    selectors: Selectors,
    *,
    now: datetime | None = None,
    timezone: tzinfo | None = None,
) -> list[Post]:
    """The posts on a page; ``now`` anchors relative dates, ``timezone`` zone-less times."""
    return parse_listing(body, context, selectors, now=now, timezone=timezone).posts


def parse_listing(
    body: bytes,
    context: ParseContext,
    selectors: Selectors,
    *,
    now: datetime | None = None,
    timezone: tzinfo | None = None,
) -> Listing:
    check_selectors(selectors)
    soup = soup_of(body, context)
    items = soup.select(selectors.item)
    if not items:
        raise ParseError(
            f"selector {selectors.item!r} matched nothing on {context.url or 'the page'}"
        )
    reader = _ItemReader(
        selectors, _base_url(soup, context.url), now or datetime.now(UTC), timezone
    )
    posts: dict[str, Post] = {}
    for item in items:
        post = reader.read(item)
        if post is not None:
            posts.setdefault(post.external_id, post)  # an item shown twice counts once
    return _with_sort_keys(list(posts.values()))


def select_text(root: Tag, spec: str) -> str:
    """All matches of ``spec`` under ``root`` as text (an attribute form: the first's)."""
    field = Field.of(spec)
    if field.attribute is not None:
        return normalize_whitespace(read_value(root, field) or "")
    parts = (element_text(element) for element in _matches(root, field.css))
    return "\n\n".join(part for part in parts if part)


def element_text(element: Tag) -> str:
    """``html_to_text(str(element))`` without serializing and parsing the element again:
    the same rules (<br> and block ends are line breaks; script, style and template
    are dropped) applied to the tree already parsed, iteratively (no recursion limit)."""
    out: list[str] = []
    stack = [iter(element.children)]
    ends_block = [element.name in _BLOCK_TAGS]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            if ends_block.pop():
                out.append("\n")
        elif isinstance(child, Tag):
            if child.name == "br":
                out.append("\n")
            elif child.name not in _INVISIBLE_TAGS:
                stack.append(iter(child.children))
                ends_block.append(child.name in _BLOCK_TAGS)
        elif type(child) in _TEXT_TYPES:
            out.append(str(child))
    return normalize_whitespace("".join(out))


def read_value(root: Tag, field: Field) -> str | None:
    """The first match's attribute, or its text; None when nothing matches."""
    found = _matches(root, field.css)
    element = found[0] if found else None
    if element is None:
        return None
    if field.attribute is None:
        return normalize_whitespace(element.get_text(" ")) or None
    value = element.get(field.attribute)
    if isinstance(value, list):  # class and other multi-valued attributes
        value = " ".join(value)
    if value is None:
        return None
    return value.strip() or None


def _matches(root: Tag, css: str | None) -> list[Tag]:
    """``css`` under ``root``; None or ``:scope`` is ``root`` itself (soupsieve's
    select only looks at descendants)."""
    if css is None or css.strip() == ":scope":
        return [root]
    return list(root.select(css))


def _base_url(soup: BeautifulSoup, url: str | None) -> str | None:
    base = soup.select_one("base[href]")
    href = base.get("href") if base is not None else None
    return urljoin(url or "", href) if isinstance(href, str) and href.strip() else url


class _ItemReader:
    def __init__(
        self, selectors: Selectors, base_url: str | None, now: datetime, timezone: tzinfo | None
    ) -> None:
        self.selectors = selectors
        self.base_url = base_url
        self.now = now
        self.timezone = timezone

    def read(self, item: Tag) -> Post | None:
        selectors = self.selectors
        text = select_text(item, selectors.text)
        link = self.link(item)
        given_id = read_value(item, Field.of(selectors.id)) if selectors.id else None
        external_id = given_id or link
        if external_id is None:
            if not text:
                return None  # no id and nothing to say: decoration, not a post
            external_id = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]
        date_text = read_value(item, Field.of(selectors.date)) if selectors.date else None
        parsed = parse_date(date_text, now=self.now, tz=self.timezone)
        author = read_value(item, Field.of(selectors.author)) if selectors.author else None
        extra: dict[str, object] = {"date_text": date_text} if date_text else {}
        if parsed is not None and parsed.relative:
            extra["date_relative"] = True
        return Post(
            external_id=external_id,
            text=text,
            url=link,
            author=author,
            published_at=parsed.when if parsed else None,
            extra=extra,
        )

    def link(self, item: Tag) -> str | None:
        if not self.selectors.link:
            return None
        field = Field.of(self.selectors.link)
        if field.attribute is None:
            field = Field(field.css, "href")
        return absolute_link(read_value(item, field), self.base_url)


def absolute_link(value: str | None, base_url: str | None) -> str | None:
    if not value:
        return None
    url = urljoin(base_url or "", value.strip())
    return url if url.startswith(("http://", "https://")) else None


def trailing_number(external_id: str) -> int | None:
    """The number an id ends in after a separator, unless the id ends in a date."""
    if _DATE_LIKE.search(external_id):
        return None
    match = _TRAILING_NUMBER.search(external_id)
    return int(match.group(1)) if match else None


def _with_sort_keys(posts: list[Post]) -> Listing:
    numbers = [trailing_number(post.external_id) for post in posts]
    if all(number is not None for number in numbers):
        keyed = [replace(post, sort_key=key) for post, key in zip(posts, numbers, strict=True)]
        return Listing(keyed, "id")
    if all(post.published_at and not post.extra.get("date_relative") for post in posts):
        return Listing([replace(post, sort_key=_millis(post)) for post in posts], "date")
    return Listing(posts, None)


def _millis(post: Post) -> int | None:
    return int(post.published_at.timestamp() * 1000) if post.published_at else None
