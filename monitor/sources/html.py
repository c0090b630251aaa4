"""A website's statements page (kind: html), read with the source's CSS selectors.

Parsing is in ``html_page`` (selectors) and ``html_dates`` (dates); this module
fetches: the listing with conditional GET, then, with ``follow: true``, each
new item's own page.

Deletion windows. A stored post missing from a later listing is deleted only
if the listing still covers its place, so posts that merely scrolled off the
page are not. A listing covers a stretch when it is ordered by its sort keys
(``html_page``) at two polls in a row (one ordered listing can be chance):

- keys from ids (every id ends in a number): strictly monotone, either way;
  the window is [lowest, highest] of them;
- keys from dates (every item has an absolute date): monotone, either way; the
  window is (oldest, newest]: other posts of the oldest time shown may have
  just scrolled off, so that very time is left out;
- otherwise (relative dates, missing dates, ids without numbers, a curated
  order) no window: deletions go unnoticed rather than being invented.

``follow: true``: each item not followed before (the cursor keeps the ids
followed that are still listed) has its link fetched, at most
``follow_limit`` per poll, first listed first; the rest wait for the next
poll, which then skips conditional GET so a quiet site cannot stall them. The
post's text is ``selectors.body`` of that page (every match, joined) and its
title the item's text in the listing; ``date`` and ``author`` come from the
item, else from the followed page. A link from a public page to a private,
loopback or link-local address is not followed (the rule redirects obey, see
``monitor.netguard``). A page that is gone (4xx other than 429) or too big, or
where ``body`` matches nothing, gives the listing's text with
``extra["follow_error"]`` saying why; a 429, a 5xx or a network failure fails
the poll (recorded, backed off, retried in full: nothing is lost). Followed
posts are read once, so later edits of their pages are not seen; the items
followed before are reported as ``seen_ids``, so deletion windows work as
without ``follow`` (none while some items still wait to be followed).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from monitor.config import HtmlSource, Selectors
from monitor.errors import HTTPStatusError, ParseError, ResponseTooLarge
from monitor.http import HttpClient
from monitor.netguard import redirect_refusal
from monitor.sources.base import (
    FetchResult,
    FetchState,
    ParseContext,
    Post,
    RawResponse,
    Validators,
    Window,
)
from monitor.sources.html_dates import parse_date
from monitor.sources.html_page import (
    Basis,
    Field,
    Listing,
    parse_listing,
    parse_page,
    read_value,
    select_text,
    soup_of,
)

FOLLOW_LIMIT = 10


class HtmlAdapter:
    kind: ClassVar[str] = "html"

    def __init__(
        self,
        url: str,
        selectors: Selectors,
        *,
        follow: bool = False,
        proxy: str | None = None,
        timezone: tzinfo | None = None,
        follow_limit: int = FOLLOW_LIMIT,
    ) -> None:
        if follow and selectors.body is None:
            raise ValueError("follow needs selectors.body")
        self.url = url
        self.selectors = selectors
        self.follow = follow
        self.proxy = proxy
        self.timezone = timezone  # for times printed without a zone; None: UTC
        self.follow_limit = follow_limit

    @classmethod
    def from_source(cls, source: HtmlSource) -> HtmlAdapter:
        return cls(
            source.url,
            source.selectors,
            follow=source.follow,
            proxy=source.proxy,
            timezone=ZoneInfo(source.timezone) if source.timezone else None,
        )

    @classmethod
    def parse(cls, body: bytes, context: ParseContext) -> list[Post]:
        """The kind-wide parser of the adapter interface: an html page means nothing
        without a source's selectors, so this only says how to parse one."""
        raise ParseError(
            "the html kind needs a source's selectors: "
            "HtmlAdapter.from_source(source).parse_body(body, context)"
        )

    def parse_body(
        self, body: bytes, context: ParseContext, *, now: datetime | None = None
    ) -> list[Post]:
        """The posts this source's selectors find on a saved page (``monitor parse``);
        links resolve against the context's URL, else the source's own."""
        if context.url is None:
            context = replace(context, url=self.url)
        return parse_page(body, context, self.selectors, now=now, timezone=self.timezone)

    def fetch(self, http: HttpClient, state: FetchState) -> FetchResult:
        cursor = state.cursor
        # Items left unfollowed last time must not wait for the listing to change.
        validators = Validators() if cursor.get("pending") else state.validators
        response = http.get(
            self.url, etag=validators.etag, last_modified=validators.last_modified, proxy=self.proxy
        )
        if response.not_modified:
            kept = Validators(
                etag=response.etag or validators.etag,
                last_modified=response.last_modified or validators.last_modified,
            )
            return FetchResult(posts=[], validators=kept, not_modified=True, http_status=304)
        listing = parse_listing(
            response.body,
            ParseContext(response.url, response.content_type),
            self.selectors,
            now=datetime.now(UTC),
            timezone=self.timezone,
        )
        ordered_by = ordered_basis(listing)
        new_cursor: dict[str, Any] = {"ordered_by": ordered_by}
        responses = [RawResponse.of(response)]
        windows: list[Window] = []
        seen_ids: list[str] = []
        if self.follow:
            posts, followed, pending = self._follow_new(http, listing.posts, cursor, responses)
            new_cursor.update(followed=followed, pending=pending)
            shown = {post.external_id for post in posts}
            seen_ids = [i for i in followed if i not in shown]
        else:
            posts = [replace(post, response=0) for post in listing.posts]
        # Items left for a later poll are neither shown nor seen, yet may be stored (a
        # source whose cursor was reset re-follows its listing): no window until all are.
        if not new_cursor.get("pending") and cursor.get("ordered_by") == ordered_by:
            window = listing_window(listing)
            windows = [window] if window else []
        return FetchResult(
            posts=posts,
            validators=Validators(response.etag, response.last_modified),
            cursor=new_cursor,
            windows=windows,
            http_status=response.status,
            bytes_read=sum(len(raw.body) for raw in responses),
            responses=responses,
            seen_ids=seen_ids,
        )

    def _follow_new(
        self,
        http: HttpClient,
        listed: Sequence[Post],
        cursor: Mapping[str, Any],
        responses: list[RawResponse],
    ) -> tuple[list[Post], list[str], bool]:
        """Posts for the items not followed before; the ids followed; whether some wait."""
        done = set(cursor.get("followed") or ())
        posts: list[Post] = []
        followed: list[str] = []
        budget = self.follow_limit
        pending = False
        for post in listed:
            if post.external_id not in done:
                if post.url is None:  # nothing to follow: the listing is all there is
                    posts.append(replace(post, response=0))
                elif budget > 0:
                    budget -= 1
                    posts.append(self._followed(http, post, responses))
                else:
                    pending = True
                    continue
            followed.append(post.external_id)
        return posts, followed, pending

    def _followed(self, http: HttpClient, post: Post, responses: list[RawResponse]) -> Post:
        assert post.url is not None
        # A link is page content: a public page must not send us into our own network.
        refusal = redirect_refusal(self.url, post.url)
        if refusal is not None:
            return _unfollowed(post, refusal.replace("redirect", "link", 1))
        try:
            response = http.get(post.url, proxy=self.proxy)
        except HTTPStatusError as exc:
            if exc.status == 429 or exc.status >= 500:
                raise
            return _unfollowed(post, str(exc))
        except ResponseTooLarge as exc:
            return _unfollowed(post, str(exc))
        responses.append(RawResponse.of(response))
        index = len(responses) - 1
        context = ParseContext(response.url, response.content_type)
        body_selector = self.selectors.body or ""
        try:
            page = soup_of(response.body, context)
        except ParseError as exc:
            return _unfollowed(post, str(exc), index)
        text = select_text(page, body_selector)
        if not text:
            return _unfollowed(
                post, f"selector {body_selector!r} matched nothing on {response.url}", index
            )
        published_at, author = post.published_at, post.author
        if published_at is None and self.selectors.date:
            date_text = read_value(page, Field.of(self.selectors.date))
            parsed = parse_date(date_text, now=datetime.now(UTC), tz=self.timezone)
            published_at = parsed.when if parsed else None
        if author is None and self.selectors.author:
            author = read_value(page, Field.of(self.selectors.author))
        return replace(
            post,
            title=post.text or None,
            text=text,
            published_at=published_at,
            author=author,
            response=index,
        )


def _unfollowed(post: Post, error: str, response: int = 0) -> Post:
    return replace(post, response=response, extra={**post.extra, "follow_error": error})


def ordered_basis(listing: Listing) -> Basis | None:
    """The listing's sort-key basis if the page is ordered by it, else None."""
    keys = [post.sort_key for post in listing.posts if post.sort_key is not None]
    if listing.basis is None or len(keys) < 2 or len(keys) < len(listing.posts):
        return None
    steps = [b - a for a, b in itertools.pairwise(keys)]
    if listing.basis == "id":  # ids are unique: strictly ordered
        ordered = all(step < 0 for step in steps) or all(step > 0 for step in steps)
    else:
        ordered = all(step <= 0 for step in steps) or all(step >= 0 for step in steps)
    return listing.basis if ordered else None


def listing_window(listing: Listing) -> Window | None:
    """The stretch of sort keys an ordered listing covers (see the module docstring)."""
    if ordered_basis(listing) is None:
        return None
    keys = [post.sort_key for post in listing.posts if post.sort_key is not None]
    low, high = min(keys), max(keys)
    if listing.basis == "date":
        low += 1
    return Window(low, high) if low <= high else None
