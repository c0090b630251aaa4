"""The rss kind's fast reader: well-formed RSS 0.9x/1.0/2.0 and Atom read with lxml.

feedparser reads a feed through a SAX parser and many Python calls per
element, then sanitizes every HTML fragment; this reader takes the same
fields from an lxml tree (``rss_xml.document``) more than ten times faster.
It follows feedparser's rules for what ends up in a Post (which element fills
the title, the body, the id, the link, the author, the times, the language;
see ``FeedReader``), so both readers give the same posts: a test compares
them field by field on every real capture.

It reads only what it can read the way feedparser would and hands the rest
back (``read_feed`` returns None) for feedparser to read: documents lxml
refuses (ill-formed XML, undefined entities), any DOCTYPE, a root other than
rss, rdf:RDF or feed, and rare shapes (``Unsupported``): nested entries,
images or text inputs inside an entry, markup inside a plain-text element
that starts with a <div> or follows escaped markup, base64 content, an Atom
source that holds content.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitor.sources.base import ParseContext
from monitor.sources.rss_entry import FeedEntry, Markup
from monitor.sources.rss_xml import (
    Unsupported,
    attributes,
    content_type,
    date,
    document,
    fix,
    language_attribute,
    leaf_text,
    map_type,
    markup,
    resolve,
    safe_base,
    tag_name,
)

_RDF_ABOUT = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"
_HTML_TYPES = frozenset(("text/html", "application/xhtml+xml"))
_FEED_ROOTS = frozenset(("rss", "rdf:rdf", "feed"))
_ENTRY = frozenset(("item", "entry"))
_LANGUAGE = frozenset(("language", "dc:language"))
# Inside an entry, these would change what feedparser files where: read by it.
_UNSUPPORTED_IN_ENTRY = frozenset(
    ("item", "entry", "channel", "feed", "rss", "rdf:rdf", "image", "textinput", "body",
     "xhtml:body")
)  # fmt: skip
# Inside an entry's source, these would leak into the entry (feedparser's hasContent).
_UNSUPPORTED_IN_SOURCE = _UNSUPPORTED_IN_ENTRY | {
    "source", "content", "content:encoded", "fullitem", "description", "dc:description",
    "media:description", "summary", "itunes:summary",
}  # fmt: skip
# Elements whose children feedparser takes as inline markup, not as elements.
_INLINE = frozenset(
    ("subtitle", "tagline", "itunes:subtitle", "rights", "copyright", "dc:rights", "info",
     "feedburner:browserfriendly")
)  # fmt: skip
_SKIP_AT_FEED_LEVEL = frozenset(("image", "textinput", "source", "item", "entry"))
_ENTITY_IN_LINK = re.compile("&([A-Za-z0-9_]+);")


@dataclass(frozen=True)
class Feed:
    entries: list[FeedEntry]
    language: str | None  # as the feed declares it, e.g. "en-us"


def read_feed(body: bytes, context: ParseContext) -> Feed | None:
    """The feed's entries, or None: not for this reader (feedparser reads it)."""
    root = document(body, context.content_type)
    if root is None or tag_name(root) not in _FEED_ROOTS:
        return None
    try:
        return FeedReader(safe_base(context.url or "")).read(root)
    except Unsupported:
        return None


class FeedReader:
    """feedparser's rules for the fields a Post takes, applied to an lxml tree.

    - title: title, dc:title, media:title; the first non-empty one at an
      entry's level or above wins over later and deeper ones (media:title
      only when nothing else gave one).
    - summary: description, dc:description, media:description (HTML by
      default), summary, itunes:summary, abstract; a second one, before any
      full content, counts as full content.
    - content: content:encoded, content, in order; the first also stands as
      the summary when there is none.
    - id: guid/id (resolved against the base URI unless isPermaLink="false"),
      or rdf:about; a permalink guid is also the link until a link element.
    - link: the last <link> text or alternate HTML <link href>, resolved.
    - author: author, dc:creator, dc:author, itunes:author, managingEditor:
      "name (email)", name or email of an Atom person, else the text.
    - published / updated / created: the last of each family, as feedparser
      parses dates; language: language or dc:language of the entry.
    Where two elements fill one field at different depths, the shallower wins
    (feedparser's property depths).
    """

    def __init__(self, base: str) -> None:
        self.base = base

    def read(self, root: Any) -> Feed:
        entries: list[FeedEntry] = []
        language = language_attribute(root) if tag_name(root) in ("feed", "rss") else None
        stack: list[tuple[Any, bool]] = [(child, tag_name(root) == "feed") for child in root]
        stack.reverse()
        while stack:
            element, in_feed = stack.pop()
            name = tag_name(element)
            if name in _ENTRY:
                entries.append(self._entry(element))
            elif name in _LANGUAGE and in_feed:
                language = fix(leaf_text(element).strip())
            elif name not in _SKIP_AT_FEED_LEVEL:
                inside = in_feed or name == "channel"
                stack.extend((child, inside) for child in reversed(element))
        return Feed(entries, language)

    def _entry(self, element: Any) -> FeedEntry:
        attrs = attributes(element)
        if "lastmod" in attrs or "href" in attrs:  # CDF's attributes
            raise Unsupported
        state = _EntryState(FeedEntry(id=element.get(_RDF_ABOUT) or None))
        stack = [(child, 1) for child in reversed(element)]
        while stack:
            child, depth = stack.pop()
            name = tag_name(child)
            handler = _HANDLERS.get(name)
            if handler is not None:
                handler(self, state, child, depth)
            elif name in _UNSUPPORTED_IN_ENTRY:
                raise Unsupported
            elif name not in _INLINE:
                stack.extend((grandchild, depth + 1) for grandchild in reversed(child))
        return state.entry

    # --- handlers: (reader, state, element, depth) --------------------------------

    def _title(self, state: _EntryState, element: Any, depth: int) -> None:
        value = markup(element, "text/plain")
        # A title is kept unless one was already read at this level or above.
        if not -1 < state.title_depth <= depth:
            state.store("title", value, depth)
        if value and tag_name(element) != "media:title":
            state.title_depth = depth

    def _description(self, state: _EntryState, element: Any, depth: int) -> None:
        if state.has_summary and not state.has_content:
            self._content(state, element, depth)
        else:
            state.store("summary", markup(element, "text/html"), depth)

    def _summary(self, state: _EntryState, element: Any, depth: int) -> None:
        if state.has_summary and not state.has_content and tag_name(element) != "abstract":
            self._content(state, element, depth)
        else:
            state.store("summary", markup(element, "text/plain"), depth)

    def _content(
        self, state: _EntryState, element: Any, depth: int, default: str = "text/plain"
    ) -> None:
        state.has_content = True
        value = markup(element, default)
        state.entry.contents.append(value)
        kind = content_type(element, default)
        if not state.has_summary and (kind == "text/plain" or kind in _HTML_TYPES):
            state.entry.summary, state.has_summary = value, True

    def _encoded(self, state: _EntryState, element: Any, depth: int) -> None:
        self._content(state, element, depth, "text/html")

    def _id(self, state: _EntryState, element: Any, depth: int) -> None:
        permalink = attributes(element).get("ispermalink", "true") == "true"
        value = leaf_text(element).strip()
        if value and permalink:
            value = resolve(element, self.base, value)
        value = fix(value)
        state.store("id", value, depth)
        if permalink and state.entry.link is None:
            state.entry.link = value

    def _link(self, state: _EntryState, element: Any, depth: int) -> None:
        attrs = attributes(element)
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:
            attrs["href"] = href
        if "href" not in attrs:
            value = leaf_text(element).strip()
            if value:
                value = resolve(element, self.base, value)
            value = fix(value)
            if "&" in value:  # feedparser undoes "&b;" made of "?a=1&b=2"
                value = _ENTITY_IN_LINK.sub(_unterminated, value.replace("&amp;", "&"))
            state.entry.link = value
            return
        if len(element):
            raise Unsupported
        rel = attrs.get("rel", "alternate")
        kind = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
        if rel == "alternate" and map_type(kind) in _HTML_TYPES:
            state.entry.link = resolve(element, self.base, attrs["href"])

    def _author(self, state: _EntryState, element: Any, depth: int) -> None:
        # feedparser keeps a detail (name, email) per person and, after each part,
        # re-derives the author from it; an empty detail takes the name and email
        # out of the author read so far (which may be the previous person's).
        detail: dict[str, str] = {}
        pieces = [element.text or ""]
        for child in element:
            key = _PERSON_PARTS.get(tag_name(child))
            if key is None or len(child):
                raise Unsupported
            _sync_author(state.entry, detail)
            detail[key] = leaf_text(child).strip()
            pieces.append(child.tail or "")
        state.store("author", fix("".join(pieces).strip()), depth)
        _sync_author(state.entry, detail)

    def _published(self, state: _EntryState, element: Any, depth: int) -> None:
        state.entry.published = date(element)

    def _updated(self, state: _EntryState, element: Any, depth: int) -> None:
        state.entry.updated = date(element)

    def _created(self, state: _EntryState, element: Any, depth: int) -> None:
        state.entry.created = date(element)

    def _language(self, state: _EntryState, element: Any, depth: int) -> None:
        state.store("language", fix(leaf_text(element).strip()), depth)

    def _source(self, state: _EntryState, element: Any, depth: int) -> None:
        # What the entry was taken from (Atom: that feed's title, id, times...):
        # none of it is the entry's, but its titles count for feedparser's title_depth.
        state.title_depth = -1
        stack = [(child, depth + 1) for child in reversed(element)]
        while stack:
            child, child_depth = stack.pop()
            name = tag_name(child)
            if name in ("title", "dc:title"):
                if markup(child, "text/plain"):
                    state.title_depth = child_depth
            elif name in _UNSUPPORTED_IN_SOURCE:
                raise Unsupported
            elif name not in _INLINE and name != "media:title":
                stack.extend((grandchild, child_depth + 1) for grandchild in reversed(child))


_Handler = Callable[[FeedReader, "_EntryState", Any, int], None]
_HANDLERS: dict[str, _Handler] = {
    **dict.fromkeys(("title", "dc:title", "media:title"), FeedReader._title),
    **dict.fromkeys(("description", "dc:description", "media:description"),
                    FeedReader._description),
    **dict.fromkeys(("summary", "itunes:summary", "abstract"), FeedReader._summary),
    "content": FeedReader._content,
    **dict.fromkeys(("content:encoded", "fullitem"), FeedReader._encoded),
    **dict.fromkeys(("id", "guid"), FeedReader._id),
    "link": FeedReader._link,
    **dict.fromkeys(("author", "managingeditor", "dc:author", "dc:creator", "itunes:author"),
                    FeedReader._author),
    **dict.fromkeys(("published", "issued", "pubdate", "dcterms:issued"), FeedReader._published),
    **dict.fromkeys(("updated", "modified", "lastbuilddate", "dc:date", "dcterms:modified"),
                    FeedReader._updated),
    **dict.fromkeys(("created", "dcterms:created"), FeedReader._created),
    **dict.fromkeys(("language", "dc:language"), FeedReader._language),
    "source": FeedReader._source,
}  # fmt: skip


_PERSON_PARTS = {
    "name": "name", "itunes:name": "name", "email": "email", "itunes:email": "email",
    "uri": "href", "url": "href", "homepage": "href",
}  # fmt: skip
_EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)  # feedparser's


def _sync_author(entry: FeedEntry, detail: dict[str, str]) -> None:
    """feedparser's _sync_author_detail for the person being read."""
    if detail:
        name, email = detail.get("name"), detail.get("email")
        if name or email:
            entry.author = f"{name} ({email})" if name and email else name or email
        return
    author = entry.author
    if not author:
        return
    match = _EMAIL.search(author)
    if match:
        email = match.group(0)
        author = author.replace(email, "").replace("()", "").replace("<>", "")
        author = author.replace("&lt;&gt;", "").strip()
        author = author.removeprefix("(").removesuffix(")").strip()
        detail["email"] = email
    if author:
        detail["name"] = author


class _EntryState:
    """An entry being read, with feedparser's bookkeeping."""

    def __init__(self, entry: FeedEntry) -> None:
        self.entry = entry
        self.depths: dict[str, int] = {}
        self.title_depth = -1
        self.has_summary = False
        self.has_content = False

    def store(self, field: str, value: Markup, depth: int) -> None:
        """Keep ``value`` unless the field came from a shallower element."""
        if field == "summary":
            self.has_summary = True
        kept = self.depths.get(field)
        if kept is None or depth <= kept:
            self.depths[field] = depth
            setattr(self.entry, field, value)


def _unterminated(match: re.Match[str]) -> str:
    return "&" + match.group(1)
