"""The mastodon adapter: its parser on the real captures, its fetch against a loopback
server answering with those captures, and a poll end to end on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from monitor.config import MastodonSource
from monitor.demo.server import FeedServer
from monitor.errors import HTTPStatusError, ParseError
from monitor.http import HttpClient, HttpSettings
from monitor.pipeline import poll_source
from monitor.sources import registry
from monitor.sources.base import FetchState, ParseContext, Post, Window
from monitor.sources.jsonapi import MAX_KEY
from monitor.sources.mastodon import MastodonAdapter
from monitor.store.models import Statement
from monitor.store.session import Database
from tests.conftest import real_fixture
from tests.helpers import config_for, runtime_for

ACCOUNT_ID = "117020565966271181"
STATUSES = f"/api/v1/accounts/{ACCOUNT_ID}/statuses"
# Toot number 9 .. 0 of the recorded account, newest first (page 1 holds 9..5, page 2 4..0).
TOOTS = [
    "117020580518794573",
    "117020580511453871",
    "117020580503743669",
    "117020580496489811",
    "117020580489281910",
    "117020580481736214",
    "117020580474454464",
    "117020580467310235",
    "117020580459855703",
    "117020580452511285",
]
PINNED = "117020569296803689"  # an older status of the same account (its pinned one)


def capture(name: str) -> bytes:
    return real_fixture(f"mastodon/{name}").read_bytes()


def parse(name: str) -> list[Post]:
    return MastodonAdapter.parse(capture(name), ParseContext())


def recorded_link(name: str) -> str:
    headers = json.loads(capture("_response_headers.json"))
    link: str = headers[name]["headers"]["link"][0]
    return link


@pytest.fixture
def http() -> Iterator[HttpClient]:
    settings = HttpSettings("monitor-test/1", 5.0, 1_000_000, retries=0, per_host_delay=0)
    with HttpClient(settings) as client:
        yield client


# --- the parser on the real captures ------------------------------------------------


def test_account_statuses_pages() -> None:
    page1, page2 = (
        parse("accounts_id_statuses_limit5_page1.json"),
        parse("accounts_id_statuses_limit5_page2_max_id.json"),
    )
    assert [post.external_id for post in page1 + page2] == TOOTS
    assert [post.text for post in page1 + page2] == [f"Toot number {n}!" for n in range(9, -1, -1)]
    assert [post.sort_key for post in page1] == [int(i) for i in TOOTS[:5]]
    first = page1[0]
    assert first.url == "http://localhost:3000/@mastodonpy_test/117020580518794573"
    assert first.author == "John Lennon"
    assert first.published_at == datetime(2026, 8, 1, 13, 52, 34, 108000, tzinfo=UTC)
    assert first.language == "en"
    assert (first.reply_to, first.quote_of, first.forwarded_from) == (None, None, None)
    assert first.extra["account"] == "@mastodonpy_test"
    assert first.extra["visibility"] == "unlisted"
    assert first.extra["metrics"] == {
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "quotes_count": 0,
    }
    assert "edited_at" not in first.extra


def test_public_timeline_with_mentions_and_two_languages() -> None:
    posts = parse("timelines_public_20_statuses_multilang.json")
    assert len(posts) == 20
    assert posts[0].external_id == "117024258897469903"
    assert posts[-1].external_id == "117024218475038112"
    assert [post.language for post in posts].count("ja") == 6
    assert [post.language for post in posts].count("en") == 14
    assert posts[0].text == "you can't say that on television"  # &#39; undone
    mention = posts[3]
    assert mention.text == "@mastodonpy_test beep beep I'm a jeep"
    assert mention.extra["mentions"] == ["@mastodonpy_test"]
    assert mention.author == "admin"  # no display name: the acct
    assert {post.extra["account"] for post in posts} == {"@admin", "@mastodonpy_test"}


def test_reblog_is_a_post_of_its_own_with_the_original_text() -> None:
    (boost,) = parse("status_reblog_wrapper.json")
    assert boost.external_id == "117020586027094262"  # the wrapper: its place in the listing
    assert boost.sort_key == 117020586027094262
    assert boost.text == "Toot!"
    assert boost.forwarded_from == "@mastodonpy_test"
    assert boost.url == "http://localhost:3000/@mastodonpy_test/117020586019094258"
    assert boost.language == "en"  # the wrapper says null; the original says en
    assert boost.published_at == datetime(2026, 8, 1, 13, 53, 58, 160000, tzinfo=UTC)
    assert boost.extra["reblog_of"] == "117020586019094258"
    assert boost.extra["original_published_at"] == "2026-08-01T13:53:58.036000+00:00"


def test_quote_drops_the_inline_fallback_and_links_the_quoted_status() -> None:
    (post,) = parse("status_with_quote.json")
    assert post.text == "yoooooooo"
    assert post.quote_of == "117020582917124092"
    assert post.extra["quote"] == {
        "state": "accepted",
        "url": "http://localhost:3000/@mastodonpy_test/117020582917124092",
        "author": "@mastodonpy_test",
        "text": "Toot!",
    }


def test_edited_status_carries_edited_at() -> None:
    (post,) = parse("status_after_edit.json")
    assert post.text == "the best editor? why, of course it is the KDE Advanced Text Editor, Kate"
    assert post.extra["edited_at"] == "2026-08-01T13:54:00.695000+00:00"
    assert post.language == "ja"
    assert post.author == "mastodonpy_test_2"


def test_edit_history_is_not_a_listing() -> None:
    with pytest.raises(ParseError, match="status edit history"):
        parse("status_edit_history.json")


def test_poll_media_card_and_pinned() -> None:
    (poll,) = parse("status_with_poll.json")
    assert poll.text == "nice"
    assert poll.extra["poll"] == {
        "options": ["four twenty", "sixty-nine"],
        "multiple": True,
        "expires_at": "2026-08-01T13:58:07.237Z",
        "votes_count": 0,
    }
    (media,) = parse("status_with_media_attachment.json")
    assert media.text == "Status with media"
    assert media.extra["media"] == [
        {
            "type": "image",
            "url": "http://localhost:3000/system/media_attachments/files/117/020/606/032/533/890/original/5acd59c19f4b7d96.jpg",
            "description": None,
        }
    ]
    (card,) = parse("status_with_link_card.json")
    assert card.text == "http://example.org/"  # the invisible spans make the link whole
    assert card.extra["card"] == {
        "url": "http://example.org/",
        "title": "Example Domain",
        "description": "",
    }
    (pinned,) = parse("accounts_id_statuses_pinned.json")
    assert (pinned.external_id, pinned.text) == (PINNED, "Toot!")


def arabic_reply() -> dict[str, Any]:
    """A real status of the capture turned into an Arabic reply behind a content warning."""
    status: dict[str, Any] = json.loads(capture("accounts_id_statuses_limit5_page1.json"))[0]
    status.update(
        spoiler_text="بيان",
        in_reply_to_id="117020580511453871",
        in_reply_to_account_id=ACCOUNT_ID,
        language="ar",
        content=(
            "<p>نعلن تعليق العمليات مؤقتاً</p><p>التفاصيل: "
            '<a href="https://example.org/bayan/2026/11/20" rel="nofollow noopener">'
            '<span class="invisible">https://</span><span class="ellipsis">example.org/bayan/20'
            '</span><span class="invisible">26/11/20</span></a></p>'
        ),
    )
    return status


def test_content_warning_reply_and_link_text() -> None:
    (post,) = MastodonAdapter.parse(json.dumps([arabic_reply()]).encode(), ParseContext())
    assert (
        post.text
        == "بيان\n\nنعلن تعليق العمليات مؤقتاً\nالتفاصيل: https://example.org/bayan/2026/11/20"
    )
    assert post.reply_to == "117020580511453871"
    assert post.language == "ar"
    assert post.extra["spoiler_text"] == "بيان"
    assert post.extra["in_reply_to_account_id"] == ACCOUNT_ID


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"id": "1", "content": "<p>cut', "not valid JSON"),
        (b'{"error": "Record not found"}', "Mastodon API error: Record not found"),
        (b'{"statuses": []}', "has no 'id'"),
        (b'"hello"', "should be a JSON array"),
        (b'[{"id": "5", "created_at": "yesterday"}]', "not an ISO 8601 time"),
    ],
)
def test_bad_bodies_are_parse_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        MastodonAdapter.parse(body, ParseContext())


# --- fetching from a loopback server serving the captures ---------------------------


def serve_account(feed_server: FeedServer) -> None:
    statuses = json.loads(capture("accounts_id_statuses_limit5_page1.json"))
    account = json.dumps(statuses[0]["account"]).encode()
    feed_server.serve("/api/v1/accounts/lookup", account, "application/json; charset=utf-8")


def adapter(feed_server: FeedServer, **kw: Any) -> MastodonAdapter:
    return MastodonAdapter(feed_server.base_url, "mastodonpy_test", **kw)


def test_first_poll_looks_up_the_account_and_reads_one_page(
    feed_server: FeedServer, http: HttpClient
) -> None:
    serve_account(feed_server)
    feed_server.serve(
        f"{STATUSES}?limit=5",
        capture("accounts_id_statuses_limit5_page1.json"),
        "application/json; charset=utf-8",
        headers={"Link": recorded_link("accounts_id_statuses_limit5_page1.json")},
    )
    result = adapter(feed_server, page_size=5, recheck=3).fetch(http, FetchState())

    assert feed_server.log == [
        "/api/v1/accounts/lookup?acct=mastodonpy_test",
        f"{STATUSES}?limit=5",
    ]
    assert [post.external_id for post in result.posts] == TOOTS[:5]
    assert {post.response for post in result.posts} == {0}
    assert len(result.responses) == 1
    assert result.responses[0].url == feed_server.url(f"{STATUSES}?limit=5")
    # The first poll stops after one page although the Link header offers more.
    assert list(result.windows) == [Window(int(TOOTS[4]), MAX_KEY)]
    assert result.cursor == {
        "account_id": ACCOUNT_ID,
        "since_id": TOOTS[3],
        "validated_since": "",
    }
    assert result.validators.etag is not None
    assert result.http_status == 200

    # The next poll asks another URL (since_id): the first one's validators are not sent.
    feed_server.serve(f"{STATUSES}?limit=5&since_id={TOOTS[3]}", b"[]", "application/json")
    adapter(feed_server, page_size=5).fetch(http, FetchState(result.validators, result.cursor))
    assert feed_server.log[-1] == f"{STATUSES}?limit=5&since_id={TOOTS[3]}"
    assert "If-None-Match" not in feed_server.last_headers[STATUSES]


def test_next_poll_asks_since_the_recheck_boundary_then_304(
    feed_server: FeedServer, http: HttpClient
) -> None:
    newest_three = json.loads(capture("accounts_id_statuses_limit5_page1.json"))[:3]
    feed_server.serve(
        f"{STATUSES}?limit=5&since_id={TOOTS[3]}",
        json.dumps(newest_three).encode(),
        "application/json; charset=utf-8",
    )
    state = FetchState(cursor={"account_id": ACCOUNT_ID, "since_id": TOOTS[3]})
    source = adapter(feed_server, page_size=5, recheck=3)

    result = source.fetch(http, state)

    assert feed_server.log == [f"{STATUSES}?limit=5&since_id={TOOTS[3]}"]  # no lookup again
    assert [post.external_id for post in result.posts] == TOOTS[:3]
    # A short page: everything above since_id was listed, the newest included.
    assert list(result.windows) == [Window(int(TOOTS[3]) + 1, MAX_KEY)]
    assert result.cursor == {
        "account_id": ACCOUNT_ID,
        "since_id": TOOTS[3],
        "validated_since": TOOTS[3],
    }

    again = source.fetch(http, FetchState(result.validators, result.cursor or {}))
    assert again.not_modified and again.http_status == 304 and again.posts == []
    assert feed_server.last_headers[STATUSES]["If-None-Match"] == result.validators.etag


def test_pages_follow_the_link_header_keeping_since_id(
    feed_server: FeedServer, http: HttpClient
) -> None:
    base = f"{STATUSES}?limit=5&since_id={PINNED}"
    json_type = "application/json; charset=utf-8"
    feed_server.serve(
        base,
        capture("accounts_id_statuses_limit5_page1.json"),
        json_type,
        headers={"Link": recorded_link("accounts_id_statuses_limit5_page1.json")},
    )
    feed_server.serve(
        f"{base}&max_id={TOOTS[4]}",
        capture("accounts_id_statuses_limit5_page2_max_id.json"),
        json_type,
        headers={"Link": recorded_link("accounts_id_statuses_limit5_page2_max_id.json")},
    )
    feed_server.serve(f"{base}&max_id={TOOTS[9]}", b"[]", json_type)
    state = FetchState(cursor={"account_id": ACCOUNT_ID, "since_id": PINNED})

    result = adapter(feed_server, page_size=5, recheck=3).fetch(http, state)

    assert feed_server.log == [base, f"{base}&max_id={TOOTS[4]}", f"{base}&max_id={TOOTS[9]}"]
    assert [post.external_id for post in result.posts] == TOOTS
    assert [post.response for post in result.posts] == [0] * 5 + [1] * 5
    assert len(result.responses) == 3
    assert list(result.windows) == [Window(int(PINNED) + 1, MAX_KEY)]
    assert result.cursor == {
        "account_id": ACCOUNT_ID,
        "since_id": TOOTS[3],
        "validated_since": PINNED,
    }
    assert result.bytes_read == 2 * len(capture("accounts_id_statuses_limit5_page1.json")) + 2


def test_page_bound_cuts_the_listing_and_its_window(
    feed_server: FeedServer, http: HttpClient
) -> None:
    feed_server.serve(
        STATUSES,
        capture("accounts_id_statuses_limit5_page1.json"),
        headers={"Link": recorded_link("accounts_id_statuses_limit5_page1.json")},
    )
    state = FetchState(cursor={"account_id": ACCOUNT_ID, "since_id": PINNED})
    result = adapter(feed_server, page_size=5, max_pages=1).fetch(http, state)
    assert len(feed_server.log) == 1
    assert list(result.windows) == [Window(int(TOOTS[4]), MAX_KEY)]  # not down to since_id


def test_missing_account_is_a_clear_error(feed_server: FeedServer, http: HttpClient) -> None:
    feed_server.serve(
        "/api/v1/accounts/lookup", b'{"error":"Record not found"}', "application/json", status=404
    )
    with pytest.raises(HTTPStatusError) as caught:
        MastodonAdapter(feed_server.base_url, "nobody").fetch(http, FetchState())
    assert caught.value.status == 404
    assert str(caught.value) == (
        f"Mastodon account @nobody not found on {feed_server.base_url} "
        f"(HTTP 404 from {feed_server.url('/api/v1/accounts/lookup')})"
    )


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"), [(429, {"Retry-After": "120"}, 120.0), (500, {}, None)]
)
def test_error_statuses_keep_status_and_retry_after(
    feed_server: FeedServer,
    http: HttpClient,
    status: int,
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    feed_server.serve(
        STATUSES, b'{"error":"busy"}', "application/json", status=status, headers=headers
    )
    state = FetchState(cursor={"account_id": ACCOUNT_ID})
    with pytest.raises(HTTPStatusError) as caught:
        adapter(feed_server).fetch(http, state)
    assert (caught.value.status, caught.value.retry_after) == (status, retry_after)


def test_truncated_json_is_a_parse_error(feed_server: FeedServer, http: HttpClient) -> None:
    feed_server.serve(STATUSES, capture("accounts_id_statuses_limit5_page1.json")[:700])
    state = FetchState(cursor={"account_id": ACCOUNT_ID})
    with pytest.raises(ParseError, match=r"Mastodon statuses from .* is not valid JSON"):
        adapter(feed_server).fetch(http, state)


def test_from_source_reads_account_or_profile_url() -> None:
    def source(**kw: str) -> MastodonSource:
        return MastodonSource(id="m", kind="mastodon", **kw)  # type: ignore[arg-type]

    by_account = MastodonAdapter.from_source(source(account="kaabi@mastodon.social"))
    assert (by_account.api_base, by_account.account) == ("https://mastodon.social", "kaabi")
    by_url = MastodonAdapter.from_source(source(url="https://mastodon.social/@Gargron"))
    assert (by_url.api_base, by_url.account) == ("https://mastodon.social", "Gargron")
    remote = MastodonAdapter.from_source(source(url="https://example.social/@kaabi@other.example"))
    assert (remote.api_base, remote.account) == ("https://example.social", "kaabi@other.example")
    local = MastodonAdapter.from_source(source(url="http://127.0.0.1:8080/@mastodonpy_test"))
    assert (local.api_base, local.account) == ("http://127.0.0.1:8080", "mastodonpy_test")


# --- end to end through the pipeline, on both databases ----------------------------


RULES = """
  - id: suspension
    match: 'تعليق'
"""


def test_poll_stores_then_marks_deleted_and_keeps_edits(
    db: Database, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BUILDERS, "mastodon", MastodonAdapter.from_source)
    serve_account(feed_server)
    statuses = json.loads(capture("accounts_id_statuses_limit5_page1.json")) + json.loads(
        capture("accounts_id_statuses_limit5_page2_max_id.json")
    )
    feed_server.serve(STATUSES, json.dumps(statuses).encode(), "application/json")
    config = config_for(
        f"""
  - id: kaabi-mastodon
    kind: mastodon
    url: {feed_server.url("/@mastodonpy_test")}
    leader: akram-kaabi
""",
        RULES,
    )
    runtime = runtime_for(config, db)
    source = config.sources[0]

    first = poll_source(runtime, source)
    assert (first.status, first.new, first.deleted) == ("ok", 10, 0)

    # Toot number 7 is deleted at the source; Toot number 8 is edited into a statement.
    later = [status for status in statuses if status["id"] != TOOTS[2]]
    later[1] = {
        **later[1],
        "content": "<p>Toot number 8! نعلن تعليق العمليات</p>",
        "edited_at": "2026-08-01T14:10:00.000Z",
    }
    feed_server.serve(STATUSES, json.dumps(later).encode(), "application/json")
    second = poll_source(runtime, source)

    assert (second.status, second.new, second.edited, second.deleted) == ("ok", 0, 1, 1)
    assert second.alerts == 1  # the edit newly matches the rule
    with db.read() as session:
        rows = {s.external_id: s for s in session.scalars(select(Statement)).all()}
        deleted = rows[TOOTS[2]]
        assert deleted.deleted_at is not None and deleted.text == "Toot number 7!"
        edited = rows[TOOTS[1]]
        assert edited.edited and edited.text == "Toot number 8! نعلن تعليق العمليات"
        assert [v.text for v in edited.versions] == [
            "Toot number 8!",
            "Toot number 8! نعلن تعليق العمليات",
        ]
        assert edited.extra["edited_at"] == "2026-08-01T14:10:00+00:00"
        assert edited.leader_id == "akram-kaabi"
        assert edited.url == "http://localhost:3000/@mastodonpy_test/117020580511453871"
        assert sum(row.deleted_at is not None for row in rows.values()) == 1
    assert feed_server.requests["/api/v1/accounts/lookup"] == 1

    third = poll_source(runtime, source)  # unchanged: the server answers 304 to our ETag
    assert (third.status, third.http_status, third.deleted) == ("not_modified", 304, 0)
