"""X (Twitter): a user's timeline through the X API v2, with a bearer token.

Address: ``handle: NAME``, asked at https://api.x.com; or ``url:`` the
PROFILE page ``https://x.com/NAME`` (twitter.com too), which is asked at
https://api.x.com as well. On any other host (a local test server, a proxying
mirror: ``http://127.0.0.1:PORT/NAME``) the same API paths are asked on that
host. ``bearer_token`` (``${X_BEARER_TOKEN}``) is required; it is sent as
``Authorization: Bearer`` and never written anywhere. Without an API account,
point a ``kind: rss`` source at an RSS bridge (RSSHub ``/twitter/user/NAME``,
a Nitter instance's ``/NAME/rss``) instead.

Fetching:

1. ``GET /2/users/by/username/NAME`` once; the user id is kept in the cursor.
2. ``GET /2/users/:id/tweets`` with ``TWEET_FIELDS`` (``note_tweet`` among
   them: the full text of a long post) and ``EXPANSIONS`` (the referenced
   tweets and their authors: a retweet's full text and who wrote it),
   ``max_results=100``, ``since_id``, then ``pagination_token``
   (meta.next_token), at most ``max_pages`` pages a poll (one on the first).

The API sends no validators, so there is no conditional GET; and reads cost
money on X, so a poll asks only for what is newer than the newest
tweet known (``since_id`` = ``newest_id`` of the cursor). An edit on X makes
a new tweet id, so edits come in with that listing by themselves. Deletions
do not: once every ``recheck_every`` (an hour) the poll asks from just below
the ``recheck`` (20) newest known tweets instead, so they are listed again and
one that is missing from a listing covering its place is marked deleted.

Rate limits: each answer's ``x-rate-limit-remaining`` and
``x-rate-limit-reset`` are read. When none are left, the next request is not
made: the poll fails with an ``ApiError`` (HTTP 429) whose retry_after is the
time until the reset, so the source backs off until then; when the last
answer of a successful poll said none are left, the reset time is kept in the
cursor and the next poll before it fails the same way without asking (its
fetch run shows 429, though nothing was asked). A 429
from the API gives the same error (Retry-After, else the reset header, else
the 15-minute window).

Posts: external_id is the ORIGINAL tweet id (edit_history_tweet_ids[0]), so
an edited tweet becomes a new version of the same statement; sort_key is the
listed (latest) id, a snowflake. Text has the HTML entities the API escapes
undone and t.co links replaced by their expanded URLs; a long post's full
text comes from ``note_tweet``. A retweet is kept as a post of its own (it is
a signal) with the original's full text (from the expansion; without it, the
"RT @name: " prefix is dropped), forwarded_from = "@name" of the original
author and its link; reply_to / quote_of are the replied-to / quoted tweet ids
(of the original, for a retweet). published_at is the original's creation
time (its snowflake, for an edited tweet); extra keeps metrics, the author's
username, the conversation, the edit history and the quoted tweet's text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from monitor.config import Source, XSource
from monitor.errors import FetchError, HTTPStatusError
from monitor.http import HttpClient, HttpResponse
from monitor.sources.base import FetchResult, FetchState, ParseContext, Post
from monitor.sources.jsonapi import (
    ApiError,
    Listing,
    as_dict,
    decode_json,
    dict_or_empty,
    int_or_none,
    list_or_empty,
    profile_url,
    recheck_boundary,
    text_of,
)
from monitor.sources.x_parse import latest_versions, number, tweets

API = "https://api.x.com"
API_HOSTS = {"x.com": API, "twitter.com": API}
TWEET_FIELDS = (
    "created_at,lang,referenced_tweets,conversation_id,in_reply_to_user_id,"
    "public_metrics,entities,edit_history_tweet_ids,author_id,note_tweet"
)
EXPANSIONS = "referenced_tweets.id,author_id,referenced_tweets.id.author_id"
RATE_WINDOW_SECONDS = 15 * 60  # X's rate-limit window, when an answer names no reset


class XAdapter:
    kind: ClassVar[str] = "x"

    def __init__(
        self,
        source_id: str,
        api_base: str,
        handle: str,
        bearer_token: str | None,
        proxy: str | None = None,
        *,
        page_size: int = 100,
        max_pages: int = 5,
        recheck: int = 20,
        recheck_every: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source_id = source_id
        self.api_base = api_base.rstrip("/")
        self.handle = handle
        self._token = bearer_token
        self.proxy = proxy
        self.page_size = page_size
        self.max_pages = max_pages
        self.recheck = recheck
        self.recheck_every = recheck_every
        self.clock = clock

    def __repr__(self) -> str:  # never the token
        return f"XAdapter({self.source_id!r}, {self.api_base!r}, {self.handle!r})"

    @classmethod
    def from_source(cls, source: Source) -> XAdapter:
        if not isinstance(source, XSource):
            raise TypeError(f"not an x source: {source.kind}")
        token = source.bearer_token.get_secret_value() if source.bearer_token else None
        if source.handle is not None:
            return cls(source.id, API, source.handle, token or None, source.proxy)
        assert source.url is not None  # the config demands one of the two
        profile = profile_url(source.url, API_HOSTS, "x")
        return cls(source.id, profile.api_base, profile.account, token or None, source.proxy)

    def fetch(self, http: HttpClient, state: FetchState) -> FetchResult:
        if not self._token:
            raise FetchError(
                f"x source {self.source_id} needs bearer_token (X API v2); or point a "
                "kind: rss source at an RSS bridge for the account"
            )
        cursor = state.cursor
        now = self.clock()
        blocked_until = number(cursor.get("blocked_until"))
        if blocked_until is not None and blocked_until > now:
            url = f"{self.api_base}/2/users/{text_of(cursor, 'user_id')}/tweets"
            raise self._rate_limited(url, blocked_until - now, "no requests left until the reset")
        listing = Listing()
        user_id = text_of(cursor, "user_id") or self._lookup(http, listing)
        newest = int_or_none(cursor.get("newest_id"))
        boundary = int_or_none(cursor.get("since_id"))
        rechecked_at = number(cursor.get("rechecked_at")) or 0.0
        due = newest is None or now - rechecked_at >= self.recheck_every
        since = boundary if due else newest
        last, exhausted = self._pages(http, user_id, since, newest is None, listing)
        listing.posts = latest_versions(listing.posts)
        keys = listing.keys()
        next_cursor: dict[str, Any] = {
            "user_id": user_id,
            "rechecked_at": now if due else rechecked_at,
        }
        newest = max([*keys, newest or 0]) or None
        if newest is not None:
            next_cursor["newest_id"] = str(newest)
        boundary = recheck_boundary(keys, self.recheck, boundary)
        if boundary is not None:
            next_cursor["since_id"] = str(boundary)
        wait = self._exhausted_for(last)
        if wait is not None:
            next_cursor["blocked_until"] = now + wait
        return listing.result(next_cursor, listing.window(exhausted=exhausted, lower=since))

    def _pages(
        self, http: HttpClient, user_id: str, since: int | None, first_poll: bool, listing: Listing
    ) -> tuple[HttpResponse, bool]:
        """Read the timeline newer than ``since``, page by page; the last answer, and
        whether the listing ran out (rather than being cut by the page bound)."""
        url = f"{self.api_base}/2/users/{user_id}/tweets"
        params = {
            "max_results": str(self.page_size),
            "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS,
        }
        if since is not None:
            params["since_id"] = str(since)
        allowed = 1 if first_poll else self.max_pages
        while True:
            response = self._get(http, url, params)
            document = as_dict(decode_json(response.body, f"X API answer from {url}"), "answer")
            listing.add_page(response, tweets(document))
            token = text_of(dict_or_empty(document.get("meta")), "next_token")
            if not token:
                return response, True
            if listing.pages >= allowed:
                return response, False
            wait = self._exhausted_for(response)
            if wait is not None:
                raise self._rate_limited(url, wait, "no requests left for the next page")
            params = {**params, "pagination_token": token}

    def _lookup(self, http: HttpClient, listing: Listing) -> str:
        url = f"{self.api_base}/2/users/by/username/{self.handle}"
        response = self._get(http, url, None)
        listing.note(response)
        what = f"X user lookup from {url}"
        document = as_dict(decode_json(response.body, what), what)
        user = dict_or_empty(document.get("data"))
        user_id = text_of(user, "id")
        if user_id:
            return user_id
        errors = [dict_or_empty(error) for error in list_or_empty(document.get("errors"))]
        detail = "; ".join(filter(None, (text_of(e, "detail") for e in errors))) or "no data"
        raise FetchError(f"X account @{self.handle} not found: {detail}")

    def _get(self, http: HttpClient, url: str, params: dict[str, str] | None) -> HttpResponse:
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            return http.get(url, headers=headers, params=params, proxy=self.proxy)
        except HTTPStatusError as exc:
            if exc.status == 429:
                wait = exc.retry_after
                if wait is None:
                    wait = self._reset_in(exc.headers)
                raise self._rate_limited(url, wait, "HTTP 429 Too Many Requests") from exc
            if exc.status in (401, 403):
                raise ApiError(
                    exc.url,
                    exc.status,
                    f"X API refused source {self.source_id}'s bearer token (HTTP {exc.status} "
                    f"from {url}): is it valid, and does its access level include timelines?",
                ) from exc
            raise

    def _exhausted_for(self, response: HttpResponse) -> float | None:
        """Seconds until the rate limit resets, when the answer said none are left."""
        if response.headers.get("x-rate-limit-remaining", "").strip() != "0":
            return None
        return self._reset_in(response.headers)

    def _reset_in(self, headers: Mapping[str, str]) -> float:
        reset = number(headers.get("x-rate-limit-reset"))
        if reset is None:
            return float(RATE_WINDOW_SECONDS)
        return max(reset - self.clock(), 1.0)

    def _rate_limited(self, url: str, wait: float, why: str) -> ApiError:
        message = (
            f"X rate limit reached for source {self.source_id} ({why}); next request in {wait:.0f}s"
        )
        return ApiError(url, 429, message, retry_after=wait)

    @classmethod
    def parse(cls, body: bytes, context: ParseContext) -> list[Post]:
        """An X API v2 answer whose ``data`` is a list of tweets or one tweet."""
        document = as_dict(decode_json(body, "X API answer"), "X API answer")
        return latest_versions(tweets(document))
