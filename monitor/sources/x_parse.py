"""X API v2 answers to posts: the pure half of the x adapter (see monitor.sources.x).

Posts: external_id is the ORIGINAL tweet id (edit_history_tweet_ids[0]), so an
edited tweet becomes a new version of the same statement; sort_key is the
listed (latest) id, a snowflake. Text has the HTML entities the API escapes
undone and t.co links replaced by their expanded URLs; a long post's full text
comes from ``note_tweet``. A retweet is a post of its own with the original's
text and ``forwarded_from`` = "@name" of the original author.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from monitor.errors import ParseError
from monitor.sources.base import Post
from monitor.sources.jsonapi import (
    as_dict,
    as_list,
    dict_or_empty,
    list_or_empty,
    parse_time,
    text_of,
)
from monitor.text.html import normalize_whitespace

_SNOWFLAKE_EPOCH_MS = 1288834974657
_RT_PREFIX = re.compile(r"^RT @(\w{1,15}): ")


def number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def tweets(document: dict[str, Any]) -> list[Post]:
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


def latest_versions(posts: list[Post]) -> list[Post]:
    """One post per original tweet: its latest version (the highest id), in listing order."""
    latest: dict[str, Post] = {}
    for post in posts:
        kept = latest.get(post.external_id)
        if kept is None or (post.sort_key or 0) > (kept.sort_key or 0):
            latest[post.external_id] = post
    return [post for post in posts if latest[post.external_id] is post]
