"""Mastodon: an account's public statuses through its instance's REST API.

Address: ``account: user@instance`` asks https://instance/api/v1/...; or
``url:`` the account's PROFILE page, ``https://INSTANCE/@USER``. An instance
is its own API host, so any host works alike (a local test server
``http://127.0.0.1:PORT/@user`` is asked on /api/v1/... of that host); the
account is the path's last segment (``@user`` or ``@user@remote.example``).

Fetching:

1. ``GET /api/v1/accounts/lookup?acct=USER`` once; the id is kept in the cursor.
2. ``GET /api/v1/accounts/:id/statuses?limit=40&since_id=B``, then older pages
   with ``max_id`` (the Link header's rel="next", since_id kept) until a short
   page, no next link, or ``max_pages`` (the first poll reads one page). The
   first page is asked conditionally (ETag / Last-Modified) when its URL is the
   one the validators came with (``validated_since`` in the cursor): a 304 is
   "nothing changed since the last poll".

``since_id`` is not the newest known status but the one just below the
``recheck`` (20) newest (kept in the cursor as ``since_id``): every poll lists
those again, so an edit (Mastodon keeps the id and sets ``edited_at``) shows
as a changed text, which the pipeline stores as a new version, and a status
deleted, or a boost undone, is missing from a listing that covers its place.
Windows (see jsonapi): a listing that ran out covers everything above
``since_id``; a cut one, from its oldest status up. Statuses further back are
not re-read: their later edits and deletions are not seen. Servers with
non-numeric ids (some Mastodon-compatible ones) get no windows.

Posts: external_id and sort_key are the status id (a snowflake: creation
time); text is the content as plain text with links written out in full (the
``quote-inline`` "RE: link" paragraph dropped when the quote is given as an
object) after the content warning (``spoiler_text``); reply_to is
``in_reply_to_id``, quote_of the quoted status id. A boost (``reblog``) is
kept as a post of its own (its id is its place in the account's listing, and
an undone boost disappears from it) carrying the original's text, language,
link and relations, with forwarded_from = "@acct" of the original's author.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from monitor.config import MastodonSource, Source
from monitor.errors import HTTPStatusError, ParseError
from monitor.http import HttpClient, HttpResponse
from monitor.sources.base import FetchResult, FetchState, ParseContext, Post, Validators
from monitor.sources.jsonapi import (
    ApiError,
    Listing,
    as_dict,
    as_list,
    decode_json,
    dict_or_empty,
    int_or_none,
    list_or_empty,
    not_modified,
    parse_time,
    profile_url,
    recheck_boundary,
    required_text,
    text_of,
)
from monitor.text.html import html_to_text, normalize_whitespace

_QUOTE_INLINE = re.compile(r"<p class=\"quote-inline\">.*?</p>", re.DOTALL)
_NEXT_LINK = re.compile(r"<([^>]+)>\s*;\s*rel=\"?next\"?")


class MastodonAdapter:
    kind: ClassVar[str] = "mastodon"

    def __init__(
        self,
        api_base: str,
        account: str,
        proxy: str | None = None,
        *,
        page_size: int = 40,
        max_pages: int = 5,
        recheck: int = 20,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.account = account
        self.proxy = proxy
        self.page_size = page_size
        self.max_pages = max_pages
        self.recheck = recheck

    @classmethod
    def from_source(cls, source: Source) -> MastodonAdapter:
        if not isinstance(source, MastodonSource):
            raise TypeError(f"not a mastodon source: {source.kind}")
        if source.account is not None:
            user, _, instance = source.account.partition("@")
            return cls(f"https://{instance}", user, source.proxy)
        assert source.url is not None  # the config demands one of the two
        profile = profile_url(source.url, {}, "mastodon")
        return cls(profile.api_base, profile.account, source.proxy)

    def fetch(self, http: HttpClient, state: FetchState) -> FetchResult:
        listing = Listing()
        account_id = text_of(state.cursor, "account_id") or self._lookup(http, listing)
        since = int_or_none(state.cursor.get("since_id"))
        params = {"limit": str(self.page_size)}
        if since is not None:
            params["since_id"] = str(since)
        # Validators belong to one URL: only when since_id is the one they were got with.
        same_url = state.cursor.get("validated_since") == params.get("since_id", "")
        validators = state.validators if same_url else Validators()
        url = f"{self.api_base}/api/v1/accounts/{account_id}/statuses"
        allowed = self.max_pages if since is not None else 1
        first, exhausted = self._read(http, url, params, validators, allowed, listing)
        if first.not_modified:
            return not_modified(state.validators, first)
        keys = listing.keys()
        numeric = len(keys) == len(listing.posts)
        cursor: dict[str, Any] = {
            "account_id": account_id,
            "validated_since": params.get("since_id", ""),
        }
        boundary = recheck_boundary(keys, self.recheck, since) if numeric else None
        if boundary is not None:
            cursor["since_id"] = str(boundary)
        window = listing.window(exhausted=exhausted, lower=since) if numeric else None
        return listing.result(cursor, window, Validators(first.etag, first.last_modified))

    def _read(
        self,
        http: HttpClient,
        url: str,
        params: dict[str, str],
        validators: Validators,
        allowed: int,
        listing: Listing,
    ) -> tuple[HttpResponse, bool]:
        """Read pages newest first into ``listing``; the first answer (a 304 stops
        there), and whether the listing ran out rather than hit the page bound."""
        first: HttpResponse | None = None
        while True:
            response = http.get(
                url,
                etag=validators.etag if first is None else None,
                last_modified=validators.last_modified if first is None else None,
                proxy=self.proxy,
                params=params,
            )
            if response.not_modified:
                return response, False
            first = first or response
            posts = _statuses(decode_json(response.body, f"Mastodon statuses from {url}"))
            listing.add_page(response, posts)
            next_max = _next_max_id(response.headers.get("link"))
            if len(posts) < self.page_size or next_max is None:
                return first, True
            if listing.pages >= allowed:
                return first, False
            params = {**params, "max_id": next_max}

    def _lookup(self, http: HttpClient, listing: Listing) -> str:
        url = f"{self.api_base}/api/v1/accounts/lookup"
        try:
            response = http.get(url, params={"acct": self.account}, proxy=self.proxy)
        except HTTPStatusError as exc:
            if exc.status in (404, 410):
                raise ApiError(
                    exc.url,
                    exc.status,
                    f"Mastodon account @{self.account} not found on {self.api_base} "
                    f"(HTTP {exc.status} from {url})",
                ) from exc
            raise
        listing.note(response)
        what = f"Mastodon account lookup from {url}"
        return required_text(as_dict(decode_json(response.body, what), what), "id", what)

    @classmethod
    def parse(cls, body: bytes, context: ParseContext) -> list[Post]:
        """A list of statuses (an account's or a timeline), or one status."""
        return _statuses(decode_json(body, "Mastodon API response"))


def _next_max_id(link: str | None) -> str | None:
    match = _NEXT_LINK.search(link or "")
    if match is None:
        return None
    values = parse_qs(urlsplit(match.group(1)).query).get("max_id")
    return values[0] if values else None


def _statuses(data: Any) -> list[Post]:
    if isinstance(data, dict):
        if "error" in data:
            raise ParseError(f"Mastodon API error: {data['error']}")
        data = [data]  # one status, as GET /api/v1/statuses/:id answers
    items = as_list(data, "Mastodon statuses")
    posts = []
    for index, item in enumerate(items):
        status = as_dict(item, f"Mastodon status #{index}")
        if "id" not in status and "content" in status:
            raise ParseError(
                f"Mastodon status #{index} has no id: this looks like a status edit "
                "history (StatusEdit list), not a list of statuses"
            )
        posts.append(_post(status, f"Mastodon status #{index}"))
    return posts


def _post(status: dict[str, Any], where: str) -> Post:
    status_id = required_text(status, "id", where)
    reblog = dict_or_empty(status.get("reblog"))
    shown = reblog or status  # what the reader sees: a boost shows the original
    account = dict_or_empty(status.get("account"))
    published_at = parse_time(status.get("created_at"), f"{where} created_at")
    quote = dict_or_empty(shown.get("quote"))
    quoted = dict_or_empty(quote.get("quoted_status"))
    quote_id = text_of(quoted, "id") or text_of(quote, "quoted_status_id")
    extra = _extra(status, shown, account, quote, quoted, where)
    original_author = dict_or_empty(shown.get("account"))
    return Post(
        external_id=status_id,
        text=_text(shown, quoted=bool(quote)),
        url=text_of(shown, "url") or text_of(shown, "uri"),
        author=text_of(account, "display_name") or text_of(account, "acct"),
        published_at=published_at,
        language=text_of(shown, "language"),
        reply_to=text_of(shown, "in_reply_to_id"),
        quote_of=quote_id,
        forwarded_from=_handle(original_author) if reblog else None,
        sort_key=int(status_id) if status_id.isdigit() else None,
        extra=extra,
    )


def _text(status: dict[str, Any], *, quoted: bool) -> str:
    content = text_of(status, "content") or ""
    if quoted:
        content = _QUOTE_INLINE.sub("", content)
    body = html_to_text(content)
    warning = normalize_whitespace(text_of(status, "spoiler_text") or "")
    return f"{warning}\n\n{body}".strip() if warning else body


def _handle(account: dict[str, Any]) -> str | None:
    acct = text_of(account, "acct")
    return f"@{acct}" if acct else None


def _extra(
    status: dict[str, Any],
    shown: dict[str, Any],
    account: dict[str, Any],
    quote: dict[str, Any],
    quoted: dict[str, Any],
    where: str,
) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "account": _handle(account),
        "account_url": text_of(account, "url"),
        "visibility": text_of(status, "visibility"),
        "sensitive": bool(shown.get("sensitive")),
        "metrics": {
            key: shown[key]
            for key in ("replies_count", "reblogs_count", "favourites_count", "quotes_count")
            if isinstance(shown.get(key), int)
        },
    }
    edited_at = parse_time(shown.get("edited_at"), f"{where} edited_at")
    if edited_at is not None:
        extra["edited_at"] = edited_at.isoformat()
    if text_of(shown, "spoiler_text"):
        extra["spoiler_text"] = text_of(shown, "spoiler_text")
    if shown.get("in_reply_to_account_id"):
        extra["in_reply_to_account_id"] = text_of(shown, "in_reply_to_account_id")
    media = [_media(dict_or_empty(item)) for item in list_or_empty(shown.get("media_attachments"))]
    if media:
        extra["media"] = media
    poll = dict_or_empty(shown.get("poll"))
    if poll:
        options = [dict_or_empty(option) for option in list_or_empty(poll.get("options"))]
        extra["poll"] = {
            "options": [text_of(option, "title") for option in options],
            "multiple": bool(poll.get("multiple")),
            "expires_at": text_of(poll, "expires_at"),
            "votes_count": poll.get("votes_count"),
        }
    card = dict_or_empty(shown.get("card"))
    if card:
        extra["card"] = {key: text_of(card, key) for key in ("url", "title", "description")}
    mentions = [_handle(dict_or_empty(m)) for m in list_or_empty(shown.get("mentions"))]
    if any(mentions):
        extra["mentions"] = [m for m in mentions if m]
    tags = [text_of(dict_or_empty(t), "name") for t in list_or_empty(shown.get("tags"))]
    if any(tags):
        extra["tags"] = [t for t in tags if t]
    if quote:
        extra["quote"] = {
            "state": text_of(quote, "state"),
            "url": text_of(quoted, "url"),
            "author": _handle(dict_or_empty(quoted.get("account"))),
            "text": html_to_text(text_of(quoted, "content") or "") if quoted else None,
        }
    if shown is not status:
        original = parse_time(shown.get("created_at"), f"{where} reblog.created_at")
        extra["reblog_of"] = text_of(shown, "id")
        extra["original_url"] = text_of(shown, "url")
        extra["original_author_url"] = text_of(dict_or_empty(shown.get("account")), "url")
        extra["original_published_at"] = original.isoformat() if original else None
    return extra


def _media(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": text_of(item, "type"),
        "url": text_of(item, "url") or text_of(item, "remote_url"),
        "description": text_of(item, "description"),
    }
