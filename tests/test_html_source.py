"""The html kind: selectors, dates, sort keys and windows, following links, real pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from monitor.config import HtmlSource, Selectors
from monitor.demo.server import FeedServer
from monitor.errors import HTTPStatusError, ParseError
from monitor.http import HttpClient, HttpSettings
from monitor.pipeline import poll_source
from monitor.sources.base import FetchResult, FetchState, ParseContext, Post, Window
from monitor.sources.html import HtmlAdapter
from monitor.sources.html_dates import parse_date
from monitor.sources.html_page import parse_listing, parse_page, trailing_number
from monitor.store.models import RawResponse, Statement
from monitor.store.session import Database
from tests.conftest import real_fixture
from tests.helpers import config_for, runtime_for

URL = "https://example.org/statements"
CONTEXT = ParseContext(URL, "text/html; charset=utf-8")
SELECTORS = Selectors(
    item="article.statement",
    id="@id",
    text=".body",
    link="a.permalink@href",
    date="time@datetime",
    author=".author",
)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def statement(
    number: int,
    text: str,
    when: str = "2026-11-21T14:05:00+03:00",
    *,
    href: str | None = None,
    author: str = "المكتب الإعلامي",
) -> str:
    link = href or f"/statements/{number}"
    return (
        f'<article class="statement" id="st-{number}">'
        f'<a class="permalink" href="{link}">بيان رقم {number}</a>'
        f'<time datetime="{when}">{when}</time>'
        f'<div class="body">{text}</div><span class="author">{author}</span></article>'
    )


def page(*items: str, head: str = "") -> bytes:
    return (
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">{head}</head>'
        f"<body><h1>البيانات</h1>{''.join(items)}</body></html>"
    ).encode()


def parse(body: bytes, selectors: Selectors = SELECTORS) -> list[Post]:
    return parse_page(body, CONTEXT, selectors, now=NOW)


# --- Selectors -----------------------------------------------------------------------------


def test_each_selector_reads_its_field() -> None:
    body = page(statement(4129, "<p>نعلن الحداد</p><p>ثلاثة أيام<br>في كل المدن</p>"))
    [post] = parse(body)
    assert post.external_id == "st-4129"  # "@id": the item's own attribute
    assert post.text == "نعلن الحداد\nثلاثة أيام\nفي كل المدن"  # line breaks kept
    assert post.url == "https://example.org/statements/4129"  # resolved against the page
    assert post.published_at == datetime(2026, 11, 21, 11, 5, tzinfo=UTC)
    assert post.author == "المكتب الإعلامي"
    assert post.sort_key == 4129
    assert post.extra == {"date_text": "2026-11-21T14:05:00+03:00"}


def test_text_takes_every_match_and_attributes_take_the_first() -> None:
    body = page(
        '<article class="statement" data-id="7"><p>أولاً</p><p>ثانياً</p>'
        '<img src="/a.jpg" alt="صورة"><img src="/b.jpg" alt="أخرى"></article>'
    )
    paragraphs = Selectors(item="article.statement", text="p", id="@data-id")
    assert parse(body, paragraphs)[0].text == "أولاً\n\nثانياً"
    alt = Selectors(item="article.statement", text="img@alt", id="@data-id")
    assert parse(body, alt)[0].text == "صورة"
    whole = Selectors(item="article.statement", text=":scope", id="@data-id")
    assert parse(body, whole)[0].text == "أولاً\nثانياً"


def test_id_defaults_to_the_link_then_to_a_hash_of_the_text() -> None:
    body = page(
        statement(1, "نص أول"),
        '<article class="statement"><div class="body">بلا رابط</div></article>',
    )
    no_id = Selectors(item="article.statement", text=".body", link="a.permalink")
    first, second = parse(body, no_id)
    assert first.external_id == first.url == "https://example.org/statements/1"  # href by default
    assert second.url is None
    assert second.external_id.startswith("sha256:") and len(second.external_id) == 39
    assert parse(body, no_id)[1].external_id == second.external_id  # stable


def test_links_use_base_href_and_drop_non_http_ones() -> None:
    body = page(
        statement(1, "أ", href="1.html"),
        statement(2, "ب", href="javascript:void(0)"),
        head='<base href="https://mirror.example.net/archive/">',
    )
    first, second = parse(body)
    assert first.url == "https://mirror.example.net/archive/1.html"
    assert second.url is None


def test_an_item_shown_twice_is_one_post_and_empty_decoration_is_skipped() -> None:
    body = page(
        statement(3, "مثبت"),
        '<article class="statement"></article>',  # nothing to say, no id
        statement(3, "مثبت"),
        statement(2, "ثان"),
    )
    assert [post.external_id for post in parse(body)] == ["st-3", "st-2"]


def test_an_item_selector_matching_nothing_is_a_parse_error() -> None:
    body = page("<p>Site under maintenance</p>")
    with pytest.raises(ParseError) as caught:
        parse(body)
    assert str(caught.value) == (
        "selector 'article.statement' matched nothing on https://example.org/statements"
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"   \n", b"\x00\x01\x02\xff\xfe binary", b'{"json": "not html"}', b"<html><body"],
    ids=["empty", "blank", "binary", "json", "cut-short"],
)
def test_malformed_pages_are_parse_errors(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse(body)


def test_a_selector_that_is_not_css_is_a_parse_error() -> None:
    broken = Selectors(item="article.statement", text="div[class=", id="@id")
    with pytest.raises(ParseError) as caught:
        parse(page(statement(1, "أ")), broken)
    assert str(caught.value) == (
        "selectors.text 'div[class=' is not valid CSS: Malformed attribute selector at position 3"
    )


def test_a_truncated_page_keeps_the_items_it_has() -> None:
    body = page(statement(2, "كامل"), statement(1, "مقطوع"))
    cut = body[: body.index("مقطوع".encode()) + len("مقطوع".encode())]
    posts = parse(cut)  # lxml closes what the cut left open
    assert [(post.external_id, post.text) for post in posts] == [
        ("st-2", "كامل"),
        ("st-1", "مقطوع"),
    ]


def test_legacy_encodings_are_read() -> None:
    body = page(statement(9, "بيان بترميز قديم")).replace(b'charset="utf-8"', b"")
    legacy = body.decode().encode("cp1256")
    posts = parse_page(legacy, ParseContext(URL, "text/html; charset=windows-1256"), SELECTORS)
    assert posts[0].text == "بيان بترميز قديم"


# --- Sort keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("external_id", "number"),
    [
        ("msg-78808", 78808),
        ("https://example.org/statements/4129", 4129),
        ("https://example.org/statements/4129/", 4129),
        ("https://example.org/news/4129.html", 4129),
        ("https://example.org/?p=7223", 7223),
        ("node-openpublish-article-164913", 164913),
        ("12", 12),
        ("https://example.org/2026/11/21", None),  # a date, not a counter
        ("report-2026-11-21", None),
        ("a3f9c2", None),  # a hash that happens to end in a digit
        ("post123", None),
        ("https://example.org/statements/latest", None),
        ("sha256:" + "0" * 32, None),
    ],
)
def test_trailing_numbers(external_id: str, number: int | None) -> None:
    assert trailing_number(external_id) == number


def test_sort_keys_come_from_ids_then_dates_else_none() -> None:
    by_id = parse_listing(page(statement(5, "أ"), statement(4, "ب")), CONTEXT, SELECTORS, now=NOW)
    assert (by_id.basis, [p.sort_key for p in by_id.posts]) == ("id", [5, 4])

    slugs = Selectors(item="article.statement", text=".body", link="a.permalink", date="time")
    dated = page(
        statement(0, "أ", "2026-11-21T10:00:00Z", href="/s/truce"),
        statement(0, "ب", "2026-11-20T10:00:00Z", href="/s/war"),
    )
    by_date = parse_listing(dated, CONTEXT, slugs, now=NOW)
    assert by_date.basis == "date"
    days = (datetime(2026, 11, 21, 10, tzinfo=UTC), datetime(2026, 11, 20, 10, tzinfo=UTC))
    assert [p.sort_key for p in by_date.posts] == [int(d.timestamp() * 1000) for d in days]

    relative = page(
        statement(0, "أ", "منذ ساعتين", href="/s/truce"), statement(0, "ب", "أمس", href="/s/war")
    )
    unkeyed = parse_listing(relative, CONTEXT, slugs, now=NOW)
    assert unkeyed.basis is None and {p.sort_key for p in unkeyed.posts} == {None}
    assert unkeyed.posts[0].published_at == NOW - timedelta(hours=2)
    assert unkeyed.posts[0].extra == {"date_text": "منذ ساعتين", "date_relative": True}


# --- Dates ---------------------------------------------------------------------------------

BAGHDAD = ZoneInfo("Asia/Baghdad")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ISO 8601 and RFC 822
        ("2026-11-21T14:05:00+03:00", datetime(2026, 11, 21, 11, 5)),
        ("2026-11-21T14:05:00Z", datetime(2026, 11, 21, 14, 5)),
        ("2026-11-21T14:05:00.123456+00:00", datetime(2026, 11, 21, 14, 5, 0, 123456)),
        ("2026-11-21 14:05", datetime(2026, 11, 21, 14, 5)),
        ("2026-11-21", datetime(2026, 11, 21)),
        ("Published: 2026-11-21T14:05:00Z", datetime(2026, 11, 21, 14, 5)),
        ("Sat, 21 Nov 2026 14:05:00 +0000", datetime(2026, 11, 21, 14, 5)),
        ("Sat, 21 Nov 2026 14:05:00 GMT", datetime(2026, 11, 21, 14, 5)),
        ("Sat, 21 Nov 2026 14:05:00 EST", datetime(2026, 11, 21, 19, 5)),
        # English
        ("21 November 2026", datetime(2026, 11, 21)),
        ("21st November 2026", datetime(2026, 11, 21)),
        ("Nov 21, 2026 14:05", datetime(2026, 11, 21, 14, 5)),
        ("November 21, 2026 at 2:05 PM", datetime(2026, 11, 21, 14, 5)),
        ("Saturday, 21 Nov. 2026 12:30 am", datetime(2026, 11, 21, 0, 30)),
        ("21-Nov-2026", datetime(2026, 11, 21)),
        ("Sept 3, 2026", datetime(2026, 9, 3)),
        # Arabic month names, Arabic-Indic digits, ص/م
        ("٢١ نوفمبر ٢٠٢٦", datetime(2026, 11, 21)),
        ("السبت 21 نوفمبر 2026 - 14:05", datetime(2026, 11, 21, 14, 5)),
        ("21 تشرين الثاني 2026", datetime(2026, 11, 21)),
        ("٢١ تشرين الثاني ٢٠٢٦ ٠٢:٠٥ م", datetime(2026, 11, 21, 14, 5)),
        ("3 كانون الثاني 2026", datetime(2026, 1, 3)),
        ("3 كانون الأول 2026", datetime(2026, 12, 3)),
        ("21 نوفمبر/تشرين الثاني 2026", datetime(2026, 11, 21)),
        ("الأربعاء، 28 آب/اغسطس 2013، آخر تحديث 14:00 (GMT+0400)", datetime(2013, 8, 28, 10)),
        ("5 أيار 2026", datetime(2026, 5, 5)),
        ("5 ايار 2026", datetime(2026, 5, 5)),
        ("15 آذار 2026 10:00 ص", datetime(2026, 3, 15, 10)),
        ("1 أبريل 2026", datetime(2026, 4, 1)),
        ("1 إبريل 2026", datetime(2026, 4, 1)),
        ("الجمعة 8 فيفري 2019", datetime(2019, 2, 8)),
        ("14 جويلية 2026", datetime(2026, 7, 14)),
        ("12 غشت 2026", datetime(2026, 8, 12)),
        ("الخميس 15 جمادى الأولى 1448 هـ الموافق 26 نوفمبر 2026م", datetime(2026, 11, 26)),
        # Numbers only: day first unless it cannot be
        ("21/11/2026", datetime(2026, 11, 21)),
        ("21.11.2026 14:05", datetime(2026, 11, 21, 14, 5)),
        ("03/04/2026", datetime(2026, 4, 3)),
        ("11/21/2026", datetime(2026, 11, 21)),
        ("2026/11/21", datetime(2026, 11, 21)),
        # Relative, from NOW = 2026-11-21 12:00 UTC
        ("just now", datetime(2026, 11, 21, 12)),
        ("منذ قليل", datetime(2026, 11, 21, 12)),
        ("5 minutes ago", datetime(2026, 11, 21, 11, 55)),
        ("an hour ago", datetime(2026, 11, 21, 11)),
        ("2 hours ago", datetime(2026, 11, 21, 10)),
        ("3h ago", datetime(2026, 11, 21, 9)),
        ("yesterday", datetime(2026, 11, 20, 12)),
        ("Yesterday at 14:05", datetime(2026, 11, 20, 14, 5)),
        ("today 09:30", datetime(2026, 11, 21, 9, 30)),
        ("منذ دقيقة", datetime(2026, 11, 21, 11, 59)),
        ("منذ ساعة", datetime(2026, 11, 21, 11)),
        ("منذ ساعتين", datetime(2026, 11, 21, 10)),
        ("منذ 3 ساعات", datetime(2026, 11, 21, 9)),
        ("منذ ٣ ساعات", datetime(2026, 11, 21, 9)),
        ("قبل 11 ساعة", datetime(2026, 11, 21, 1)),
        ("منذ يوم", datetime(2026, 11, 20, 12)),
        ("منذ يومين", datetime(2026, 11, 19, 12)),
        ("منذ 3 أيام", datetime(2026, 11, 18, 12)),
        ("منذ أسبوعين", datetime(2026, 11, 7, 12)),
        ("منذ شهر", datetime(2026, 10, 22, 12)),
        ("أمس", datetime(2026, 11, 20, 12)),
        ("الأمس", datetime(2026, 11, 20, 12)),
        ("أمس 14:05", datetime(2026, 11, 20, 14, 5)),
        ("اليوم ١٠:١٥", datetime(2026, 11, 21, 10, 15)),
        # Unparseable or missing
        ("", None),
        ("   ", None),
        ("غير معروف", None),
        ("منذ ساعات", None),  # "hours ago": how many?
        ("31 February 2026", None),
        ("32/13/2026", None),
        ("1405-03-25 01:32:36", None),  # Jalali or Hijri in digits alone: cannot tell
        ("15 جمادى الأولى 1448 هـ", None),  # Hijri: not supported
        ("14:05", None),  # a time without a day
    ],
)
def test_dates(text: str, expected: datetime | None) -> None:
    parsed = parse_date(text, now=NOW)
    when = parsed.when if parsed else None
    assert when == (expected.replace(tzinfo=UTC) if expected else None)
    if parsed is not None:
        assert parsed.when.tzinfo is UTC


def test_relative_dates_are_flagged() -> None:
    relative = parse_date("منذ ساعتين", now=NOW)
    absolute = parse_date("21 نوفمبر 2026", now=NOW)
    assert relative is not None and relative.relative
    assert absolute is not None and not absolute.relative


def test_times_without_a_zone_are_read_in_the_configured_zone() -> None:
    for text in ("21 تشرين الثاني 2026 14:05", "2026-11-21T14:05:00", "21/11/2026 14:05"):
        parsed = parse_date(text, now=NOW, tz=BAGHDAD)
        assert parsed is not None and parsed.when == datetime(2026, 11, 21, 11, 5, tzinfo=UTC)
    explicit = parse_date("2026-11-21T14:05:00+00:00", now=NOW, tz=BAGHDAD)
    assert explicit is not None and explicit.when == datetime(2026, 11, 21, 14, 5, tzinfo=UTC)
    yesterday = parse_date("أمس 14:05", now=NOW, tz=BAGHDAD)
    assert yesterday is not None and yesterday.when == datetime(2026, 11, 20, 11, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("📅 01:32 · 25 Khordad 1405", datetime(2026, 6, 14, 22, 2)),  # Tehran is UTC+3:30
        ("📅 21:16 · 26 Ordibehesht 1405", datetime(2026, 5, 16, 17, 46)),
        ("1 Farvardin 1405", datetime(2026, 3, 20, 20, 30)),  # Nowruz, midnight in Tehran
        ("۲۵ خرداد ۱۴۰۵ ۰۱:۳۲", datetime(2026, 6, 14, 22, 2)),
        ("10 Dey 1404", datetime(2025, 12, 30, 20, 30)),
        ("31 Esfand 1405", None),  # 1405 is not a leap year: Esfand has 29 days
    ],
)
def test_jalali_dates(text: str, expected: datetime | None) -> None:
    pytest.importorskip("jdatetime")
    parsed = parse_date(text, now=NOW)
    assert (parsed.when if parsed else None) == (expected.replace(tzinfo=UTC) if expected else None)


def test_a_configured_zone_wins_for_jalali_dates_too() -> None:
    pytest.importorskip("jdatetime")
    parsed = parse_date("01:32 · 25 Khordad 1405", now=NOW, tz=UTC)
    assert parsed is not None and parsed.when == datetime(2026, 6, 15, 1, 32, tzinfo=UTC)


# --- Real pages ----------------------------------------------------------------------------


def test_cnn_arabic_article_matches_the_extractor_oracle() -> None:
    body = real_fixture("html/cnn_arabic_syria_clashes_2013.html").read_bytes()
    expected = real_fixture("html/cnn_arabic_syria_clashes_2013.expected_text.txt").read_text()
    selectors = Selectors(
        item="html",  # one article per page; "html" lets the selectors reach <head>
        text="div.cnn_strycntntrgt > p",
        link="link[rel=canonical]@href",
        date=".cnn_strytmstmp",
    )
    context = ParseContext("http://arabic.cnn.com/2013/middle_east/8/3/syria.clashes/index.html")
    [post] = parse_page(body, context, selectors)
    # Exactly newspaper's oracle, paragraph breaks included (not only after normalizing).
    assert post.text == expected.strip()
    assert len(post.text.split("\n\n")) == 7
    assert post.external_id == post.url == context.url
    # "الأربعاء، 28 آب/اغسطس 2013، آخر تحديث 14:00 (GMT+0400)"
    assert post.published_at == datetime(2013, 8, 28, 10, 0, tzinfo=UTC)


def test_assabah_article_with_drupal_markup() -> None:
    body = real_fixture("html/assabah_com_tn_arabic_article.html").read_bytes()
    selectors = Selectors(
        item="article.node",
        id="@id",
        text=".field-name-body",
        link="@about",
        date=".date-display-single@content",
    )
    context = ParseContext("http://www.assabah.com.tn/article/164913")
    [post] = parse_page(body, context, selectors)
    assert post.external_id == "node-openpublish-article-164913"
    assert post.sort_key == 164913
    assert post.url is not None and post.url.startswith(
        "http://www.assabah.com.tn/article/164913/%D8%A7%D9%84%D9%86%D8%A7%D8%B4%D8%B7"
    )
    assert post.published_at == datetime(2019, 2, 7, 23, 0, tzinfo=UTC)  # 2019-02-08T00:00+01:00
    paragraphs = post.text.split("\n\n")
    assert paragraphs[0] == "حوار: آسيا العتروس"
    assert paragraphs[1].startswith("مالذي يحدث في السودان؟ والى أين يتجه البلد")
    assert post.text.endswith("والدفع الى اعادة التفكير في العلاقة بين الخرطوم وتل ابيب.")
    assert "\n-نحن في السودان لا نعرف من الفصول غير الصيف والشتاء،" in post.text  # <br> kept
    # The same page's printed date, in the Tunisian month name.
    printed = Selectors(
        item="article.node", id="@id", text=".field-name-body", date=".date-display-single"
    )
    assert parse_page(body, context, printed)[0].published_at == datetime(2019, 2, 8, tzinfo=UTC)


# --- Fetching ------------------------------------------------------------------------------


@pytest.fixture
def http() -> Iterator[HttpClient]:
    settings = HttpSettings(
        user_agent="monitor-test/1",
        timeout_seconds=2.0,
        max_response_bytes=1_000_000,
        per_host_delay=0,
        retries=0,
    )
    with HttpClient(settings) as client:
        yield client


def _poll(
    adapter: HtmlAdapter, http: HttpClient, state: FetchState
) -> tuple[list[Post], FetchState, list[Window]]:
    result = adapter.fetch(http, state)
    cursor = result.cursor if result.cursor is not None else state.cursor
    return list(result.posts), FetchState(result.validators, cursor), list(result.windows)


def test_fetch_uses_conditional_get_and_windows_after_two_ordered_listings(
    feed_server: FeedServer, http: HttpClient
) -> None:
    feed_server.serve(
        "/s", page(statement(12, "ج"), statement(11, "ب"), statement(10, "أ")), "text/html"
    )
    adapter = HtmlAdapter(feed_server.url("/s"), SELECTORS)

    posts, state, windows = _poll(adapter, http, FetchState())
    assert [p.sort_key for p in posts] == [12, 11, 10] and {p.response for p in posts} == {0}
    assert windows == []  # one ordered listing can be chance
    assert state.cursor == {"ordered_by": "id"}

    result = adapter.fetch(http, state)
    assert result.not_modified and result.http_status == 304 and result.cursor is None

    feed_server.serve(
        "/s", page(statement(13, "د"), statement(12, "ج"), statement(10, "أ")), "text/html"
    )
    posts, state, windows = _poll(adapter, http, state)
    assert windows == [Window(10, 13)]

    # A curated order says nothing, and the next ordered listing starts over.
    feed_server.serve("/s", page(statement(10, "أ"), statement(13, "د")), "text/html")
    assert _poll(adapter, http, state)[2] == [Window(10, 13)]  # ascending is ordered too
    feed_server.serve(
        "/s", page(statement(13, "د"), statement(10, "أ"), statement(12, "ج")), "text/html"
    )
    _, state, windows = _poll(adapter, http, state)
    assert windows == [] and state.cursor == {"ordered_by": None}
    feed_server.serve("/s", page(statement(13, "د"), statement(12, "ج")), "text/html")
    assert _poll(adapter, http, state)[2] == []


def test_date_windows_leave_out_the_oldest_time(feed_server: FeedServer, http: HttpClient) -> None:
    slugs = Selectors(item="article.statement", text=".body", link="a.permalink", date="time")
    listing = [
        statement(0, "ج", "2026-11-21T12:00:00Z", href="/s/c"),
        statement(0, "ب", "2026-11-21T11:00:00Z", href="/s/b"),
        statement(0, "أ", "2026-11-21T10:00:00Z", href="/s/a"),
    ]
    feed_server.serve("/s", page(*listing), "text/html")
    adapter = HtmlAdapter(feed_server.url("/s"), slugs)
    _, state, _ = _poll(adapter, http, FetchState())
    assert state.cursor == {"ordered_by": "date"}
    feed_server.serve("/s", page(listing[0], listing[2]), "text/html")
    _, _, windows = _poll(adapter, http, state)
    ten, twelve = (int(datetime(2026, 11, 21, h, tzinfo=UTC).timestamp() * 1000) for h in (10, 12))
    assert windows == [Window(ten + 1, twelve)]


def test_an_error_page_is_a_fetch_error(feed_server: FeedServer, http: HttpClient) -> None:
    feed_server.serve("/s", b"<html>gone</html>", "text/html", status=404)
    with pytest.raises(HTTPStatusError):
        HtmlAdapter(feed_server.url("/s"), SELECTORS).fetch(http, FetchState())


FOLLOW = Selectors(
    item="li.statement",
    text="a",
    link="a@href",
    date="span.date",
    body="div.article-body p",
    author=".byline",
)


def listing_page(*numbers: int) -> bytes:
    items = "".join(
        f'<li class="statement"><a href="/statements/{n}">عنوان البيان {n}</a>'
        f'<span class="date">منذ {n} ساعات</span></li>'
        for n in numbers
    )
    return f"<html><body><ul>{items}</ul></body></html>".encode()


def article_page(number: int) -> bytes:
    return (
        f"<html><body><h1>عنوان البيان {number}</h1><div class='byline'>أكرم الكعبي</div>"
        f"<time>21 تشرين الثاني 2026 14:0{number % 10}</time>"
        f"<div class='article-body'><p>الفقرة الأولى من البيان {number}</p>"
        f"<p>الفقرة الثانية</p></div></body></html>"
    ).encode()


def test_follow_reads_each_new_items_page_a_few_per_poll(
    feed_server: FeedServer, http: HttpClient
) -> None:
    feed_server.serve("/list", listing_page(5, 4, 3), "text/html")
    for n in (3, 4, 5, 6):
        feed_server.serve(f"/statements/{n}", article_page(n), "text/html")
    adapter = HtmlAdapter(feed_server.url("/list"), FOLLOW, follow=True, follow_limit=2)

    result = adapter.fetch(http, FetchState())
    first = result.posts
    assert [p.external_id for p in first] == [
        feed_server.url("/statements/5"),
        feed_server.url("/statements/4"),
    ]
    five = first[0]
    assert five.title == "عنوان البيان 5"
    assert five.text == "الفقرة الأولى من البيان 5\n\nالفقرة الثانية"
    assert five.author == "أكرم الكعبي"  # not in the listing: taken from the article
    assert five.extra["date_relative"] is True  # the listing's own date comes first
    assert [r.url for r in result.responses] == [
        feed_server.url("/list"),
        feed_server.url("/statements/5"),
        feed_server.url("/statements/4"),
    ]
    assert [p.response for p in first] == [1, 2]
    assert result.windows == []
    assert result.cursor == {
        "ordered_by": "id",
        "followed": [p.external_id for p in first],
        "pending": True,
    }
    assert result.bytes_read == sum(len(r.body) for r in result.responses)

    # Item 3 waited; the listing has not changed, but no conditional GET hides it.
    state = FetchState(result.validators, result.cursor)
    second = adapter.fetch(http, state)
    assert [p.external_id for p in second.posts] == [feed_server.url("/statements/3")]
    assert second.cursor is not None and second.cursor["pending"] is False
    assert "If-None-Match" not in feed_server.last_headers["/list"]

    # Now a 304; then a new item is followed and the ones followed before are not.
    state = FetchState(second.validators, second.cursor)
    assert adapter.fetch(http, state).not_modified
    feed_server.serve("/list", listing_page(6, 5, 4), "text/html")
    third = adapter.fetch(http, state)
    assert [p.external_id for p in third.posts] == [feed_server.url("/statements/6")]
    assert third.cursor is not None
    assert third.cursor["followed"] == [feed_server.url(f"/statements/{n}") for n in (6, 5, 4)]
    assert feed_server.log.count("/statements/5") == 1


def test_follow_falls_back_to_the_listing_when_a_page_is_gone_or_empty(
    feed_server: FeedServer, http: HttpClient
) -> None:
    feed_server.serve("/list", listing_page(2, 1), "text/html")
    feed_server.serve(
        "/statements/1", b"<html><body><p>no body here</p></body></html>", "text/html"
    )
    # /statements/2 is not served: 404
    adapter = HtmlAdapter(feed_server.url("/list"), FOLLOW, follow=True)
    two, one = adapter.fetch(http, FetchState()).posts
    assert (two.text, two.title, two.response) == ("عنوان البيان 2", None, 0)
    assert two.extra["follow_error"] == f"HTTP 404 from {feed_server.url('/statements/2')}"
    assert one.text == "عنوان البيان 1" and one.response == 1
    assert one.extra["follow_error"] == (
        f"selector 'div.article-body p' matched nothing on {feed_server.url('/statements/1')}"
    )


def test_follow_fails_the_poll_on_a_server_error(feed_server: FeedServer, http: HttpClient) -> None:
    feed_server.serve("/list", listing_page(1), "text/html")
    feed_server.serve("/statements/1", b"busy", "text/plain", status=503)
    adapter = HtmlAdapter(feed_server.url("/list"), FOLLOW, follow=True)
    with pytest.raises(HTTPStatusError) as caught:
        adapter.fetch(http, FetchState())
    assert caught.value.status == 503


def test_follow_refuses_links_from_a_public_page_into_the_local_network(http: HttpClient) -> None:
    adapter = HtmlAdapter("https://example.org/list", FOLLOW, follow=True)
    post = Post(external_id="x", text="عنوان", url="http://169.254.169.254/latest/meta-data/")
    followed = adapter._followed(http, post, [])
    assert followed.text == "عنوان"
    assert followed.extra["follow_error"] == (
        "link from https://example.org/list to the internal address "
        "http://169.254.169.254/latest/meta-data/ refused"
    )


def test_parse_body_and_the_kind_wide_parse() -> None:
    adapter = HtmlAdapter(URL, SELECTORS)
    [post] = adapter.parse_body(page(statement(1, "أ")), ParseContext())
    assert (post.external_id, post.url) == ("st-1", "https://example.org/statements/1")
    with pytest.raises(ParseError, match="needs a source's selectors"):
        HtmlAdapter.parse(page(statement(1, "أ")), CONTEXT)
    with pytest.raises(ValueError):
        HtmlAdapter(URL, SELECTORS, follow=True)  # no selectors.body


# --- Through the pipeline ------------------------------------------------------------------

RULES = """
  - id: war
    match: 'الحرب'
"""
NO_DELAY = "settings: {per_host_delay: 0}"


def html_source(url: str, extra: str = "") -> str:
    return f"""
  - id: kh-site
    kind: html
    url: {url}
    leader: abu-hussein-al-hamidawi
    selectors:
      item: article.statement
      text: .body
      link: "a.permalink@href"
      date: "time@datetime"
{extra}"""


def test_a_statement_deleted_from_a_dated_listing_is_marked_deleted(
    db: Database, feed_server: FeedServer
) -> None:
    # Dated within alert_max_age of today, or the match would be backlog (no alert).
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    if noon > datetime.now(UTC):
        noon -= timedelta(days=1)
    at = [(noon - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ") for hours in range(3)]
    items = [
        statement(0, "نعلن الحرب", at[0], href="/s/war"),
        statement(0, "هدنة", at[1], href="/s/truce"),
        statement(0, "تعزية", at[2], href="/s/condolence"),
    ]
    feed_server.serve("/s", page(*items), "text/html")
    config = config_for(html_source(feed_server.url("/s")), RULES, NO_DELAY)
    runtime = runtime_for(config, db)
    source = config.sources[0]
    first = poll_source(runtime, source)
    assert (first.status, first.new, first.alerts) == ("ok", 3, 1)

    feed_server.serve("/s", page(items[0], items[2]), "text/html")
    second = poll_source(runtime, source)
    assert (second.new, second.edited, second.deleted) == (0, 0, 1)
    with db.read() as session:
        rows = {s.url: s for s in session.scalars(select(Statement))}
    truce = rows[feed_server.url("/s/truce")]
    assert truce.deleted_at is not None and truce.text == "هدنة"
    assert truce.leader_id == "abu-hussein-al-hamidawi"
    assert truce.published_at == noon - timedelta(hours=1)
    assert [s.deleted_at is None for s in rows.values()].count(True) == 2


def follow_source(url: str) -> str:
    return f"""
  - id: kh-site
    kind: html
    url: {url}
    selectors:
      item: li.statement
      text: a
      link: "a@href"
      body: div.article-body p
    follow: true
"""


def test_followed_pages_are_kept_as_evidence(db: Database, feed_server: FeedServer) -> None:
    feed_server.serve("/list", listing_page(1), "text/html")
    feed_server.serve("/statements/1", article_page(1), "text/html")
    config = config_for(follow_source(feed_server.url("/list")), RULES, NO_DELAY)
    runtime = runtime_for(config, db)
    report = poll_source(runtime, config.sources[0])
    assert (report.status, report.new) == ("ok", 1)
    with db.read() as session:
        statement_row = session.scalars(select(Statement)).one()
        raw = session.get_one(RawResponse, statement_row.versions[0].raw_response_id)
    assert statement_row.text == "الفقرة الأولى من البيان 1\n\nالفقرة الثانية"
    assert statement_row.title == "عنوان البيان 1"
    assert raw.url == feed_server.url("/statements/1")


@pytest.mark.skipif(
    "seen_ids" not in FetchResult.__dataclass_fields__,
    reason="needs FetchResult.seen_ids (requested from the lead)",
)
def test_a_followed_statement_deleted_from_the_listing_is_marked_deleted(
    db: Database, feed_server: FeedServer
) -> None:
    feed_server.serve("/list", listing_page(3, 2, 1), "text/html")
    for n in (1, 2, 3):
        feed_server.serve(f"/statements/{n}", article_page(n), "text/html")
    config = config_for(follow_source(feed_server.url("/list")), RULES, NO_DELAY)
    runtime = runtime_for(config, db)
    assert poll_source(runtime, config.sources[0]).new == 3
    feed_server.serve("/list", listing_page(3, 1), "text/html")
    report = poll_source(runtime, config.sources[0])
    assert (report.new, report.edited, report.deleted) == (0, 0, 1)
    with db.read() as session:
        gone = session.scalars(select(Statement).where(Statement.deleted_at.is_not(None))).one()
    assert gone.url == feed_server.url("/statements/2")
    assert gone.text == "الفقرة الأولى من البيان 2\n\nالفقرة الثانية"
    assert feed_server.requests["/statements/3"] == 1  # nothing followed twice


@pytest.mark.skipif(
    "timezone" not in HtmlSource.model_fields,
    reason="needs HtmlSource.timezone (requested from the lead)",
)
def test_a_configured_time_zone_reads_zone_less_times(
    db: Database, feed_server: FeedServer
) -> None:
    printed = statement(7, "بيان", "21 تشرين الثاني 2026 14:05")
    feed_server.serve("/s", page(printed), "text/html")
    source = html_source(feed_server.url("/s")).replace('"time@datetime"', "time")
    config = config_for(source + "    timezone: Asia/Baghdad\n", RULES, NO_DELAY)
    runtime = runtime_for(config, db)
    assert poll_source(runtime, config.sources[0]).new == 1
    with db.read() as session:
        row = session.scalars(select(Statement)).one()
    assert row.published_at == datetime(2026, 11, 21, 11, 5, tzinfo=UTC)
