"""Bluesky: an account's feed from the public AppView, no login.

Address: ``handle: name.bsky.social`` (or a DID), asked at
https://public.api.bsky.app; or ``url:`` the PROFILE page
``https://bsky.app/profile/HANDLE``, asked there too. On any other host (a
local test server ``http://127.0.0.1:PORT/profile/HANDLE``, another AppView)
the same XRPC path is asked on that host; the handle is the path's last
segment.

Fetching: ``GET /xrpc/app.bsky.feed.getAuthorFeed?actor=HANDLE&limit=50``,
then ``&cursor=`` of the previous answer. The first poll reads one page;
later polls read on until a page reaches the newest post known (kept in the
cursor as ``newest``, a sort key), the feed ends, or ``max_pages``. Every
poll re-reads the first page, so an item that disappears from the newest 50
is seen, and the first page is asked conditionally (ETag / Last-Modified).

Sort key: the feed's own order, in milliseconds: a post sits at the earlier
of its ``createdAt`` and ``indexedAt`` (a client clock ahead of the server's
does not move it), a repost at the time it was reposted. So a window (see
jsonapi) from the oldest listed item up is sound: a post or repost stored with
a key inside it and missing from the listing was deleted (or un-reposted).

Posts: external_id is the post's at:// URI (reply_to and quote_of use the
same form, so replies join stored posts); url is the bsky.app link; text has
each link facet's shortened text (``example.com/long...``) replaced by its
full URI, byte offsets into UTF-8 honoured (a text that differs from the URI
is kept with the URI after it in parentheses); language is the first of
``langs``. A repost is a post of its own (its repost record's URI is its id)
carrying the original's text, link and relations, with forwarded_from =
"@handle" of the original's author and published_at the time of the repost.
Pinned items (``reasonPin``, only sent when asked for) are skipped.
"""

from __future__ import annotations

from typing import Any, ClassVar

from monitor.config import BlueskySource, Source
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
    millis,
    not_modified,
    parse_time,
    profile_url,
    required_text,
    text_of,
)

API = "https://public.api.bsky.app"
API_HOSTS = {"bsky.app": API}
FEED_PATH = "/xrpc/app.bsky.feed.getAuthorFeed"
_POST_COLLECTION = "/app.bsky.feed.post/"


class BlueskyAdapter:
    kind: ClassVar[str] = "bluesky"

    def __init__(
        self,
        api_base: str,
        actor: str,
        proxy: str | None = None,
        *,
        page_size: int = 50,
        max_pages: int = 5,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.actor = actor
        self.proxy = proxy
        self.page_size = page_size
        self.max_pages = max_pages

    @classmethod
    def from_source(cls, source: Source) -> BlueskyAdapter:
        if not isinstance(source, BlueskySource):
            raise TypeError(f"not a bluesky source: {source.kind}")
        if source.handle is not None:
            return cls(API, source.handle, source.proxy)
        assert source.url is not None  # the config demands one of the two
        profile = profile_url(source.url, API_HOSTS, "bluesky")
        return cls(profile.api_base, profile.account, source.proxy)

    def fetch(self, http: HttpClient, state: FetchState) -> FetchResult:
        newest = int_or_none(state.cursor.get("newest"))
        allowed = 1 if newest is None else self.max_pages
        params = {"actor": self.actor, "limit": str(self.page_size)}
        listing = Listing()
        first: HttpResponse | None = None
        exhausted = False
        while True:
            response = self._get(http, params, state.validators if first is None else None)
            if first is None and response.not_modified:
                return not_modified(state.validators, response)
            first = first or response
            document = as_dict(decode_json(response.body, "Bluesky feed page"), "feed page")
            posts = _feed(document)
            listing.add_page(response, posts)
            next_page = text_of(document, "cursor")
            if not next_page:
                exhausted = True
                break
            keys = [post.sort_key for post in posts if post.sort_key is not None]
            reached_known = newest is not None and (not keys or min(keys) <= newest)
            if reached_known or listing.pages >= allowed:
                break
            params = {**params, "cursor": next_page}
        known = max([*listing.keys(), newest or 0]) or None
        cursor = {"newest": known} if known is not None else {}
        window = listing.window(exhausted=exhausted, lower=None)
        return listing.result(cursor, window, Validators(first.etag, first.last_modified))

    def _get(
        self, http: HttpClient, params: dict[str, str], validators: Validators | None
    ) -> HttpResponse:
        url = self.api_base + FEED_PATH
        try:
            return http.get(
                url,
                etag=validators.etag if validators else None,
                last_modified=validators.last_modified if validators else None,
                proxy=self.proxy,
                params=params,
            )
        except HTTPStatusError as exc:
            if exc.status == 400:  # the AppView's answer for an unknown or suspended actor
                raise ApiError(
                    exc.url,
                    400,
                    f"Bluesky has no readable feed for {self.actor!r} (HTTP 400 from {url}): "
                    "the account does not exist, was deleted or suspended, or the handle "
                    "is not valid",
                ) from exc
            raise

    @classmethod
    def parse(cls, body: bytes, context: ParseContext) -> list[Post]:
        """A getAuthorFeed (or any feed) answer, or one feed item ``{"post": ...}``."""
        return _feed(as_dict(decode_json(body, "Bluesky answer"), "Bluesky answer"))


def _feed(document: dict[str, Any]) -> list[Post]:
    if "feed" in document:
        items = as_list(document["feed"], "Bluesky 'feed'")
    elif "post" in document:
        items = [document]
    elif "error" in document:
        message = text_of(document, "message") or ""
        raise ParseError(f"Bluesky API error {document['error']}: {message}")
    else:
        raise ParseError("Bluesky answer has neither 'feed' nor 'post'")
    posts = []
    for index, item in enumerate(items):
        entry = as_dict(item, f"Bluesky feed item #{index}")
        reason = dict_or_empty(entry.get("reason"))
        reason_type = text_of(reason, "$type") or ""
        if reason_type.endswith("#reasonPin"):
            continue
        repost = reason if reason_type.endswith("#reasonRepost") else None
        posts.append(_post(entry, repost, f"Bluesky feed item #{index}"))
    return posts


def _post(entry: dict[str, Any], repost: dict[str, Any] | None, where: str) -> Post:
    post = as_dict(entry.get("post"), f"{where} 'post'")
    uri = required_text(post, "uri", f"{where} post")
    record = as_dict(post.get("record"), f"{where} post 'record'")
    author = dict_or_empty(post.get("author"))
    created = parse_time(record.get("createdAt"), f"{where} createdAt")
    indexed = parse_time(post.get("indexedAt"), f"{where} indexedAt")
    placed = min(filter(None, (created, indexed)), default=None)
    parent = dict_or_empty(dict_or_empty(record.get("reply")).get("parent"))
    langs = [lang for lang in list_or_empty(record.get("langs")) if isinstance(lang, str)]
    extra = _extra(entry, post, record, author)
    common: dict[str, Any] = {
        "text": rich_text(text_of(record, "text") or "", list_or_empty(record.get("facets"))),
        "url": post_url(uri, text_of(author, "handle")),
        "language": langs[0] if langs else None,
        "reply_to": text_of(parent, "uri"),
        "quote_of": _quoted_uri(dict_or_empty(record.get("embed"))),
    }
    if repost is None:
        return Post(
            external_id=uri,
            author=_name(author),
            published_at=created or indexed,
            sort_key=millis(placed) if placed else None,
            extra=extra,
            **common,
        )
    by = dict_or_empty(repost.get("by"))
    reposted_at = parse_time(repost.get("indexedAt"), f"{where} reason indexedAt")
    extra["reposted_by"] = text_of(by, "handle")
    extra["original_uri"] = uri
    extra["original_published_at"] = created.isoformat() if created else None
    handle = text_of(author, "handle")
    return Post(
        external_id=text_of(repost, "uri") or f"repost:{uri}",
        author=_name(by),
        published_at=reposted_at,
        forwarded_from=f"@{handle}" if handle else text_of(author, "did"),
        sort_key=millis(reposted_at) if reposted_at else None,
        extra=extra,
        **common,
    )


def _name(profile: dict[str, Any]) -> str | None:
    return text_of(profile, "displayName") or text_of(profile, "handle")


def post_url(uri: str, handle: str | None) -> str | None:
    """The bsky.app link of an at:// post URI (by handle when it is valid, else DID)."""
    if _POST_COLLECTION not in uri:
        return None
    did, _, rkey = uri.removeprefix("at://").partition(_POST_COLLECTION)
    who = handle if handle and handle != "handle.invalid" else did
    return f"https://bsky.app/profile/{who}/post/{rkey}"


def _quoted_uri(embed: dict[str, Any]) -> str | None:
    """The quoted post of a record embed (also with media); other records are no quote."""
    record = dict_or_empty(embed.get("record"))
    if "record" in record:  # app.bsky.embed.recordWithMedia: record.record
        record = dict_or_empty(record.get("record"))
    uri = text_of(record, "uri")
    return uri if uri and _POST_COLLECTION in uri else None


def rich_text(text: str, facets: list[Any]) -> str:
    """The text with each link facet's shown text replaced by its full URI.

    Facet offsets count bytes of the UTF-8 text. A facet that does not fall on
    character boundaries, or overlaps another, is left as it is."""
    data = text.encode("utf-8")
    links = sorted(link for facet in facets if (link := _link_facet(facet, len(data))))
    parts: list[str] = []
    position = 0
    for start, end, uri in links:
        if start < position:
            continue
        try:
            before = data[position:start].decode("utf-8")
            shown = data[start:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
        parts += [before, _link_text(shown, uri)]
        position = end
    try:
        parts.append(data[position:].decode("utf-8"))
    except UnicodeDecodeError:
        return text
    return "".join(parts)


def _link_facet(facet: object, size: int) -> tuple[int, int, str] | None:
    facet = dict_or_empty(facet)
    index = dict_or_empty(facet.get("index"))
    start, end = int_or_none(index.get("byteStart")), int_or_none(index.get("byteEnd"))
    if start is None or end is None or not 0 <= start < end <= size:
        return None
    for feature in list_or_empty(facet.get("features")):
        feature = dict_or_empty(feature)
        uri = text_of(feature, "uri")
        if uri and (text_of(feature, "$type") or "").endswith("#link"):
            return start, end, uri
    return None


def _link_text(shown: str, uri: str) -> str:
    bare = shown.strip().removesuffix("...").removesuffix("…")
    bare = bare.removeprefix("https://").removeprefix("http://")
    full = uri.removeprefix("https://").removeprefix("http://")
    if bare and full.startswith(bare):
        return uri
    return f"{shown} ({uri})"


def _extra(
    entry: dict[str, Any], post: dict[str, Any], record: dict[str, Any], author: dict[str, Any]
) -> dict[str, Any]:
    extra: dict[str, Any] = {"handle": text_of(author, "handle"), "did": text_of(author, "did")}
    extra["metrics"] = {
        key: post[key]
        for key in ("replyCount", "repostCount", "likeCount", "quoteCount", "bookmarkCount")
        if isinstance(post.get(key), int)
    }
    langs = list_or_empty(record.get("langs"))
    if langs:
        extra["langs"] = langs
    reply = dict_or_empty(record.get("reply"))
    if reply:
        extra["reply_root"] = text_of(dict_or_empty(reply.get("root")), "uri")
        parent_view = dict_or_empty(dict_or_empty(entry.get("reply")).get("parent"))
        parent_author = dict_or_empty(parent_view.get("author"))
        if parent_author:
            extra["reply_to_author"] = text_of(parent_author, "handle")
            uri = text_of(parent_view, "uri") or ""
            extra["reply_to_url"] = post_url(uri, text_of(parent_author, "handle"))
    features = [
        dict_or_empty(feature)
        for facet in list_or_empty(record.get("facets"))
        for feature in list_or_empty(dict_or_empty(facet).get("features"))
    ]
    for kind, key, name in (("#mention", "did", "mentions"), ("#tag", "tag", "tags")):
        values = [text_of(f, key) for f in features if (text_of(f, "$type") or "").endswith(kind)]
        if any(values):
            extra[name] = [value for value in values if value]
    labels = [text_of(dict_or_empty(label), "val") for label in list_or_empty(post.get("labels"))]
    if any(labels):
        extra["labels"] = [label for label in labels if label]
    extra.update(_embed(dict_or_empty(post.get("embed"))))
    return extra


def _embed(view: dict[str, Any]) -> dict[str, Any]:
    """Media, link card and quoted post of a post's embed view."""
    found: dict[str, Any] = {}
    kind = text_of(view, "$type") or ""
    if kind.endswith("recordWithMedia#view"):
        found.update(_embed(dict_or_empty(view.get("media"))))
        view = {"$type": "app.bsky.embed.record#view", "record": view.get("record")}
        kind = "app.bsky.embed.record#view"
    if kind.endswith("images#view"):
        images = [dict_or_empty(image) for image in list_or_empty(view.get("images"))]
        found["images"] = [
            {"url": text_of(image, "fullsize"), "alt": text_of(image, "alt")} for image in images
        ]
    elif kind.endswith("external#view"):
        external = dict_or_empty(view.get("external"))
        found["external"] = {key: text_of(external, key) for key in ("uri", "title", "description")}
    elif kind.endswith("video#view"):
        found["video"] = {key: text_of(view, key) for key in ("playlist", "thumbnail", "alt")}
    elif kind.endswith("record#view"):
        record = dict_or_empty(view.get("record"))
        if "record" in record and "uri" not in record:  # recordWithMedia's inner view
            record = dict_or_empty(record.get("record"))
        found["quote" if _POST_COLLECTION in (text_of(record, "uri") or "") else "record"] = (
            _quoted(record)
        )
    return found


def _quoted(record: dict[str, Any]) -> dict[str, Any]:
    author = dict_or_empty(record.get("author") or record.get("creator"))
    value = dict_or_empty(record.get("value") or record.get("record"))
    uri = text_of(record, "uri") or ""
    return {
        "uri": uri,
        "url": post_url(uri, text_of(author, "handle")),
        "author": text_of(author, "handle"),
        "text": text_of(value, "text") or text_of(value, "name"),
        "type": text_of(record, "$type"),
    }
