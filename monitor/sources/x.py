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

import html
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from monitor.config import Source, XSource
from monitor.errors import FetchError, HTTPStatusError, ParseError
from monitor.http import HttpClient, HttpResponse
from monitor.sources.base import FetchResult, FetchState, ParseContext, Post
from monitor.sources.jsonapi import (
    ApiError,
    Listing,
    as_dict,
    as_list,
    decode_json,
    dict_or_empty,
    int_or_none,
    list_or_empty,
    parse_time,
    profile_url,
    recheck_boundary,
    text_of,
)
from monitor.text.html import normalize_whitespace

API = "https://api.x.com"
API_HOSTS = {"x.com": API, "twitter.com": API}
TWEET_FIELDS = (
    "created_at,lang,referenced_tweets,conversation_id,in_reply_to_user_id,"
    "public_metrics,entities,edit_history_tweet_ids,author_id,note_tweet"
)
EXPANSIONS = "referenced_tweets.id,author_id,referenced_tweets.id.author_id"
RATE_WINDOW_SECONDS = 15 * 60  # X's rate-limit window, when an answer names no reset
_SNOWFLAKE_EPOCH_MS = 1288834974657
_RT_PREFIX = re.compile(r"^RT @(\w{1,15}): ")


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
        blocked_until = _number(cursor.get("blocked_until"))
        if blocked_until is not None and blocked_until > now:
            url = f"{self.api_base}/2/users/{text_of(cursor, 'user_id')}/tweets"
            raise self._rate_limited(url, blocked_until - now, "no requests left until the reset")
        listing = Listing()
        user_id = text_of(cursor, "user_id") or self._lookup(http, listing)
        newest = int_or_none(cursor.get("newest_id"))
        boundary = int_or_none(cursor.get("since_id"))
        rechecked_at = _number(cursor.get("rechecked_at")) or 0.0
        due = newest is None or now - rechecked_at >= self.recheck_every
        since = boundary if due else newest
        last, exhausted = self._pages(http, user_id, since, newest is None, listing)
        listing.posts = _latest_versions(listing.posts)
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
            listing.add_page(response, _tweets(document))
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
        reset = _number(headers.get("x-rate-limit-reset"))
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
        return _latest_versions(_tweets(document))


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _tweets(document: dict[str, Any]) -> list[Post]:
    data = document.get("data")
    if data is None:
        errors = list_or_empty(document.get("errors"))
        if errors and "meta" not in document:
            details = [text_of(dict_or_empty(e), "detail") or str(e) for e in errors]
            raise ParseError(f"X API answered with errors only: {'; '.join(details)}")
        if "errors" not in document and "meta" not in document:
            raise ParseError("X API answer has neither 'data' nor 'meta'")
        return []  # no tweets (nothing newer than since_id)
    items = [data] if isinstance(data, dict) else as_list(data, "X API 'data'")
    includes = dict_or_empty(document.get("includes"))
    users = _by_id(includes.get("users"))
    referenced = _by_id(includes.get("tweets"))
    return [
        _post(as_dict(item, f"tweet #{index}"), users, referenced)
        for index, item in enumerate(items)
    ]


def _by_id(items: object) -> dict[str, dict[str, Any]]:
    found = (dict_or_empty(item) for item in list_or_empty(items))
    return {key: item for item in found if (key := text_of(item, "id"))}


def _post(
    tweet: dict[str, Any], users: dict[str, dict[str, Any]], referenced: dict[str, dict[str, Any]]
) -> Post:
    tweet_id = text_of(tweet, "id") or ""
    if not tweet_id.isdigit():
        raise ParseError(f"tweet has no numeric 'id': {tweet.get('id')!r}")
    history = [str(i) for i in list_or_empty(tweet.get("edit_history_tweet_ids"))]
    original_id = history[0] if history and history[0].isdigit() else tweet_id
    created = parse_time(tweet.get("created_at"), f"tweet {tweet_id} created_at")
    edited = original_id != tweet_id
    published = _snowflake_time(original_id) if edited else created or _snowflake_time(tweet_id)
    author = users.get(text_of(tweet, "author_id") or "", {})
    refs = _references(tweet)
    original = referenced.get(refs.get("retweeted", ""))
    refs = {**refs, **_references(original or {})}  # a retweet: the original's relations
    extra = _extra(tweet, author, referenced.get(refs.get("quoted", ""), {}), users)
    text, url, forwarded_from = _shown(tweet, author, refs.get("retweeted"), original, users)
    if "retweeted" in refs:
        extra["retweet_of"] = refs["retweeted"]
    if edited:
        extra["edit_history"] = history
        extra["edited_at"] = created.isoformat() if created else None
    return Post(
        external_id=original_id,
        text=text,
        url=url,
        author=text_of(author, "name") or text_of(author, "username"),
        published_at=published,
        language=text_of(original or tweet, "lang"),
        reply_to=refs.get("replied_to"),
        quote_of=refs.get("quoted"),
        forwarded_from=forwarded_from,
        sort_key=int(tweet_id),
        extra=extra,
    )


def _shown(
    tweet: dict[str, Any],
    author: dict[str, Any],
    retweeted_id: str | None,
    original: dict[str, Any] | None,
    users: dict[str, dict[str, Any]],
) -> tuple[str, str, str | None]:
    """Text, link and forwarded-from of a tweet: for a retweet, the original's.

    A tweet without ``referenced_tweets`` (an answer that did not ask for them)
    is taken for a retweet when its text starts with "RT @name: "."""
    tweet_id = text_of(tweet, "id") or ""
    prefix = _RT_PREFIX.match(html.unescape(text_of(tweet, "text") or ""))
    if retweeted_id is None and (prefix is None or "referenced_tweets" in tweet):
        return _text(tweet), _link(text_of(author, "username"), tweet_id), None
    original_author = users.get(text_of(original or {}, "author_id") or "", {})
    name = text_of(original_author, "username") or (prefix.group(1) if prefix else None)
    text = _text(original) if original else _RT_PREFIX.sub("", _text(tweet))
    if retweeted_id is None:
        return text, _link(text_of(author, "username"), tweet_id), f"@{name}"
    return text, _link(name, retweeted_id), f"@{name}" if name else None


def _references(tweet: dict[str, Any]) -> dict[str, str]:
    found = (dict_or_empty(ref) for ref in list_or_empty(tweet.get("referenced_tweets")))
    pairs = ((text_of(ref, "type"), text_of(ref, "id")) for ref in found)
    return {kind: ref_id for kind, ref_id in pairs if kind and ref_id}


def _text(tweet: dict[str, Any]) -> str:
    """The tweet's text as read: entities unescaped, t.co links expanded."""
    note = dict_or_empty(tweet.get("note_tweet"))
    source = note if text_of(note, "text") else tweet
    text = html.unescape(text_of(source, "text") or "")
    for url in list_or_empty(dict_or_empty(source.get("entities")).get("urls")):
        entity = dict_or_empty(url)
        short = text_of(entity, "url")
        full = text_of(entity, "unwound_url") or text_of(entity, "expanded_url")
        if short and full:
            text = text.replace(short, full)
    return normalize_whitespace(text)


def _link(username: str | None, tweet_id: str) -> str:
    return f"https://x.com/{username or 'i/web'}/status/{tweet_id}"


def _snowflake_time(tweet_id: str) -> datetime | None:
    value = int(tweet_id)
    if value < 10**12:  # ids from before snowflakes (2010) hold no time
        return None
    return datetime.fromtimestamp(((value >> 22) + _SNOWFLAKE_EPOCH_MS) / 1000, tz=UTC)


def _extra(
    tweet: dict[str, Any],
    author: dict[str, Any],
    quoted: dict[str, Any],
    users: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    extra: dict[str, Any] = {"tweet_id": text_of(tweet, "id")}
    for key in ("username", "name"):
        if text_of(author, key):
            extra[key] = text_of(author, key)
    for key in ("author_id", "conversation_id", "in_reply_to_user_id"):
        if text_of(tweet, key):
            extra[key] = text_of(tweet, key)
    metrics = dict_or_empty(tweet.get("public_metrics"))
    if metrics:
        extra["metrics"] = metrics
    entities = dict_or_empty(tweet.get("entities"))
    for kind, key in (("hashtags", "tag"), ("mentions", "username")):
        values = [text_of(dict_or_empty(e), key) for e in list_or_empty(entities.get(kind))]
        if any(values):
            extra[kind] = [value for value in values if value]
    if quoted:
        quoted_author = users.get(text_of(quoted, "author_id") or "", {})
        extra["quote"] = {"text": _text(quoted), "username": text_of(quoted_author, "username")}
    return extra


def _latest_versions(posts: list[Post]) -> list[Post]:
    """One post per original tweet: its latest version (the highest id), in listing order."""
    latest: dict[str, Post] = {}
    for post in posts:
        kept = latest.get(post.external_id)
        if kept is None or (post.sort_key or 0) > (kept.sort_key or 0):
            latest[post.external_id] = post
    return [post for post in posts if latest[post.external_id] is post]
