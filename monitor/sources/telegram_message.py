"""One message of a t.me/s page (a ``div[data-post]``) read into a Post.

One walk over the message's elements, dispatched on their classes; the
subtrees that are read whole (the text, a reply, a media item...) are not
walked further. What a post carries, and the choices made:

- ``external_id`` is the message number of ``data-post="channel/123"`` ("123")
  and ``sort_key`` the same number, so deletion windows are ranges of numbers.
- ``text``: the message text with its line breaks and links (see
  :mod:`monitor.sources.telegram_text`). A poll's text is its question and one
  ``- answer`` line per answer. A post with only media has the text "" (the media are in
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
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from monitor.sources.base import Post
from monitor.sources.telegram_text import (
    INVISIBLE_TAGS,
    T_ME,
    absolute,
    all_text,
    background,
    class_texts,
    classes,
    parse_count,
    render_text,
    squash,
)

_POST_LINK = re.compile(r"^https?://t\.me/(?:s/)?([A-Za-z0-9_]+)/(\d+)")
_MEDIA_PARTS = {"i": "style", "video": "src", "audio": "src"}  # attribute that makes it useful
_MEDIA_TYPES = {
    "tgme_widget_message_photo_wrap": "photo",
    "tgme_widget_message_video_player": "video",
    "tgme_widget_message_roundvideo_player": "round_video",
    "tgme_widget_message_voice_player": "voice",
    "tgme_widget_message_document_wrap": "document",
    "tgme_widget_message_sticker_wrap": "sticker",
    "tgme_widget_message_location_wrap": "location",
}


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


def read_message(message: Any) -> tuple[int | None, Post | None]:
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
        if element.tag in INVISIBLE_TAGS:
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
        url=fields.url or f"{T_ME}{fields.channel}/{fields.number}",
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
    fields.owner = fields.owner or squash(all_text(element)) or None
    return True


def _signature(fields: _Fields, element: Any) -> bool:
    fields.signature = squash(all_text(element)) or None
    return True


def _text(fields: _Fields, element: Any) -> bool:
    if fields.text is None and "js-message_reply_text" not in element.get("class", ""):
        fields.text = render_text(element, fields.links)
    return True


def _reply(fields: _Fields, element: Any) -> bool:
    texts = class_texts(element)
    reply = {
        "url": absolute(element.get("href")),
        "author": texts.get("tgme_widget_message_author_name", ""),
        "text": texts.get("js-message_reply_text", ""),
    }
    fields.reply = {key: value for key, value in reply.items() if value}
    return True


def _forwarded(fields: _Fields, element: Any) -> bool:
    link = next((a for a in element.iter("a") if a.get("href")), None)
    name = class_texts(element).get("tgme_widget_message_forwarded_from_name", "")
    if not name:
        name = re.sub(r"^\s*Forwarded from\s*", "", squash(all_text(element)))
    forwarded = {"name": name, "url": absolute(link.get("href")) if link is not None else ""}
    fields.forwarded = {key: value for key, value in forwarded.items() if value}
    return True


def _media(fields: _Fields, element: Any) -> bool:
    kind = next(_MEDIA_TYPES[c] for c in element.get("class").split() if c in _MEDIA_TYPES)
    parts: dict[str, Any] = {}
    for part in element.iter("i", "video", "audio", "time"):
        if part.tag not in parts and (part.tag == "time" or part.get(_MEDIA_PARTS[part.tag])):
            parts[part.tag] = part
    source = parts.get("video", parts.get("audio"))
    thumb = parts.get("i")
    stamp = parts.get("time")
    entry = {
        "type": kind,
        "url": absolute(element.get("href")),
        "src": absolute(source.get("src")) if source is not None else background(element),
        "thumbnail": background(thumb) if thumb is not None and kind != "photo" else "",
        "duration": squash(stamp.text or "") if stamp is not None else "",
    }
    if kind == "document":
        texts = class_texts(element)
        entry["title"] = texts.get("tgme_widget_message_document_title", "")
        entry["size"] = texts.get("tgme_widget_message_document_extra", "")
    if kind == "sticker" and not entry["src"]:
        webp = [node.get("data-webp") for node in element.iter() if node.get("data-webp")]
        entry["src"] = absolute(webp[0]) if webp else ""
    fields.media.append({key: value for key, value in entry.items() if value})
    return True


def _poll(fields: _Fields, element: Any) -> bool:
    options = []
    for option in element.iter():
        if "tgme_widget_message_poll_option" in classes(option):
            texts = class_texts(option)
            percent = texts.get("tgme_widget_message_poll_option_percent", "").rstrip("%")
            options.append(
                {
                    "text": texts.get("tgme_widget_message_poll_option_text", ""),
                    "percent": int(percent) if percent.isdigit() else None,
                }
            )
    texts = class_texts(element)
    fields.poll = {
        "question": texts.get("tgme_widget_message_poll_question", ""),
        "type": texts.get("tgme_widget_message_poll_type", ""),
        "options": options,
    }
    return True


def _link_preview(fields: _Fields, element: Any) -> bool:
    texts = class_texts(element)
    preview = {
        "url": absolute(element.get("href")),
        "site_name": texts.get("link_preview_site_name", ""),
        "title": texts.get("link_preview_title", ""),
        "description": texts.get("link_preview_description", ""),
    }
    fields.link_preview = {key: value for key, value in preview.items() if value}
    return True


def _views(fields: _Fields, element: Any) -> bool:
    fields.views = parse_count(all_text(element))
    return True


def _meta(fields: _Fields, element: Any) -> bool:
    # The meta span holds [signature] ["edited"] date: any words of its own mark an edit.
    loose = [element.text or ""] + [child.tail or "" for child in element]
    fields.edited = fields.edited or bool(squash("".join(loose)))
    return False


def _date(fields: _Fields, element: Any) -> bool:
    fields.url = absolute(element.get("href")) or None
    for stamp in element.iter("time"):
        if stamp.get("datetime"):
            fields.published_at = _utc(stamp.get("datetime"))
            break
    return True


def _supported(fields: _Fields, element: Any) -> bool:
    fields.supported_cont = True
    return False


def _fallback(fields: _Fields, element: Any) -> bool:
    # Shown instead of the media_supported_cont before it where a browser lacks support.
    return fields.supported_cont


def _not_supported(fields: _Fields, element: Any) -> bool:
    fields.not_shown = class_texts(element).get("message_media_not_supported_label") or None
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


def _utc(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
