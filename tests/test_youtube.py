"""The youtube kind: the real channel feed, hostile XML, fetching and deletions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from monitor.config import YouTubeSource
from monitor.demo.server import FeedServer
from monitor.errors import ParseError
from monitor.http import HttpClient, HttpSettings
from monitor.pipeline import poll_source
from monitor.sources.base import FetchState, ParseContext, Post
from monitor.sources.rss import newest_first
from monitor.sources.youtube import YouTubeAdapter
from monitor.store.models import Statement
from monitor.store.session import Database
from tests.conftest import real_fixture
from tests.helpers import config_for, runtime_for

CAPTURE = "youtube/youtube_feeds_videos_user_google_2015.xml"
CONTEXT = ParseContext(
    "https://www.youtube.com/feeds/videos.xml?channel_id=UCK8sQmJBp8GCxrOtXWBpyEA"
)
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015"'
    ' xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">'
    "<title>قناة</title><author><name>المكتب الإعلامي</name></author>"
)


def video(video_id: str, title: str, description: str, published: str) -> str:
    return (
        f"<entry><id>yt:video:{video_id}</id><yt:videoId>{video_id}</yt:videoId>"
        f"<title>{title}</title>"
        f'<link rel="alternate" href="https://www.youtube.com/watch?v={video_id}"/>'
        f"<published>{published}</published>"
        f"<media:group><media:title>{title}</media:title>"
        f"<media:description>{description}</media:description></media:group></entry>"
    )


def feed(*entries: str) -> bytes:
    return (HEAD + "".join(entries) + "</feed>").encode()


def capture() -> bytes:
    return real_fixture(CAPTURE).read_bytes()


def test_the_real_channel_feed() -> None:
    body = capture()
    assert body.startswith(b"\n<?xml")  # the blank line strict parsers choke on
    posts = YouTubeAdapter.parse(body, CONTEXT)
    assert len(posts) == 15
    assert len({post.external_id for post in posts}) == 15
    first = posts[0]
    assert first == Post(
        external_id="5shykyfmb28",
        title="The Google app: Questions Title",
        text=(
            "The Google app: Questions Title\n\nA question is the most powerful force in the "
            "world. It can start you on an adventure or spark a connection. See where a question "
            "can take you. The Google app is available on iOS and Android. Download the app here: "
            "http://www.google.com/search/about/download"
        ),
        url="http://www.youtube.com/watch?v=5shykyfmb28",
        author="Google",
        published_at=datetime(2015, 5, 4, 0, 1, 27, tzinfo=UTC),
        sort_key=int(datetime(2015, 5, 4, 0, 1, 27, tzinfo=UTC).timestamp() * 1000),
        extra={
            "channel_id": "UCK8sQmJBp8GCxrOtXWBpyEA",
            "thumbnail": "https://i2.ytimg.com/vi/5shykyfmb28/hqdefault.jpg",
            "views": 251497,
        },
    )
    last = posts[-1]
    assert last.external_id == "8ztbpW3THmI"
    assert last.published_at == datetime(2014, 11, 11, 17, 25, 52, tzinfo=UTC)
    # The description's own blank line survives.
    assert last.text.endswith(
        "including hiring, legal, finance and security.\n\nhttp://www.google.com/careers/veterans"
    )
    assert newest_first(posts)


def test_arabic_descriptions_keep_their_lines() -> None:
    body = feed(
        video(
            "aB3_x-9QwE0",
            "كلمة الأمين العام",
            "كلمة متلفزة\nحول التطورات الأخيرة &amp; الموقف من التصعيد\n\n#المقاومة",
            "2026-11-21T14:05:00+03:00",
        )
    )
    [post] = YouTubeAdapter.parse(body, CONTEXT)
    assert post.external_id == "aB3_x-9QwE0"
    assert post.text == (
        "كلمة الأمين العام\n\nكلمة متلفزة\nحول التطورات الأخيرة & الموقف من التصعيد\n\n#المقاومة"
    )
    assert post.author == "المكتب الإعلامي"  # the feed's author when the entry has none
    assert post.published_at == datetime(2026, 11, 21, 11, 5, tzinfo=UTC)


def test_an_entry_without_yt_video_id_falls_back_to_the_atom_id() -> None:
    body = feed(
        "<entry><id>yt:video:zzz123</id><title>t</title>"
        "<published>2026-01-01T00:00:00+00:00</published></entry>",
        "<entry><title>no id at all</title></entry>",
    )
    [post] = YouTubeAdapter.parse(body, CONTEXT)
    assert (post.external_id, post.url, post.text) == (
        "zzz123",
        "https://www.youtube.com/watch?v=zzz123",
        "t",
    )


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lollollollollollollollollollol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>yt:video:x</id><title>&lol9;</title></entry></feed>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>yt:video:x</id><title>&secret;</title></entry></feed>"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (BOMB, "a DOCTYPE is not allowed"),
        (EXTERNAL, "a DOCTYPE is not allowed"),
        (feed(video("v", "t", "d", "2026-01-01T00:00:00Z"))[:-40], "not a YouTube feed"),
        (b"<html><body>Moved</body></html>", "the root element is 'html'"),
        (b'<rss version="2.0"><channel/></rss>', "the root element is 'rss'"),
        (b"", "not a YouTube feed"),
        (b"\x00\xff garbage", "not a YouTube feed"),
    ],
    ids=["entity-bomb", "external-entity", "truncated", "html", "rss", "empty", "garbage"],
)
def test_hostile_or_broken_feeds_are_parse_errors(body: bytes, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(ParseError, match=message):
        YouTubeAdapter.parse(body, CONTEXT)
    assert time.monotonic() - started < 1.0


def test_the_feed_address_comes_from_the_channel_id_or_url() -> None:
    by_id = YouTubeSource(id="kh-tube", kind="youtube", channel_id="UCK8sQmJBp8GCxrOtXWBpyEA")
    assert YouTubeAdapter.from_source(by_id).url == (
        "https://www.youtube.com/feeds/videos.xml?channel_id=UCK8sQmJBp8GCxrOtXWBpyEA"
    )
    by_url = YouTubeSource(id="kh-tube", kind="youtube", url="http://127.0.0.1:9/videos.xml")
    assert YouTubeAdapter.from_source(by_url).url == "http://127.0.0.1:9/videos.xml"


@pytest.fixture
def http() -> Iterator[HttpClient]:
    settings = HttpSettings(
        user_agent="monitor-test/1", timeout_seconds=2.0, max_response_bytes=1_000_000, retries=0
    )
    with HttpClient(settings) as client:
        yield client


def test_fetch_with_conditional_get_and_windows(feed_server: FeedServer, http: HttpClient) -> None:
    feed_server.serve("/videos.xml", capture(), "application/atom+xml")
    adapter = YouTubeAdapter(feed_server.url("/videos.xml"))
    first = adapter.fetch(http, FetchState())
    assert len(first.posts) == 15 and first.windows == []
    assert first.cursor == {"newest_first": True}
    assert {post.response for post in first.posts} == {0}
    assert first.responses[0].body == capture()
    state = FetchState(first.validators, first.cursor or {})
    assert adapter.fetch(http, state).not_modified
    feed_server.serve("/videos.xml", capture(), "application/atom+xml", conditional=False)
    second = adapter.fetch(http, state)
    [window] = second.windows
    keys = [post.sort_key for post in second.posts if post.sort_key is not None]
    assert len(keys) == 15 and (window.low, window.high) == (min(keys), max(keys))


SOURCE = """
  - id: kh-tube
    kind: youtube
    url: {url}
    leader: akram-kaabi
"""


def test_a_video_gone_from_the_feed_is_marked_deleted(
    db: Database, feed_server: FeedServer
) -> None:
    videos = [
        video("v3", "ثالث", "وصف", "2026-11-21T12:00:00+00:00"),
        video("v2", "ثان", "وصف", "2026-11-21T11:00:00+00:00"),
        video("v1", "أول", "وصف", "2026-11-21T10:00:00+00:00"),
    ]
    feed_server.serve("/videos.xml", feed(*videos), "application/atom+xml")
    config = config_for(SOURCE.format(url=feed_server.url("/videos.xml")), "  []")
    runtime = runtime_for(config, db)
    assert poll_source(runtime, config.sources[0]).new == 3
    feed_server.serve("/videos.xml", feed(videos[0], videos[2]), "application/atom+xml")
    report = poll_source(runtime, config.sources[0])
    assert (report.status, report.new, report.deleted) == ("ok", 0, 1)
    with db.read() as session:
        rows = {s.external_id: s for s in session.scalars(select(Statement))}
    assert rows["v2"].deleted_at is not None and rows["v2"].text == "ثان\n\nوصف"
    assert rows["v1"].deleted_at is None and rows["v3"].deleted_at is None
    assert rows["v3"].leader_id == "akram-kaabi"
    assert rows["v3"].url == "https://www.youtube.com/watch?v=v3"
