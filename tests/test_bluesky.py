"""The bluesky adapter: its parser on the real getAuthorFeed captures, its fetch against a
loopback server answering with them, and a poll end to end on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from monitor.config import BlueskySource
from monitor.demo.server import FeedServer
from monitor.errors import HTTPStatusError, ParseError
from monitor.http import HttpClient, HttpSettings
from monitor.pipeline import poll_source
from monitor.sources import registry
from monitor.sources.base import FetchState, ParseContext, Post, Window
from monitor.sources.bluesky import FEED_PATH, BlueskyAdapter, rich_text
from monitor.sources.jsonapi import MAX_KEY
from monitor.store.models import Statement
from monitor.store.session import Database
from tests.conftest import real_fixture
from tests.helpers import config_for, runtime_for

BSKY = "did:plc:z72i7hdynmk6r22z27h6tvur"
FEED_2026 = "getAuthorFeed_2026_bsky_app_ama_thread_reposts.json"
JSON = "application/json; charset=utf-8"


def capture(name: str) -> bytes:
    return real_fixture(f"bluesky/{name}").read_bytes()


def parse(name: str) -> list[Post]:
    return BlueskyAdapter.parse(capture(name), ParseContext())


def millis(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


# --- the parser on the real captures ------------------------------------------------


def test_2026_feed_posts_reposts_replies_and_quotes() -> None:
    posts = parse(FEED_2026)
    assert len(posts) == 30
    assert sum(post.reply_to is not None for post in posts) == 25
    assert sum(post.quote_of is not None for post in posts) == 23
    keys = [post.sort_key or 0 for post in posts]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == 30  # the feed's own order

    reposts = [post for post in posts if post.forwarded_from]
    assert [post.forwarded_from for post in reposts] == [
        "@aster.id",
        "@kenjennings.bsky.social",
        "@avclub.com",
    ]
    aster = reposts[0]
    assert aster.external_id == f"at://{BSKY}/app.bsky.feed.repost/3mwqx5kus2z24"
    assert aster.author == "Bluesky"  # who reposted: the account of the source
    assert aster.published_at == datetime(2026, 9, 30, 18, 15, 5, 366000, tzinfo=UTC)
    assert aster.sort_key == millis("2026-09-30T18:15:05.366Z")
    assert aster.url == "https://bsky.app/profile/aster.id/post/3mwqgsd4cgs2a"
    assert aster.text.startswith("The modern research ecosystem of online tools")
    assert aster.extra["reposted_by"] == "bsky.app"
    assert aster.extra["original_published_at"] == "2026-09-30T13:22:23.989000+00:00"

    starter = posts[1]  # embeds a starter pack: a record, not a quote
    assert starter.external_id == f"at://{BSKY}/app.bsky.feed.post/3mwolmfws5k2r"
    assert starter.quote_of is None
    assert starter.extra["record"]["text"] == "NHL Writers"
    assert starter.published_at == datetime(2026, 9, 29, 19, 43, 14, 855000, tzinfo=UTC)
    assert starter.language == "en"
    assert starter.extra["metrics"]["bookmarkCount"] == 53

    reply = posts[5]
    assert reply.text == "Thanks for being with us here on Bluesky, the official app of sports™️"
    assert (
        reply.reply_to == "at://did:plc:2buz4gf5sew3rdwzbxsvcd4s/app.bsky.feed.post/3mv6ghymh3s27"
    )
    assert reply.extra["reply_to_author"] == "minakimes.bsky.social"
    assert reply.extra["reply_to_url"] == (
        "https://bsky.app/profile/minakimes.bsky.social/post/3mv6ghymh3s27"
    )
    quote = posts[7]
    assert quote.quote_of == quote.extra["quote"]["uri"]
    assert (
        quote.quote_of == "at://did:plc:plcl43vt7d2ig7hif4zmyg6h/app.bsky.feed.post/3mv45xxdbx22k"
    )
    assert quote.text.startswith("@lightlyspicy.bsky.social asks,")


def test_link_facets_count_utf8_bytes() -> None:
    # Two em dashes (3 bytes, 1 character each) come before the facet: counting
    # characters would put the link 4 places off.
    avclub = parse(FEED_2026)[4]
    assert avclub.text.endswith(
        "Pin it now so you don't miss a thing!\n\nhttps://bsky.app/profile/avclub.com/feed/emmys-watch-r"
    )
    assert "bsky.app/profile/avcl..." not in avclub.text
    assert avclub.extra["tags"] == ["Emmys"]
    assert avclub.extra["mentions"] == [BSKY]

    (links,) = parse("postview_regular_post_with_multi_links.json")
    assert links.text == (
        "test\n\nhttps://en.wikipedia.org/wiki/Nicolas_Cage\n\nhttps://example.com"
        "\n\nhttps://www.spacejam.com/1996/\n\nendtest"
    )


def test_2023_feed_old_shape_without_langs() -> None:
    posts = parse("getAuthorFeed_2023_25items.json")
    assert len(posts) == 25
    assert sum(post.reply_to is not None for post in posts) == 20
    assert [post.external_id for post in posts if post.forwarded_from] == [
        "repost:at://did:plc:gggcwmwoyak6op4pkqm76ckz/app.bsky.feed.post/3jukz62npim26",
        "repost:at://did:plc:7itws64acv3c6dsgab5ky6zn/app.bsky.feed.post/3juhed6iawd2h",
    ]
    assert posts[0].sort_key == millis("2023-04-30T06:33:13.578Z")  # reposted then
    assert posts[0].author == "Shinya Kato 🤯"
    assert posts[-1].sort_key == 1682809172466  # the answer's cursor: the last item's place
    assert all(post.language is None for post in posts)
    japanese = next(post for post in posts if post.external_id.endswith("3jukdwsblqu2l"))
    assert japanese.text == (
        "ブロックしたらフォローが外れるように修正されるみたいだから、知り合いのアカウントで"
        "テストする人は気をつけてね\n\n"
        "https://psky.app/profile/why.bsky.team/post/3juk5phzpf62w "
        "https://psky.app/profile/why.bsky.team/post/3juk5phzpf62w"
    )


def test_2025_feed_sorts_by_the_earlier_of_created_and_indexed() -> None:
    posts = parse("getAuthorFeed_2025_dril_5items.json")
    assert [post.external_id.rsplit("/", 1)[1] for post in posts] == [
        "3lix6ufungs22",
        "3litgermucc2h",
        "3lirwer3l4s2r",
        "3liphfrnb7c2n",
        "3liphb4l7m22n",
    ]
    first = posts[0]
    # The client's clock ran 17 s ahead: createdAt is shown, indexedAt places it.
    assert first.published_at == datetime(2025, 2, 24, 20, 30, 7, 343000, tzinfo=UTC)
    assert first.sort_key == millis("2025-02-24T20:29:50.454Z")
    assert (first.author, first.language) == ("wint", "en")
    assert first.url == "https://bsky.app/profile/dril.bsky.social/post/3lix6ufungs22"
    assert posts[1].extra["images"][0]["alt"] == "you tube guy"
    assert posts[3].reply_to == posts[4].external_id  # a thread of his own


def test_single_feed_items() -> None:
    (quote_reply,) = parse("postview_quote_as_a_reply.json")
    assert quote_reply.text == "throwback to February 6, 2024:"
    assert quote_reply.quote_of == f"at://{BSKY}/app.bsky.feed.post/3kkqwku6ia32i"
    assert quote_reply.reply_to == f"at://{BSKY}/app.bsky.feed.post/3lhjnj6s6ok2q"
    assert quote_reply.extra["quote"]["text"].startswith("You can now sign up for Bluesky")
    (video,) = parse("postview_regular_post_w_video.json")
    assert video.extra["video"]["playlist"].endswith("/playlist.m3u8")
    (reply,) = parse("postview_reply.json")
    assert reply.text == "we're the #1 free app on the App Store?"
    assert reply.extra["reply_to_author"] == "popbase.tv"


def arabic_item(text: str, facets: list[dict[str, Any]]) -> dict[str, Any]:
    """A feed item in the shape of the real ones, with an Arabic text."""
    return {
        "post": {
            "uri": "at://did:plc:kaabi000000000000000000/app.bsky.feed.post/3mzzkaabi2a2b",
            "cid": "bafyreikaabi",
            "author": {"did": "did:plc:kaabi000000000000000000", "handle": "kaabi.bsky.social"},
            "record": {
                "$type": "app.bsky.feed.post",
                "createdAt": "2026-11-20T08:00:00.000Z",
                "langs": ["ar"],
                "text": text,
                "facets": facets,
            },
            "indexedAt": "2026-11-20T08:00:00.500Z",
        }
    }


def facet(text: str, shown: str, feature: dict[str, str]) -> dict[str, Any]:
    start = text.encode().index(shown.encode())
    return {
        "index": {"byteStart": start, "byteEnd": start + len(shown.encode())},
        "features": [feature],
    }


def test_arabic_text_with_shortened_link_and_mention() -> None:
    text = "بيان @sabreen.bsky.social حول تعليق العمليات: nujaba.example/bayan/20..."
    link = {"$type": "app.bsky.richtext.facet#link", "uri": "https://nujaba.example/bayan/2026/11"}
    mention = {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:sabreen"}
    body = json.dumps(
        arabic_item(
            text,
            [
                facet(text, "nujaba.example/bayan/20...", link),
                facet(text, "@sabreen.bsky.social", mention),
            ],
        )
    ).encode()
    (post,) = BlueskyAdapter.parse(body, ParseContext())
    assert (
        post.text
        == "بيان @sabreen.bsky.social حول تعليق العمليات: https://nujaba.example/bayan/2026/11"
    )
    assert (post.language, post.author) == ("ar", "kaabi.bsky.social")
    assert post.extra["mentions"] == ["did:plc:sabreen"]
    assert post.url == "https://bsky.app/profile/kaabi.bsky.social/post/3mzzkaabi2a2b"


def test_rich_text_keeps_named_links_and_ignores_broken_facets() -> None:
    text = "اقرأ البيان هنا"
    link = {"$type": "app.bsky.richtext.facet#link", "uri": "https://nujaba.example/b"}
    named = rich_text(text, [facet(text, "هنا", link)])
    assert named == "اقرأ البيان هنا (https://nujaba.example/b)"
    # byteStart 1 is inside the first Arabic letter (2 bytes): not a character boundary.
    broken = {"index": {"byteStart": 1, "byteEnd": 4}, "features": [link]}
    beyond = {"index": {"byteStart": 2, "byteEnd": 999}, "features": [link]}
    assert rich_text(text, [broken, beyond, {"index": "x"}, "junk"]) == text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"TRUNCATED", "not valid JSON"),
        (
            b'{"error":"InvalidRequest","message":"Profile not found"}',
            "InvalidRequest: Profile not",
        ),
        (b'{"feed": {}}', "should be a JSON array"),
        (b'{"feed": [{"reason": null}]}', "'post' should be a JSON object"),
        (b'{"feed": [{"post": {"uri": "at://x", "record": {"createdAt": 5}}}]}', "ISO 8601"),
        (b'{"posts": []}', "neither 'feed' nor 'post'"),
    ],
)
def test_bad_answers_are_parse_errors(body: bytes, message: str) -> None:
    if body == b"TRUNCATED":  # a real answer cut short
        body = capture(FEED_2026)[:4000]
    with pytest.raises(ParseError, match=message):
        BlueskyAdapter.parse(body, ParseContext())


# --- fetching from a loopback server serving the captures ---------------------------


@pytest.fixture
def http() -> Iterator[HttpClient]:
    settings = HttpSettings("monitor-test/1", 5.0, 1_000_000, retries=0, per_host_delay=0)
    with HttpClient(settings) as client:
        yield client


def feed_page(items: list[Any], cursor: str | None) -> bytes:
    document: dict[str, Any] = {"feed": items}
    if cursor:
        document["cursor"] = cursor
    return json.dumps(document, ensure_ascii=False).encode()


def sort_at(item: dict[str, Any]) -> str:
    """Where the AppView places an item (its cursor points there): as the adapter reads it."""
    if item.get("reason"):
        return str(item["reason"]["indexedAt"])
    post = item["post"]
    return str(min(post["record"]["createdAt"], post["indexedAt"]))


def test_first_poll_reads_one_page_then_304(feed_server: FeedServer, http: HttpClient) -> None:
    feed_server.serve(FEED_PATH, capture(FEED_2026), JSON)
    source = BlueskyAdapter(feed_server.base_url, "bsky.app", page_size=30)

    result = source.fetch(http, FetchState())

    assert feed_server.log == [f"{FEED_PATH}?actor=bsky.app&limit=30"]  # the cursor is not followed
    posts = parse(FEED_2026)
    assert [post.external_id for post in result.posts] == [post.external_id for post in posts]
    assert {post.response for post in result.posts} == {0}
    assert list(result.windows) == [Window(posts[-1].sort_key or 0, MAX_KEY)]
    assert result.cursor == {"newest": posts[0].sort_key}

    again = source.fetch(http, FetchState(result.validators, result.cursor or {}))
    assert again.not_modified and again.posts == []
    assert feed_server.last_headers[FEED_PATH]["If-None-Match"] == result.validators.etag


def test_later_poll_pages_on_until_known_posts(feed_server: FeedServer, http: HttpClient) -> None:
    items = json.loads(capture(FEED_2026))["feed"]
    newer, older = items[:15], items[15:]
    cursor = sort_at(newer[-1])
    first = f"{FEED_PATH}?actor=bsky.app&limit=15"
    second = f"{FEED_PATH}?{urlencode({'actor': 'bsky.app', 'limit': '15', 'cursor': cursor})}"
    feed_server.serve(first, feed_page(newer, cursor), JSON)
    feed_server.serve(second, feed_page(older, None), JSON)  # the end of the feed
    source = BlueskyAdapter(feed_server.base_url, "bsky.app", page_size=15)
    known = millis(sort_at(items[20]))

    result = source.fetch(http, FetchState(cursor={"newest": known}))

    assert feed_server.log == [first, second]
    assert len(result.posts) == 30
    assert [post.response for post in result.posts] == [0] * 15 + [1] * 15
    assert list(result.windows) == [Window(0, MAX_KEY)]  # the whole feed was seen

    feed_server.log.clear()
    caught_up = source.fetch(http, FetchState(cursor={"newest": millis(sort_at(items[5]))}))
    assert feed_server.log == [first]  # the first page reached the known posts
    assert list(caught_up.windows) == [Window(millis(sort_at(newer[-1])), MAX_KEY)]


def test_unknown_actor_and_error_statuses(feed_server: FeedServer, http: HttpClient) -> None:
    feed_server.serve(
        FEED_PATH, b'{"error":"InvalidRequest","message":"Profile not found"}', JSON, status=400
    )
    with pytest.raises(HTTPStatusError) as unknown:
        BlueskyAdapter(feed_server.base_url, "nobody.bsky.social").fetch(http, FetchState())
    assert unknown.value.status == 400
    assert str(unknown.value).startswith(
        "Bluesky has no readable feed for 'nobody.bsky.social' (HTTP 400 from "
    )

    feed_server.serve(FEED_PATH, b"{}", JSON, status=429, headers={"Retry-After": "30"})
    with pytest.raises(HTTPStatusError) as limited:
        BlueskyAdapter(feed_server.base_url, "bsky.app").fetch(http, FetchState())
    assert (limited.value.status, limited.value.retry_after) == (429, 30.0)

    feed_server.serve(FEED_PATH, b"upstream failure", "text/plain", status=500)
    with pytest.raises(HTTPStatusError) as failed:
        BlueskyAdapter(feed_server.base_url, "bsky.app").fetch(http, FetchState())
    assert failed.value.status == 500

    feed_server.serve(FEED_PATH, capture(FEED_2026)[:5000], JSON)
    with pytest.raises(ParseError, match="Bluesky feed page is not valid JSON"):
        BlueskyAdapter(feed_server.base_url, "bsky.app").fetch(http, FetchState())


def test_from_source_reads_handle_or_profile_url() -> None:
    def source(**kw: str) -> BlueskySource:
        return BlueskySource(id="b", kind="bluesky", **kw)  # type: ignore[arg-type]

    by_handle = BlueskyAdapter.from_source(source(handle="@bsky.app"))
    assert (by_handle.api_base, by_handle.actor) == ("https://public.api.bsky.app", "bsky.app")
    by_url = BlueskyAdapter.from_source(source(url="https://bsky.app/profile/dril.bsky.social"))
    assert (by_url.api_base, by_url.actor) == ("https://public.api.bsky.app", "dril.bsky.social")
    post_url = "https://bsky.app/profile/dril.bsky.social/post/3lix6ufungs22"
    assert BlueskyAdapter.from_source(source(url=post_url)).actor == "dril.bsky.social"
    local = BlueskyAdapter.from_source(source(url="http://127.0.0.1:9/profile/bsky.app"))
    assert (local.api_base, local.actor) == ("http://127.0.0.1:9", "bsky.app")


# --- end to end through the pipeline, on both databases ----------------------------


def test_poll_marks_a_deleted_post_and_an_undone_repost(
    db: Database, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BUILDERS, "bluesky", BlueskyAdapter.from_source)
    items = json.loads(capture(FEED_2026))["feed"]
    feed_server.serve(FEED_PATH, capture(FEED_2026), JSON)
    config = config_for(
        f"""
  - id: bsky-app
    kind: bluesky
    url: {feed_server.url("/profile/bsky.app")}
""",
        "  - id: apples\n    match: 'apple*'\n",
    )
    runtime = runtime_for(config, db)
    source = config.sources[0]

    first = poll_source(runtime, source)
    assert (first.status, first.new, first.deleted) == ("ok", 30, 0)
    assert feed_server.log == [f"{FEED_PATH}?actor=bsky.app&limit=50"]

    gone = [items[3], items[7]]  # the repost of kenjennings' post, and one AMA answer
    later = [item for item in items if item not in gone]
    feed_server.serve(FEED_PATH, feed_page(later, "2026-09-09T17:28:32.134Z"), JSON)
    second = poll_source(runtime, source)

    assert (second.status, second.new, second.unchanged, second.deleted) == ("ok", 0, 28, 2)
    with db.read() as session:
        deleted = session.scalars(
            select(Statement).where(Statement.deleted_at.is_not(None)).order_by(Statement.id)
        ).all()
        assert [row.external_id for row in deleted] == [
            f"at://{BSKY}/app.bsky.feed.repost/3mvtagpxpgm2j",
            f"at://{BSKY}/app.bsky.feed.post/3mv45zmynys2l",
        ]
        assert deleted[0].forwarded_from == "@kenjennings.bsky.social"
        assert deleted[1].text.startswith("@lightlyspicy.bsky.social asks,")
