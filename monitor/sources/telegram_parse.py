"""Telegram's public channel web preview (``https://t.me/s/CHANNEL``) read into posts.

The pure half of the ``telegram`` kind: bytes in, a :class:`Page` out. It uses
lxml directly (one parse, one walk per message), about 2 ms for a page of 20
posts where BeautifulSoup needs 30 ms or more.

What a post carries, and the choices made:

- ``external_id`` is the message number of ``data-post="channel/123"`` ("123")
  and ``sort_key`` the same number, so deletion windows are ranges of numbers.
- ``text``: the message text with its line breaks (``<br>`` and block ends). A
  link keeps its visible text, followed by its address in parentheses when the
  address is not what is shown already: ``profile playlist
  (https://t.me/telegram/402)``. Mentions, hashtags and addresses shown in full
  stay as they are. A poll's text is its question and one ``- answer`` line per
  answer. A post with only media has the text "" (the media are in
  ``extra["media"]``). The quoted text of the post it answers is not part of
  the text (see ``extra["reply"]``). Telegram shows no title: ``title`` is None.
- ``author`` is the post's signature when the channel signs posts, else the
  channel's name; ``url`` is the post's own link (``https://t.me/channel/123``);
  ``published_at`` the UTC time of ``time[datetime]``.
- ``reply_to`` is the number of the post it answers when that post is in the same
  channel ("93428"), else the link to it. ``forwarded_from`` reads
  ``Name (https://t.me/other/500)`` (or just the name when Telegram gives no link).
- Albums: one post per ``data-post`` shown. The album's other members have
  numbers of their own but no message of their own on the page; they appear
  only in the shown post's ``extra["media"]`` and never become posts.
- Service messages (channel created, message pinned...) are skipped; their
  numbers still count for paging.
- A post Telegram cannot show ("Please open Telegram to view this post") is kept
  with whatever text it has; ``extra["not_shown"]`` holds the notice.
- ``extra`` has ``channel``, ``edited`` (True when the page says "edited") and,
  when they apply, ``views`` (int: "1.2K" is 1200), ``media`` (list of
  ``{"type": photo|video|round_video|voice|document|sticker|location, "url":
  link to it, "src": file address (expires), ...}``), ``poll`` (``{"question",
  "type", "options": [{"text", "percent"}]}``), ``link_preview`` (``{"url",
  "site_name", "title", "description"}``), ``links`` (every address in the text),
  ``reply`` (``{"url", "author", "text"}``), ``forwarded`` (``{"name", "url"}``),
  ``not_shown``. Numbers that change by themselves (views, poll percentages)
  stay out of the text, so they never make a new version.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import urljoin

from lxml import etree  # type: ignore[import-untyped]
from lxml import html as lxml_html

from monitor.errors import ParseError
from monitor.sources.base import ParseContext, Post
from monitor.text.html import normalize_whitespace

PageKind = Literal["preview", "tme_page", "unknown"]

_CHARSET = re.compile(r"charset=([\w.:-]+)", re.IGNORECASE)
_BACKGROUND = re.compile(r"background-image:\s*url\(\s*['\"]?([^'\")]+)")
_POST_LINK = re.compile(r"^https?://t\.me/(?:s/)?([A-Za-z0-9_]+)/(\d+)")
_VIEWS = re.compile(r"^([\d.,]+)\s*([KMB]?)$", re.IGNORECASE)
_MULTIPLIERS = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
_BLOCK_TAGS = frozenset(
    {"div", "p", "blockquote", "pre", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4"}
)
_INVISIBLE_TAGS = frozenset({"script", "style", "template", "svg"})
_T_ME = "https://t.me/"
_MEDIA_TYPES = {
    "tgme_widget_message_photo_wrap": "photo",
    "tgme_widget_message_video_player": "video",
    "tgme_widget_message_roundvideo_player": "round_video",
    "tgme_widget_message_voice_player": "voice",
    "tgme_widget_message_document_wrap": "document",
    "tgme_widget_message_sticker_wrap": "sticker",
    "tgme_widget_message_location_wrap": "location",
}


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
        number, post = _read_message(message)
        if number is not None:
            ids.append(number)
        if post is not None:
            posts.append(post)
    has_older = bool(
        root.xpath("//a[contains(@class,'tme_messages_more')][@data-before]|//link[@rel='prev']")
    )
    title = _squash(root.findtext(".//title") or "") or None
    return Page(kind, posts, tuple(ids), has_older, title)


def _document(body: bytes, context: ParseContext) -> Any:
    if not body.strip():
        raise ParseError("empty page")
    head = body[:2048].lower()
    if b"<html" in head and b"</html" not in body[-4096:].lower():
        raise ParseError("the page ends early (no </html>): a truncated response")
    match = _CHARSET.search(context.content_type or "")
    parser = lxml_html.HTMLParser(encoding=match.group(1) if match else "utf-8")
    try:
        root = etree.fromstring(body, parser)
    except (etree.ParserError, LookupError, ValueError) as exc:
        raise ParseError(f"not an HTML page: {exc}") from exc
    if root is None:
        raise ParseError("not an HTML page: nothing to parse")
    return root


def _kind(root: Any, has_messages: bool) -> PageKind:
    if has_messages or root.xpath(
        "//*[contains(@class,'tgme_channel_history') or contains(@class,'tgme_channel_info')]"
    ):
        return "preview"
    if root.xpath("//div[contains(concat(' ',normalize-space(@class),' '),' tgme_page ')]"):
        return "tme_page"
    return "unknown"


@dataclass
class _Fields:
    """What the walk over one message collects."""

    channel: str
    number: int
    owner: str | None = None
    signature: str | None = None
    text: str | None = None
    links: list[str] = field(default_factory=list)
    url: str | None = None
    published_at: datetime | None = None
    views: int | None = None
    edited: bool = False
    reply: dict[str, str] | None = None
    forwarded: dict[str, str] | None = None
    media: list[dict[str, str]] = field(default_factory=list)
    poll: dict[str, Any] | None = None
    link_preview: dict[str, str] | None = None
    not_shown: str | None = None
    supported_cont: bool = False


def _read_message(message: Any) -> tuple[int | None, Post | None]:
    channel, _, number = (message.get("data-post") or "").strip().rpartition("/")
    if not channel or not number.isdigit():
        return None, None
    if "service_message" in (message.get("class") or "").split():
        return int(number), None
    fields = _Fields(channel, int(number))
    walker = etree.iterwalk(message, events=("start",))
    for _event, element in walker:
        if not isinstance(element.tag, str):
            continue
        if element.tag in _INVISIBLE_TAGS:
            walker.skip_subtree()
            continue
        for name in (element.get("class") or "").split():
            handler = _HANDLERS.get(name)
            if handler is not None:
                if handler(fields, element):
                    walker.skip_subtree()
                break
    return fields.number, _post(fields)


def _post(fields: _Fields) -> Post:
    extra: dict[str, Any] = {"channel": fields.channel, "edited": fields.edited}
    optional = {
        "views": fields.views,
        "media": fields.media,
        "poll": fields.poll,
        "link_preview": fields.link_preview,
        "links": fields.links,
        "reply": fields.reply,
        "forwarded": fields.forwarded,
        "not_shown": fields.not_shown,
    }
    extra.update({key: value for key, value in optional.items() if value not in (None, [], {})})
    text = fields.text or ""
    if fields.poll is not None and not text:
        answers = [f"- {option['text']}" for option in fields.poll["options"]]
        text = "\n".join([fields.poll["question"], *answers])
    return Post(
        external_id=str(fields.number),
        text=text,
        url=fields.url or f"{_T_ME}{fields.channel}/{fields.number}",
        author=fields.signature or fields.owner,
        published_at=fields.published_at,
        reply_to=_reply_target(fields),
        forwarded_from=_forwarded_label(fields.forwarded),
        sort_key=fields.number,
        extra=extra,
    )


def _reply_target(fields: _Fields) -> str | None:
    if fields.reply is None or not fields.reply.get("url"):
        return None
    link = fields.reply["url"]
    match = _POST_LINK.match(link)
    if match and match.group(1).lower() == fields.channel.lower():
        return match.group(2)
    return link


def _forwarded_label(forwarded: dict[str, str] | None) -> str | None:
    if not forwarded:
        return None
    name, url = forwarded.get("name"), forwarded.get("url")
    if name and url:
        return f"{name} ({url})"
    return name or url


# --- handlers: one per class of interest; True skips the element's subtree ---


def _owner(fields: _Fields, element: Any) -> bool:
    fields.owner = fields.owner or _squash(element.text_content()) or None
    return True


def _signature(fields: _Fields, element: Any) -> bool:
    fields.signature = _squash(element.text_content()) or None
    return True


def _text(fields: _Fields, element: Any) -> bool:
    if fields.text is None and "js-message_reply_text" not in element.get("class", ""):
        fields.text = render_text(element, fields.links)
    return True


def _reply(fields: _Fields, element: Any) -> bool:
    reply = {
        "url": _absolute(element.get("href")),
        "author": _class_text(element, "tgme_widget_message_author_name"),
        "text": _class_text(element, "js-message_reply_text"),
    }
    fields.reply = {key: value for key, value in reply.items() if value}
    return True


def _forwarded(fields: _Fields, element: Any) -> bool:
    link = element.find(".//a[@href]")
    name = _class_text(element, "tgme_widget_message_forwarded_from_name")
    if not name:
        name = re.sub(r"^\s*Forwarded from\s*", "", _squash(element.text_content()))
    forwarded = {"name": name, "url": _absolute(link.get("href")) if link is not None else ""}
    fields.forwarded = {key: value for key, value in forwarded.items() if value}
    return True


def _media(fields: _Fields, element: Any) -> bool:
    kind = next(_MEDIA_TYPES[c] for c in element.get("class").split() if c in _MEDIA_TYPES)
    thumb = element.find(".//i[@style]")
    source = element.find(".//video[@src]")
    if source is None:
        source = element.find(".//audio[@src]")
    entry = {
        "type": kind,
        "url": _absolute(element.get("href")),
        "src": _absolute(source.get("src")) if source is not None else _background(element),
        "thumbnail": _background(thumb) if thumb is not None and kind != "photo" else "",
        "duration": _squash(element.findtext(".//time") or ""),
        "title": _class_text(element, "tgme_widget_message_document_title"),
        "size": _class_text(element, "tgme_widget_message_document_extra"),
    }
    if kind == "sticker" and not entry["src"]:
        sticker = element.find(".//*[@data-webp]")
        entry["src"] = _absolute(sticker.get("data-webp")) if sticker is not None else ""
    fields.media.append({key: value for key, value in entry.items() if value})
    return True


def _poll(fields: _Fields, element: Any) -> bool:
    options = []
    for option in _by_class(element, "tgme_widget_message_poll_option"):
        percent = _class_text(option, "tgme_widget_message_poll_option_percent").rstrip("%")
        options.append(
            {
                "text": _class_text(option, "tgme_widget_message_poll_option_text"),
                "percent": int(percent) if percent.isdigit() else None,
            }
        )
    fields.poll = {
        "question": _class_text(element, "tgme_widget_message_poll_question"),
        "type": _class_text(element, "tgme_widget_message_poll_type"),
        "options": options,
    }
    return True


def _link_preview(fields: _Fields, element: Any) -> bool:
    preview = {
        "url": _absolute(element.get("href")),
        "site_name": _class_text(element, "link_preview_site_name"),
        "title": _class_text(element, "link_preview_title"),
        "description": _class_text(element, "link_preview_description"),
    }
    fields.link_preview = {key: value for key, value in preview.items() if value}
    return True


def _views(fields: _Fields, element: Any) -> bool:
    fields.views = parse_count(element.text_content())
    return True


def _meta(fields: _Fields, element: Any) -> bool:
    # The meta span holds [signature] ["edited"] date: any words of its own mark an edit.
    loose = [element.text or ""] + [child.tail or "" for child in element]
    fields.edited = fields.edited or bool(_squash("".join(loose)))
    return False


def _date(fields: _Fields, element: Any) -> bool:
    fields.url = _absolute(element.get("href")) or None
    stamp = element.find(".//time[@datetime]")
    if stamp is not None:
        fields.published_at = _utc(stamp.get("datetime"))
    return True


def _supported(fields: _Fields, element: Any) -> bool:
    fields.supported_cont = True
    return False


def _fallback(fields: _Fields, element: Any) -> bool:
    # Shown instead of the media_supported_cont before it where a browser lacks support.
    return fields.supported_cont


def _not_supported(fields: _Fields, element: Any) -> bool:
    fields.not_shown = _class_text(element, "message_media_not_supported_label") or None
    return True


def _skip(fields: _Fields, element: Any) -> bool:
    return True


_HANDLERS: dict[str, Callable[[_Fields, Any], bool]] = {
    "tgme_widget_message_user": _skip,
    "tgme_widget_message_reactions": _skip,
    "tgme_widget_message_owner_name": _owner,
    "tgme_widget_message_from_author": _signature,
    "tgme_widget_message_text": _text,
    "tgme_widget_message_reply": _reply,
    "tgme_widget_message_forwarded_from": _forwarded,
    **dict.fromkeys(_MEDIA_TYPES, _media),
    "tgme_widget_message_poll": _poll,
    "tgme_widget_message_link_preview": _link_preview,
    "tgme_widget_message_views": _views,
    "tgme_widget_message_meta": _meta,
    "tgme_widget_message_date": _date,
    "media_supported_cont": _supported,
    "media_not_supported_cont": _fallback,
    "message_media_not_supported": _not_supported,
}


# --- text ---


def render_text(root: Any, links: list[str] | None = None) -> str:
    """Visible text of a message's text element, line breaks and links kept."""
    out: list[str] = []
    found = links if links is not None else []
    _render_inside(root, out, found, pre=root.tag == "pre")
    return normalize_whitespace("".join(out))


def _render_inside(element: Any, out: list[str], links: list[str], pre: bool) -> None:
    if element.text:
        out.append(element.text if pre else element.text.replace("\n", " "))
    for child in element:
        _render(child, out, links, pre)


def _render(element: Any, out: list[str], links: list[str], pre: bool) -> None:
    tag = element.tag
    if not isinstance(tag, str) or tag in _INVISIBLE_TAGS:
        pass
    elif tag == "br":
        out.append("\n")
    elif tag == "a":
        inner: list[str] = []
        _render_inside(element, inner, links, pre)
        href = element.get("href") or ""
        if href and not href.startswith(("?", "javascript:")):
            address = _absolute(href)
            if address not in links:
                links.append(address)
        out.append(link_text("".join(inner).strip(), href))
    elif tag == "img":
        out.append(element.get("alt") or "")
    else:
        block = tag in _BLOCK_TAGS
        if block:
            _line_start(out)
        _render_inside(element, out, links, pre or tag == "pre")
        if block:
            _line_start(out)
    if element.tail:
        out.append(element.tail if pre else element.tail.replace("\n", " "))


def _line_start(out: list[str]) -> None:
    """A block starts and ends on a line of its own."""
    for piece in reversed(out):
        if piece:
            if not piece.endswith("\n"):
                out.append("\n")
            return


def link_text(visible: str, href: str) -> str:
    """A link as text: what is shown, plus the address when it says something more."""
    if not href or href.startswith(("?", "javascript:")):
        return visible  # hashtags and searches link to the channel's own search
    if not visible:
        return _absolute(href)
    if visible[0] in "@#$" or _same_address(visible, href):
        return visible
    return f"{visible} ({_absolute(href)})"


def _same_address(visible: str, href: str) -> bool:
    def bare(value: str) -> str:
        value = re.sub(r"^(?:[a-z][a-z0-9+.-]*:(?://)?)?(?:www\.)?", "", value.strip().lower())
        return value.rstrip("/")

    shown, target = bare(visible), bare(href)
    if shown.endswith(("…", "...")):
        return target.startswith(shown.rstrip(".…"))
    return shown == target


# --- small readers ---


def parse_count(value: str) -> int | None:
    """'2.38M' -> 2380000, '1.2K' -> 1200, '217' -> 217; None when unreadable."""
    match = _VIEWS.match(value.strip())
    if not match:
        return None
    try:
        number = Decimal(match.group(1).replace(",", ""))
    except InvalidOperation:
        return None
    return int(number * _MULTIPLIERS[match.group(2).upper()])


def _utc(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _absolute(href: str | None) -> str:
    if not href:
        return ""
    href = href.strip()
    if href.startswith("//"):
        return "https:" + href
    if href.startswith(("/", "?")):
        return urljoin(_T_ME, href)
    return href


def _background(element: Any) -> str:
    match = _BACKGROUND.search(element.get("style") or "")
    return _absolute(match.group(1)) if match else ""


_CLASS_XPATH = etree.XPath(".//*[contains(concat(' ', normalize-space(@class), ' '), $name)]")


def _by_class(element: Any, name: str) -> list[Any]:
    found: list[Any] = _CLASS_XPATH(element, name=f" {name} ")
    return found


def _class_text(element: Any, name: str) -> str:
    found = _by_class(element, name)
    return _squash(found[0].text_content()) if found else ""


def _squash(value: str) -> str:
    return " ".join(value.split())
