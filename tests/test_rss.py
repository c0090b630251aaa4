"""The rss adapter's pure parser on real captured feeds and on hostile input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from monitor.errors import ParseError
from monitor.sources.base import ParseContext
from monitor.sources.rss import RssAdapter
from monitor.text.html import _soup_text, html_to_text
from tests.conftest import REAL_FIXTURES, real_fixture

CONTEXT = ParseContext(url="https://example.org/feed")


def parse(relative: str) -> list:  # type: ignore[type-arg]
    return RssAdapter.parse(real_fixture(relative).read_bytes(), CONTEXT)


@pytest.mark.parametrize(
    ("fixture", "count", "first_id", "first_title", "first_time", "language"),
    [
        (
            "rss/guardian_us.rss",
            55,
            "https://www.theguardian.com/us-news/2018/jan/31/donald-trump-state-of-the-union-address-unity-discord",
            "Trump State of the Union address promised unity but emphasized discord",
            datetime(2018, 1, 31, 7, 26, 5, tzinfo=UTC),
            "en",
        ),
        (
            "atom/heise_developer.atom",
            15,
            "http://heise.de/-3088438",
            "Java-Anwendungsserver: Red Hat gibt WildFly 10 frei",
            datetime(2016, 2, 1, 16, 22, tzinfo=UTC),
            None,
        ),
        (
            "atom/hamakor_hebrew_rtl.atom.xml",
            8,
            "http://idkn.wordpress.com/?p=7223",
            "סינטרה מודולרית",
            datetime(2014, 12, 20, 20, 0, 2, tzinfo=UTC),
            None,
        ),
        (
            "rss/voa_urdu_news_rtl.xml",
            20,
            "http://www.urduvoa.com/content/majority-favors-joining-russia-in-crimea-referendum-16mar2014/1872523.html",
            "کرائمیا: ریفرنڈم میں روس سے الحاق کی حمایت",
            datetime(2014, 3, 16, 21, 51, 37, tzinfo=UTC),
            "ur",
        ),
        (
            "rss/greek_iso-8859-7.xml",
            1,
            None,
            None,
            datetime(2020, 4, 24, 20, 3, tzinfo=UTC),
            "el",
        ),
        (
            "rss/ibash_ru_windows-1251.xml",
            50,
            "http://ibash.org.ru/quote.php?id=16099",
            "Цитата #16099",
            datetime(2013, 6, 27, 16, 18, 31, tzinfo=UTC),
            "ru",
        ),
        (
            "rss/craigslist_rss1.0_rdf.rss",
            25,
            "http://sfbay.craigslist.org/eby/apa/6186664607.html",
            None,
            datetime(2017, 6, 21, 17, 33, 10, tzinfo=UTC),
            "en",
        ),
        (
            "atom/rss_bridge_generated.atom.xml",
            1,
            "urn:sha1:fa6373cda12c584310313a835fbb81d57d01fe24",
            "NANO Doku: Wie viel Wald braucht der Mensch?",
            datetime(2026, 5, 21, 18, 15, tzinfo=UTC),
            None,
        ),
    ],
)
def test_real_feeds(
    fixture: str,
    count: int,
    first_id: str | None,
    first_title: str | None,
    first_time: datetime,
    language: str | None,
) -> None:
    posts = parse(fixture)
    assert len(posts) == count
    first = posts[0]
    if first_id is not None:
        assert first.external_id == first_id
    if first_title is not None:
        assert first.title == first_title
    assert first.published_at == first_time
    assert first.language == language
    assert len({p.external_id for p in posts}) == count  # ids are unique
    assert all(p.text.strip() for p in posts)
    assert all(p.url is None or p.url.startswith("http") for p in posts)


def test_html_in_descriptions_becomes_text_with_line_breaks() -> None:
    first = parse("rss/guardian_us.rss")[0]
    assert "<p>" not in first.text
    assert first.text.startswith(
        "Trump State of the Union address promised unity but emphasized discord\n\n"
        "The president’s ‘new American moment’ speech stirred Republican applause"
    )


def test_entry_with_only_an_id_has_no_link() -> None:
    [post] = parse("atom/entry_with_only_id.atom")
    assert post.external_id == "tag:github.com,2008:Repository/11167738/v3.9.0"
    assert post.url is None


def test_html_document_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match=r"^not an RSS or Atom feed"):
        parse("rss/not_a_feed_html_document_moved.rss")


@pytest.mark.parametrize("body", [b"", b"not xml at all", b'{"json": true}'])
def test_garbage_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError):
        RssAdapter.parse(body, CONTEXT)


def _billion_laughs() -> bytes:
    entities = "".join(
        f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">\n' for i in range(1, 10)
    )
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n{entities}]>\n'
        '<rss version="2.0"><channel><title>t</title>'
        "<item><guid>1</guid><title>&lol9;</title></item></channel></rss>"
    ).encode()


def test_an_entity_bomb_is_not_expanded() -> None:
    try:
        posts = RssAdapter.parse(_billion_laughs(), CONTEXT)
    except ParseError:
        return  # refusing the document is as good as not expanding it
    assert all(len(post.text) < 1000 for post in posts)


def test_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    feed = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        '<rss version="2.0"><channel><title>t</title>'
        "<item><guid>1</guid><title>a &x; b</title></item></channel></rss>"
    ).encode()
    try:
        posts = RssAdapter.parse(feed, CONTEXT)
    except ParseError:
        return
    assert all("TOP-SECRET" not in post.text for post in posts)


# --- HTML fragments to text (monitor.text.html) ---------------------------------------


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        ("no markup at all", "no markup at all"),
        ("a<br>b<br/>c<BR>d", "a\nb\nc\nd"),
        ("<p>one</p><p>two</p>tail", "one\ntwo\ntail"),
        ("<div><p>x</p></div>y", "x\n\ny"),
        ("<ul><li>a</li><li>b</li></ul><h2>H</h2><blockquote>q</blockquote>", "a\nb\nH\nq"),
        ("<script>alert(1)</script>ok<style>p {}</style><template>t</template>!", "ok!"),
        ("AT&amp;T &lt;b&gt; &eacute; &#8230; &#x41;&nbsp;B", "AT&T <b> é … A B"),
        ("red\x1b[31m bell\x07 &#x1b;[2J \x9b6nx", "red[31m bell [2J 6nx"),  # terminal codes
        ("&#x85; &#150;", "… –"),  # as browsers (and libxml2) read C1 references
        ("  a \t b\u00a0\u00a0c  ", "a b c"),
        ("<p>a</p>\n   \n   <p>b</p>", "a\n\nb"),  # a blank string between tags: one newline
        ("a<br><br><br><br>b", "a\n\nb"),
        ("<!-- a comment -->", ""),
        ("", ""),
        ("<?xml version='1.0' encoding='iso-8859-1'?><p>x</p>", "x"),
        ("<div>" * 400 + "deep" + "</div>" * 400, "deep"),  # past libxml2's depth limit
    ],
)
def test_html_to_text(fragment: str, text: str) -> None:
    assert html_to_text(fragment) == text


def test_html_to_text_reads_as_beautifulsoup_did() -> None:
    """The lxml walk gives BeautifulSoup's text on every fragment of the real feeds."""
    fragments = []
    for pattern in ("rss/**/*.*", "atom/*"):
        for path in sorted(REAL_FIXTURES.glob(pattern)):
            feed = feedparser.parse(path.read_bytes(), sanitize_html=False)
            for entry in feed.entries:
                fragments += [entry.get("title", ""), entry.get("summary", "")]
                fragments += [content.value for content in entry.get("content", [])]
    if not fragments:
        pytest.skip(f"{REAL_FIXTURES} is absent")
    for fragment in fragments:
        assert html_to_text(fragment) == _soup_text(fragment), fragment[:200]
