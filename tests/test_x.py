"""The x adapter: its parser on the real X API v2 captures, its fetch against a fake X
API on loopback that answers with those very captures and the real API's headers,
an X account read through an RSS bridge, and a poll end to end on both databases."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select

from monitor.config import XSource
from monitor.demo.server import FeedServer
from monitor.errors import FetchError, HTTPStatusError, ParseError
from monitor.http import HttpClient, HttpSettings
from monitor.pipeline import poll_source
from monitor.sources import registry
from monitor.sources.base import FetchState, ParseContext, Post, Window
from monitor.sources.jsonapi import MAX_KEY
from monitor.sources.rss import RssAdapter
from monitor.sources.x import EXPANSIONS, TWEET_FIELDS, XAdapter
from monitor.store.models import SourceState, Statement
from monitor.store.session import Database
from tests.conftest import real_fixture
from tests.helpers import config_for, runtime_for

NOW = 1_795_165_200.0  # 2026-11-20 09:00 UTC: the fake clock of the adapter
RESET = int(NOW) + 600
JSON = "application/json; charset=utf-8"
# The answers' headers as the real API sends them (tweepy's recorded
# GET /2/users/783214/tweets, cassettes/test_client_get_users_tweets.yaml).
X_HEADERS = {
    "api-version": "2.52",
    "cache-control": "no-cache, no-store, max-age=0",
    "content-disposition": "attachment; filename=json.json",
    "x-access-level": "read",
    "x-rate-limit-limit": "1500",
    "x-rate-limit-remaining": "1498",
    "x-rate-limit-reset": str(RESET),
}
# The real answer of GET /2/users/by/username/Twitter (tweepy's test_client_get_user.yaml).
USER_TWITTER = b'{"data":{"id":"783214","name":"Twitter","username":"Twitter"}}'
LOOKUP = "/2/users/by/username/Twitter"
TIMELINE = "/2/users/783214/tweets"


def capture(name: str) -> bytes:
    return real_fixture(f"x/{name}").read_bytes()


def parse(name: str) -> list[Post]:
    return XAdapter.parse(capture(name), ParseContext())


def by_id(posts: list[Post]) -> dict[str, Post]:
    return {post.external_id: post for post in posts}


# --- the parser on the real captures ------------------------------------------------


def test_user_timeline_with_default_fields() -> None:
    posts = parse("tweepy_v2_users_783214_tweets.json")
    assert [post.external_id for post in posts] == ["1577730467436138524", "1565318587736285184"]
    assert posts[0].text.startswith("whoa, it works\n\nnow everyone can mix GIFs")
    # No created_at was asked for: the time is the snowflake's.
    assert posts[0].published_at == datetime(2022, 10, 5, 18, 40, 30, 908000, tzinfo=UTC)
    assert posts[0].sort_key == 1577730467436138524
    assert posts[0].url == "https://x.com/i/web/status/1577730467436138524"  # no user expansion


def test_home_timeline_edits_retweets_and_entities() -> None:
    posts = parse("tweepy_v2_home_timeline_reverse_chronological.json")
    assert len(posts) == 98
    edited = by_id(posts)["1577158996984987648"]  # the ORIGINAL id of a tweet edited twice
    assert edited.sort_key == 1577162244978139137  # the latest version, as listed
    assert edited.text == "I hope I’m not mistaken. Fixed it. https://t.co/6o0rdokH3t"
    assert edited.published_at == datetime(2022, 10, 4, 4, 49, 41, 735000, tzinfo=UTC)
    assert edited.extra["edit_history"] == [
        "1577158996984987648",
        "1577159100026490881",
        "1577162244978139137",
    ]
    assert edited.url == "https://x.com/i/web/status/1577162244978139137"
    assert sum(post.forwarded_from is not None for post in posts) == 29  # "RT @name: " texts
    assert not any("&amp;" in post.text or "RT @" in post.text[:4] for post in posts)
    trivia = by_id(posts)["1578095129495482369"]
    assert trivia.text.startswith("So @alanbenlee @snowman & I are testing")


def test_list_tweets_and_single_tweet() -> None:
    posts = parse("tweepy_v2_list_tweets.json")
    assert len(posts) == 97
    assert sum(post.forwarded_from is not None for post in posts) == 51
    newyorker = by_id(posts)["1578505292156764160"]
    assert newyorker.forwarded_from == "@NewYorker"
    assert newyorker.text.startswith("Watch a live discussion with @hasanminhaj")
    (single,) = parse("tweepy_v2_single_tweet.json")  # data is one object
    assert single.external_id == "1293593516040269825"
    assert single.text.startswith("It’s finally here! 🥁 Say hello to the new #TwitterAPI.")


def test_search_answer_with_references_entities_and_languages() -> None:
    posts = parse("v2_search_with_referenced_tweets_entities.json")
    assert len(posts) == 10
    tweets = by_id(posts)
    retweet = tweets["1275840892285399041"]
    assert retweet.forwarded_from == "@skipbolden"
    assert retweet.text.startswith("It's 1963 in The Bronx, NYC.")  # "RT @skipbolden: " dropped
    assert retweet.url == "https://x.com/skipbolden/status/1275809336988557314"
    assert retweet.extra["retweet_of"] == "1275809336988557314"
    assert retweet.published_at == datetime(2020, 6, 24, 17, 19, 7, tzinfo=UTC)
    reply = tweets["1275840892281249793"]
    assert reply.reply_to == "1275781448855891968"
    assert reply.extra["in_reply_to_user_id"] == "13524182"
    assert reply.extra["hashtags"] == ["NY12"]
    expanded = tweets["1275840876997050369"]
    assert expanded.text == (
        "De Blasio Considers Laying Off 22,000 NYC Employees "
        "https://www.zerohedge.com/political/de-blasio-considers-laying-22000-nyc-employees"
    )
    quote_retweet = tweets["1275840875466305542"]
    assert (quote_retweet.quote_of, quote_retweet.forwarded_from) == (
        "1275622383555133440",
        "@hirosemaryhello",
    )
    assert "(not a worry in this setting) & kids from MD" in tweets["1275840891014561796"].text
    assert tweets["1275840878238552064"].language == "de"
    assert [post.language for post in posts].count("en") == 9


def test_quote_tweets_with_user_expansion() -> None:
    posts = parse("v2_quote_tweets_with_includes.json")
    assert len(posts) == 15
    first = posts[0]
    assert (first.author, first.forwarded_from) == ("Joshua Tucker", "@chris_bail")
    assert first.url == "https://x.com/j_a_tucker/status/1495979553889697792"
    assert first.extra["username"] == "j_a_tucker"
    own = by_id(posts)["1427332549479526400"]
    assert (own.author, own.forwarded_from) == ("Suhem Parack", None)
    assert own.url == "https://x.com/suhemparack/status/1427332549479526400"
    assert own.extra["conversation_id"] == "1427290387194974213"
    assert own.published_at == datetime(2021, 8, 16, 18, 12, 53, tzinfo=UTC)


def test_timelines_with_metrics() -> None:
    posts = parse("v2_users_tweets_twitterdev_created_at_metrics.json")
    assert [post.external_id for post in posts][:2] == [
        "1364275610764201984",
        "1362876655061073928",
    ]
    assert posts[0].published_at == datetime(2021, 2, 23, 18, 7, 7, tzinfo=UTC)
    assert posts[0].extra["metrics"] == {
        "retweet_count": 10,
        "reply_count": 2,
        "like_count": 37,
        "quote_count": 1,
    }
    mentions = parse("v2_users_mentions.json")
    assert len(mentions) == 5
    assert mentions[0].text.startswith("@Twitter should consider supporting #VoiceMessaging")
    assert len(parse("tweepy_v2_users_783214_mentions.json")) == 10


# --- an Arabic leader's timeline in the shape of the real answers -------------------


def snowflake(when: datetime) -> str:
    return str((int(when.timestamp() * 1000) - 1288834974657) << 22)


T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
STATEMENT = snowflake(T0)
REPLY = snowflake(T0 + timedelta(minutes=5))
RETWEET = snowflake(T0 + timedelta(minutes=10))
QUOTE = snowflake(T0 + timedelta(minutes=15))
ORIGINAL = snowflake(T0 - timedelta(hours=2))  # the tweet retweeted, by someone else
EDITED = snowflake(T0 + timedelta(minutes=30))  # the statement's edit: a new id
LEADER = {"id": "1111", "name": "أكرم الكعبي", "username": "Kaabi_Akram"}
OTHER = {"id": "2222", "name": "صابرين نيوز", "username": "SabreenS1"}


def tweet(tweet_id: str, text: str, **fields: Any) -> dict[str, Any]:
    created = datetime.fromtimestamp(((int(tweet_id) >> 22) + 1288834974657) / 1000, tz=UTC)
    return {
        "id": tweet_id,
        "text": text,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "author_id": LEADER["id"],
        "lang": "ar",
        "edit_history_tweet_ids": [tweet_id],
        "conversation_id": tweet_id,
        "public_metrics": {"retweet_count": 3, "reply_count": 1, "like_count": 9, "quote_count": 0},
        **fields,
    }


def statement(
    text: str = "نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي &amp; نحذر",
) -> dict[str, Any]:
    return tweet(
        STATEMENT,
        f"{text} https://t.co/AbCdEf1234",
        entities={
            "urls": [
                {
                    "start": 60,
                    "end": 83,
                    "url": "https://t.co/AbCdEf1234",
                    "expanded_url": "https://nujaba.example/bayan/2026/11/20",
                    "display_url": "nujaba.example/bayan/2026/1…",
                }
            ]
        },
    )


def leader_answer(*tweets: dict[str, Any]) -> bytes:
    ids = [t["id"] for t in tweets]
    meta: dict[str, Any] = {"result_count": len(tweets)}
    if tweets:
        meta.update(newest_id=max(ids, key=int), oldest_id=min(ids, key=int))
    original = {
        "id": ORIGINAL,
        "text": "بيان المقاومة الإسلامية في العراق حول العملية الأخيرة",
        "author_id": OTHER["id"],
        "lang": "ar",
        "edit_history_tweet_ids": [ORIGINAL],
        "created_at": "2026-11-20T06:00:00.000Z",
    }
    body: dict[str, Any] = {
        "data": list(tweets),
        "includes": {"users": [LEADER, OTHER], "tweets": [original]},
        "meta": meta,
    }
    return json.dumps(body, ensure_ascii=False).encode()


LEADER_TWEETS = [
    tweet(
        QUOTE,
        "هذا ما قلناه https://t.co/Qq1",
        referenced_tweets=[{"type": "quoted", "id": ORIGINAL}],
    ),
    tweet(
        RETWEET,
        "RT @SabreenS1: بيان المقاومة الإسلامية في العراق حول…",
        referenced_tweets=[{"type": "retweeted", "id": ORIGINAL}],
    ),
    tweet(
        REPLY,
        "@SabreenS1 صحيح",
        referenced_tweets=[{"type": "replied_to", "id": ORIGINAL}],
        in_reply_to_user_id=OTHER["id"],
    ),
    statement(),
]


def test_arabic_timeline_relations_links_and_authors() -> None:
    posts = XAdapter.parse(leader_answer(*LEADER_TWEETS), ParseContext())
    quote, retweet, reply, bayan = posts
    assert bayan.text == (
        "نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي & نحذر "
        "https://nujaba.example/bayan/2026/11/20"
    )
    assert (bayan.author, bayan.language) == ("أكرم الكعبي", "ar")
    assert bayan.url == f"https://x.com/Kaabi_Akram/status/{STATEMENT}"
    assert bayan.published_at == T0
    assert retweet.text == "بيان المقاومة الإسلامية في العراق حول العملية الأخيرة"  # in full
    assert (retweet.forwarded_from, retweet.author) == ("@SabreenS1", "أكرم الكعبي")
    assert retweet.url == f"https://x.com/SabreenS1/status/{ORIGINAL}"
    assert retweet.external_id == RETWEET
    assert (reply.reply_to, quote.quote_of) == (ORIGINAL, ORIGINAL)
    assert quote.extra["quote"] == {
        "text": "بيان المقاومة الإسلامية في العراق حول العملية الأخيرة",
        "username": "SabreenS1",
    }


def test_long_post_text_comes_from_note_tweet() -> None:
    long_text = "بيان " * 100
    item = tweet(STATEMENT, "بيان بيان…", note_tweet={"text": long_text.strip()})
    (post,) = XAdapter.parse(leader_answer(item), ParseContext())
    assert post.text == long_text.strip()


def test_both_versions_of_an_edited_tweet_give_the_latest() -> None:
    edited = tweet(EDITED, "نص معدل", edit_history_tweet_ids=[STATEMENT, EDITED])
    posts = XAdapter.parse(leader_answer(edited, statement()), ParseContext())
    assert [(p.external_id, p.sort_key, p.text) for p in posts] == [
        (STATEMENT, int(EDITED), "نص معدل")
    ]
    assert posts[0].published_at == T0  # the original's time
    assert posts[0].extra["edited_at"] == "2026-11-20T08:30:00+00:00"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data":[{"id":"1577730467436138524","text":"whoa', "not valid JSON"),
        (
            b'{"errors":[{"detail":"Sorry, you are not authorized to see the user with id: [1]."'
            b"}]}",
            "errors only: Sorry, you are not authorized",
        ),
        (b'{"data": "x"}', "should be a JSON array"),
        (b'{"data": [{"text": "no id"}]}', "no numeric 'id'"),
        (b"[]", "should be a JSON object"),
        (b'{"hello": 1}', "neither 'data' nor 'meta'"),
    ],
)
def test_bad_answers_are_parse_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        XAdapter.parse(body, ParseContext())


def test_no_new_tweets_is_an_empty_answer() -> None:
    assert XAdapter.parse(b'{"meta":{"result_count":0}}', ParseContext()) == []


# --- fetching from a fake X API on loopback answering with the real captures -------


@pytest.fixture
def http() -> Iterator[HttpClient]:
    settings = HttpSettings("monitor-test/1", 5.0, 1_000_000, retries=0, per_host_delay=0)
    with HttpClient(settings) as client:
        yield client


def serve(feed_server: FeedServer, path: str, body: bytes, **headers: str) -> None:
    feed_server.serve(path, body, JSON, headers={**X_HEADERS, **headers}, conditional=False)


def x_api(feed_server: FeedServer, clock: float = NOW, **kw: Any) -> XAdapter:
    return XAdapter(
        "kaabi-x", feed_server.base_url, "Twitter", "test-token", clock=lambda: clock, **kw
    )


def query(path: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(path).query).items()}


def timeline_path(**params: str) -> str:
    base = {"max_results": "100", "tweet.fields": TWEET_FIELDS, "expansions": EXPANSIONS}
    return f"{TIMELINE}?{urlencode({**base, **params})}"


def test_first_poll_looks_up_the_user_then_reads_one_page(
    feed_server: FeedServer, http: HttpClient
) -> None:
    serve(feed_server, LOOKUP, USER_TWITTER)
    serve(feed_server, TIMELINE, capture("tweepy_v2_users_783214_tweets.json"))

    result = x_api(feed_server).fetch(http, FetchState())

    assert [urlsplit(path).path for path in feed_server.log] == [LOOKUP, TIMELINE]
    assert query(feed_server.log[1]) == {
        "max_results": "100",
        "tweet.fields": TWEET_FIELDS,
        "expansions": EXPANSIONS,
    }
    assert feed_server.last_headers[LOOKUP]["Authorization"] == "Bearer test-token"
    assert feed_server.last_headers[TIMELINE]["Authorization"] == "Bearer test-token"
    assert [post.external_id for post in result.posts] == [
        "1577730467436138524",
        "1565318587736285184",
    ]
    assert [post.response for post in result.posts] == [0, 0]
    assert len(result.responses) == 1  # the lookup is no evidence of any post
    # A next_token was left: the listing was cut, it covers its oldest tweet up.
    assert list(result.windows) == [Window(1565318587736285184, MAX_KEY)]
    assert result.cursor == {
        "user_id": "783214",
        "rechecked_at": NOW,
        "newest_id": "1577730467436138524",
    }


def test_next_poll_asks_since_the_newest_tweet(feed_server: FeedServer, http: HttpClient) -> None:
    serve(feed_server, TIMELINE, b'{"meta":{"result_count":0}}')
    cursor = {"user_id": "783214", "rechecked_at": NOW - 60, "newest_id": "1577730467436138524"}

    result = x_api(feed_server).fetch(http, FetchState(cursor=cursor))

    assert [urlsplit(path).path for path in feed_server.log] == [TIMELINE]  # no lookup
    assert query(feed_server.log[0])["since_id"] == "1577730467436138524"
    assert result.posts == []
    assert list(result.windows) == [Window(1577730467436138525, MAX_KEY)]
    assert result.cursor == cursor


def test_pages_follow_next_token(feed_server: FeedServer, http: HttpClient) -> None:
    since = "1300000000000000000"
    first_token = "7140dibdnow9c7btw4232poeq0wapgnwgwqwvuwn3peex"  # in the first capture
    second_token = "7140dibdnow9c7btw3w3itbygz8uu5pbs45oy6erjc2ls"  # in the second
    serve(feed_server, timeline_path(since_id=since), capture("tweepy_v2_users_783214_tweets.json"))
    serve(
        feed_server,
        timeline_path(since_id=since, pagination_token=first_token),
        capture("v2_users_tweets_twitterdev_created_at_metrics.json"),
    )
    serve(
        feed_server,
        timeline_path(since_id=since, pagination_token=second_token),
        b'{"meta":{"result_count":0}}',
    )
    cursor = {"user_id": "783214", "rechecked_at": NOW - 60, "newest_id": since}

    result = x_api(feed_server).fetch(http, FetchState(cursor=cursor))

    assert len(feed_server.log) == 3
    assert [post.response for post in result.posts] == [0, 0, 1, 1, 1, 1, 1]
    assert result.posts[2].external_id == "1364275610764201984"
    assert list(result.windows) == [Window(int(since) + 1, MAX_KEY)]  # it ran out
    assert result.cursor is not None
    assert result.cursor["newest_id"] == "1577730467436138524"


def test_hourly_recheck_asks_from_below_the_newest_known(
    feed_server: FeedServer, http: HttpClient
) -> None:
    serve(feed_server, TIMELINE, leader_answer(*LEADER_TWEETS))
    cursor = {
        "user_id": "783214",
        "rechecked_at": NOW - 3601,
        "newest_id": QUOTE,
        "since_id": ORIGINAL,
    }
    result = x_api(feed_server, recheck=2).fetch(http, FetchState(cursor=cursor))
    assert query(feed_server.log[0])["since_id"] == ORIGINAL
    assert list(result.windows) == [Window(int(ORIGINAL) + 1, MAX_KEY)]
    assert result.cursor is not None
    assert result.cursor["since_id"] == REPLY  # just below the two newest listed
    assert result.cursor["rechecked_at"] == NOW


def test_no_requests_left_stops_before_the_next_page(
    feed_server: FeedServer, http: HttpClient
) -> None:
    serve(
        feed_server,
        TIMELINE,
        capture("tweepy_v2_users_783214_tweets.json"),
        **{"x-rate-limit-remaining": "0"},
    )
    cursor = {"user_id": "783214", "rechecked_at": NOW - 60, "newest_id": "1300000000000000000"}
    with pytest.raises(HTTPStatusError) as caught:
        x_api(feed_server).fetch(http, FetchState(cursor=cursor))
    assert (caught.value.status, caught.value.retry_after) == (429, 600.0)
    assert "X rate limit reached for source kaabi-x" in str(caught.value)
    assert len(feed_server.log) == 1  # the next page was not asked for


def test_last_answer_without_requests_left_blocks_the_next_poll(
    feed_server: FeedServer, http: HttpClient
) -> None:
    serve(feed_server, TIMELINE, b'{"meta":{"result_count":0}}', **{"x-rate-limit-remaining": "0"})
    cursor = {"user_id": "783214", "rechecked_at": NOW - 60, "newest_id": "1577730467436138524"}
    result = x_api(feed_server).fetch(http, FetchState(cursor=cursor))
    assert result.cursor is not None
    assert result.cursor["blocked_until"] == RESET

    with pytest.raises(HTTPStatusError) as caught:
        x_api(feed_server, clock=NOW + 100).fetch(http, FetchState(cursor=result.cursor))
    assert (caught.value.status, caught.value.retry_after) == (429, 500.0)
    assert len(feed_server.log) == 1  # no request was made

    x_api(feed_server, clock=RESET + 1).fetch(http, FetchState(cursor=result.cursor))
    assert len(feed_server.log) == 2


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "60", "x-rate-limit-remaining": "0"}, 60.0),
        ({"x-rate-limit-remaining": "0"}, 600.0),  # no Retry-After: the reset, in 600 s
    ],
)
def test_429_backs_off_until_the_reset(
    feed_server: FeedServer, http: HttpClient, headers: dict[str, str], retry_after: float
) -> None:
    now = time.time()  # the real clock: the HTTP layer may read the reset header too
    body = b'{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank",'
    body += b'"status":429}'
    headers = {**X_HEADERS, "x-rate-limit-reset": str(int(now) + 600), **headers}
    feed_server.serve(TIMELINE, body, JSON, status=429, headers=headers, conditional=False)
    source = XAdapter("kaabi-x", feed_server.base_url, "Twitter", "test-token")
    with pytest.raises(HTTPStatusError) as caught:
        source.fetch(http, FetchState(cursor={"user_id": "783214"}))
    assert caught.value.status == 429
    assert caught.value.retry_after == pytest.approx(retry_after, abs=5)
    assert len(feed_server.log) == 1


def test_server_error_bad_json_and_refused_token(feed_server: FeedServer, http: HttpClient) -> None:
    feed_server.serve(TIMELINE, b"oops", "text/plain", status=500)
    with pytest.raises(HTTPStatusError) as server_error:
        x_api(feed_server).fetch(http, FetchState(cursor={"user_id": "783214"}))
    assert server_error.value.status == 500

    serve(feed_server, TIMELINE, capture("tweepy_v2_users_783214_tweets.json")[:300])
    with pytest.raises(ParseError, match="is not valid JSON"):
        x_api(feed_server).fetch(http, FetchState(cursor={"user_id": "783214"}))

    feed_server.serve(TIMELINE, b'{"title":"Unauthorized"}', JSON, status=401)
    with pytest.raises(HTTPStatusError) as refused:
        x_api(feed_server).fetch(http, FetchState(cursor={"user_id": "783214"}))
    assert refused.value.status == 401
    assert "refused source kaabi-x's bearer token (HTTP 401" in str(refused.value)
    assert "test-token" not in str(refused.value)
    assert "test-token" not in repr(x_api(feed_server))


def test_missing_account_and_missing_token(feed_server: FeedServer, http: HttpClient) -> None:
    # The answer X gives for an unknown username: 200 with errors only.
    missing = {
        "errors": [
            {
                "value": "nobody_here",
                "detail": "Could not find user with username: [nobody_here].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "username",
                "resource_id": "nobody_here",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }
    serve(feed_server, "/2/users/by/username/nobody_here", json.dumps(missing).encode())
    lost = XAdapter("kaabi-x", feed_server.base_url, "nobody_here", "test-token")
    with pytest.raises(FetchError) as caught:
        lost.fetch(http, FetchState())
    assert str(caught.value) == (
        "X account @nobody_here not found: Could not find user with username: [nobody_here]."
    )

    tokenless = XAdapter("kaabi-x", feed_server.base_url, "Twitter", None)
    with pytest.raises(FetchError) as no_token:
        tokenless.fetch(http, FetchState())
    assert str(no_token.value) == (
        "x source kaabi-x needs bearer_token (X API v2); or point a kind: rss source at an "
        "RSS bridge for the account"
    )
    assert len(feed_server.log) == 1


def test_from_source_reads_handle_or_profile_url() -> None:
    def source(**kw: str) -> XSource:
        return XSource(id="kaabi-x", kind="x", bearer_token="t", **kw)  # type: ignore[arg-type]

    for adapter, expected in [
        (XAdapter.from_source(source(handle="Kaabi_Akram")), ("https://api.x.com", "Kaabi_Akram")),
        (
            XAdapter.from_source(source(url="https://x.com/Kaabi_Akram")),
            ("https://api.x.com", "Kaabi_Akram"),
        ),
        (
            XAdapter.from_source(source(url="https://twitter.com/Kaabi_Akram")),
            ("https://api.x.com", "Kaabi_Akram"),
        ),
        (
            XAdapter.from_source(source(url="http://127.0.0.1:9/Kaabi_Akram")),
            ("http://127.0.0.1:9", "Kaabi_Akram"),
        ),
    ]:
        assert (adapter.api_base, adapter.handle) == expected
    with pytest.raises(FetchError, match="names no account"):
        XAdapter.from_source(source(url="https://x.com/"))


# --- kind: rss pointed at a bridge ---------------------------------------------------

NITTER = """<?xml version="1.0" encoding="UTF-8"?>
<rss xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
  <channel>
    <atom:link href="https://nitter.example/Kaabi_Akram/rss" rel="self"
               type="application/rss+xml" />
    <title>أكرم الكعبي / @Kaabi_Akram</title>
    <link>https://nitter.example/Kaabi_Akram</link>
    <description>Twitter feed for: @Kaabi_Akram. Generated by nitter.example</description>
    <language>en-us</language>
    <ttl>40</ttl>
    <item>
      <title>نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي</title>
      <dc:creator>@Kaabi_Akram</dc:creator>
      <description><![CDATA[<p>نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي <a href="https://nujaba.example/bayan/2026/11/20">nujaba.example/bayan/2026/1…</a></p>]]></description>
      <pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate>
      <guid>https://nitter.example/Kaabi_Akram/status/2123702889477046272#m</guid>
      <link>https://nitter.example/Kaabi_Akram/status/2123702889477046272#m</link>
    </item>
    <item>
      <title>RT by @Kaabi_Akram: بيان المقاومة الإسلامية في العراق حول العملية الأخيرة</title>
      <dc:creator>@SabreenS1</dc:creator>
      <description><![CDATA[<p>بيان المقاومة الإسلامية في العراق حول العملية الأخيرة</p>]]>
      </description>
      <pubDate>Fri, 20 Nov 2026 06:00:00 GMT</pubDate>
      <guid>https://nitter.example/SabreenS1/status/2123672690448400384#m</guid>
      <link>https://nitter.example/SabreenS1/status/2123672690448400384#m</link>
    </item>
  </channel>
</rss>
"""

RSSHUB = """<?xml version="1.0" encoding="UTF-8"?>
<rss xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">
  <channel>
    <title><![CDATA[Twitter @أكرم الكعبي]]></title>
    <link>https://x.com/Kaabi_Akram</link>
    <atom:link href="https://rsshub.example/twitter/user/Kaabi_Akram" rel="self"
               type="application/rss+xml" />
    <description><![CDATA[الأمين العام لحركة النجباء - Powered by RSSHub]]></description>
    <generator>RSSHub</generator>
    <language>en</language>
    <item>
      <title><![CDATA[نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي]]></title>
      <description><![CDATA[نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي<br><a href="https://nujaba.example/bayan/2026/11/20">https://nujaba.example/bayan/2026/11/20</a>]]></description>
      <pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate>
      <guid isPermaLink="false">https://x.com/Kaabi_Akram/status/2123702889477046272</guid>
      <link>https://x.com/Kaabi_Akram/status/2123702889477046272</link>
      <author><![CDATA[أكرم الكعبي]]></author>
    </item>
  </channel>
</rss>
"""


def test_nitter_rss_bridge_gives_tweet_ids_and_links() -> None:
    posts = RssAdapter.parse(
        NITTER.encode(), ParseContext("https://nitter.example/Kaabi_Akram/rss")
    )
    assert [post.external_id for post in posts] == [
        "https://nitter.example/Kaabi_Akram/status/2123702889477046272#m",
        "https://nitter.example/SabreenS1/status/2123672690448400384#m",
    ]
    first = posts[0]
    assert first.url == "https://nitter.example/Kaabi_Akram/status/2123702889477046272#m"
    assert first.text.startswith("نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي")
    assert "nujaba.example/bayan/2026/1…" in first.text
    assert first.published_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert first.author == "@Kaabi_Akram"
    assert (
        posts[1].title
        == "RT by @Kaabi_Akram: بيان المقاومة الإسلامية في العراق حول العملية الأخيرة"
    )


def test_rsshub_bridge_gives_tweet_ids_and_links() -> None:
    (post,) = RssAdapter.parse(
        RSSHUB.encode(), ParseContext("https://rsshub.example/twitter/user/Kaabi_Akram")
    )
    assert post.external_id == "https://x.com/Kaabi_Akram/status/2123702889477046272"
    assert post.url == "https://x.com/Kaabi_Akram/status/2123702889477046272"
    assert post.text == (
        "نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي\nhttps://nujaba.example/bayan/2026/11/20"
    )
    assert post.author == "أكرم الكعبي"
    assert post.sort_key == int(datetime(2026, 11, 20, 8, 0, tzinfo=UTC).timestamp() * 1000)


# --- end to end through the pipeline, on both databases ----------------------------

RULES = """
  - id: suspension
    match: 'تعليق'
"""


def test_poll_keeps_edits_as_versions_and_finds_deletions_on_recheck(
    db: Database, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BUILDERS, "x", XAdapter.from_source)
    serve(feed_server, "/2/users/by/username/Kaabi_Akram", json.dumps({"data": LEADER}).encode())
    serve(feed_server, "/2/users/1111/tweets", leader_answer(*LEADER_TWEETS))
    config = config_for(
        f"""
  - id: kaabi-x
    kind: x
    url: {feed_server.url("/Kaabi_Akram")}
    bearer_token: test-token
    leader: akram-kaabi
""",
        RULES,
        # The tweets are of 2026-11-20 and the pipeline's clock is the real one: alerted
        # (until 2036) whatever day the test runs, not held back as backlog.
        settings_yaml="  alert_max_age: 3650d\n",
    )
    runtime = runtime_for(config, db)
    source = config.sources[0]

    first = poll_source(runtime, source)
    assert (first.status, first.new, first.alerts) == ("ok", 4, 1)

    # The statement is edited on X: a new tweet id, listed as newer than since_id.
    edited = tweet(
        EDITED,
        "نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي حتى إشعار آخر",
        edit_history_tweet_ids=[STATEMENT, EDITED],
    )
    serve(feed_server, "/2/users/1111/tweets", leader_answer(edited))
    second = poll_source(runtime, source)
    assert query(feed_server.log[-1])["since_id"] == QUOTE
    assert (second.status, second.new, second.edited, second.deleted) == ("ok", 0, 1, 0)

    # An hour on, the recheck lists the newest again: the reply is gone.
    with db.write() as session:
        state = session.get_one(SourceState, "kaabi-x")
        state.cursor = {**(state.cursor or {}), "rechecked_at": 0}
    remaining = [edited, LEADER_TWEETS[0], LEADER_TWEETS[1]]
    serve(feed_server, "/2/users/1111/tweets", leader_answer(*remaining))
    third = poll_source(runtime, source)
    assert "since_id" not in query(feed_server.log[-1])  # fewer than 20 known: from the top
    assert (third.status, third.new, third.edited, third.deleted) == ("ok", 0, 0, 1)

    with db.read() as session:
        rows = {s.external_id: s for s in session.scalars(select(Statement)).all()}
        assert rows[REPLY].deleted_at is not None and rows[REPLY].text == "@SabreenS1 صحيح"
        bayan = rows[STATEMENT]
        assert bayan.deleted_at is None and bayan.edited
        assert [v.text for v in bayan.versions] == [
            "نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي & نحذر "
            "https://nujaba.example/bayan/2026/11/20",
            "نعلن تعليق العمليات ضد قوات الاحتلال الأمريكي حتى إشعار آخر",
        ]
        assert bayan.published_at == T0
        assert rows[RETWEET].forwarded_from == "@SabreenS1"
        assert rows[REPLY].reply_to == ORIGINAL
    assert feed_server.requests["/2/users/by/username/Kaabi_Akram"] == 1
    assert feed_server.last_headers["/2/users/1111/tweets"]["Authorization"] == "Bearer test-token"
