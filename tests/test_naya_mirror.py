"""Real deletions and edits, caught by an html source reading a Telegram mirror page.

The snapshots _a, _b, _c of @naya_foriraq's mirror page (2026-06-14/15, hours
apart) cover shifting ranges of the channel (a: 78711-78812, b: 78726-78829,
c: 78724-78829). Between them the channel deleted 78808 (a->b), 78809 and
78823 (b->c), and edited 78809 and 78810 (a->b) and 78811 (b->c). Served in
turn to one source and polled through the real pipeline on both databases,
exactly those are marked deleted and edited; the fifteen posts that merely
scrolled off the page between a and b are not deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from monitor.config import Selectors
from monitor.demo.server import FeedServer
from monitor.pipeline import PollReport, Runtime, poll_source
from monitor.sources.base import ParseContext, Post, Window
from monitor.sources.html import listing_window
from monitor.sources.html_page import parse_listing, parse_page
from monitor.store.models import FetchRun, Statement
from monitor.store.session import Database
from tests.conftest import real_fixture
from tests.helpers import config_for, runtime_for

MIRROR = "other/naya_foriraq_mirror/naya_foriraq_"
SNAPSHOTS = {
    "a": MIRROR + "2026-06-14T2205Z_a.md",
    "b": MIRROR + "2026-06-14T2346Z_b.md",
    "c": MIRROR + "2026-06-15T0255Z_c.md",
}
SELECTORS = Selectors(
    item="div.tg-post",
    id="@id",
    text=".tg-text",
    link=".tg-footer a@href",
    date=".tg-footer a",
)
SOURCE = """
  - id: naya
    kind: html
    url: {url}
    selectors:
      item: div.tg-post
      id: "@id"
      text: .tg-text
      link: ".tg-footer a@href"
      date: ".tg-footer a"
"""
RULES = """
  - id: negotiations
    match: 'المفاوضات'
"""
RLM = "\u200f"


def snapshot(name: str) -> bytes:
    return real_fixture(SNAPSHOTS.get(name, MIRROR + name)).read_bytes()


def parsed(name: str) -> dict[str, Post]:
    posts = parse_page(snapshot(name), ParseContext("https://example.org/naya"), SELECTORS)
    return {post.external_id: post for post in posts}


def poll(runtime: Runtime, server: FeedServer, name: str) -> PollReport:
    server.serve("/naya", snapshot(name), "text/html; charset=utf-8")
    report = poll_source(runtime, runtime.config.sources[0])
    assert report.status == "ok", report.error
    return report


def statements(db: Database) -> dict[str, Statement]:
    with db.read() as session:
        rows = session.scalars(select(Statement)).all()
        for row in rows:
            _ = row.versions  # loaded while the session is open
        return {row.external_id: row for row in rows}


def test_exactly_the_real_deletions_and_edits_are_found(
    db: Database, feed_server: FeedServer
) -> None:
    config = config_for(SOURCE.format(url=feed_server.url("/naya")), RULES)
    runtime = runtime_for(config, db)
    a, b, c = parsed("a"), parsed("b"), parsed("c")

    first = poll(runtime, feed_server, "a")
    assert (first.new, first.edited, first.deleted) == (100, 0, 0)

    second = poll(runtime, feed_server, "b")
    assert (second.new, second.edited, second.deleted) == (16, 2, 1)
    after_b = statements(db)
    assert {i for i, s in after_b.items() if s.deleted_at} == {"msg-78808"}
    assert {i for i, s in after_b.items() if s.edited} == {"msg-78809", "msg-78810"}
    scrolled_off = set(a) - set(b) - {"msg-78808"}
    assert len(scrolled_off) == 15 and min(scrolled_off) == "msg-78711"
    assert not any(after_b[i].deleted_at for i in scrolled_off)
    between = datetime.now(UTC)

    third = poll(runtime, feed_server, "c")
    assert (third.new, third.edited, third.deleted) == (0, 1, 2)

    rows = statements(db)
    assert len(rows) == 116  # a's 100 and b's 16 new; c brings back 78724-5 from a
    deleted = {i: s.deleted_at for i, s in rows.items() if s.deleted_at}
    assert set(deleted) == {"msg-78808", "msg-78809", "msg-78823"}
    assert deleted["msg-78808"] < between <= deleted["msg-78809"]
    assert deleted["msg-78823"] >= between
    edited = {i for i, s in rows.items() if s.edited}
    assert edited == {"msg-78809", "msg-78810", "msg-78811"}
    assert all(len(s.versions) == 1 for i, s in rows.items() if i not in edited)

    def versions(external_id: str) -> list[str]:
        return [v.text for v in sorted(rows[external_id].versions, key=lambda v: v.version)]

    # 78809: the statement was replaced by another one, then deleted; every text is kept.
    assert versions("msg-78809") == [a["msg-78809"].text, b["msg-78809"].text]
    assert versions("msg-78809")[0] == (
        "🇮🇷\nنائب وزير الخارجية الايراني : لا تعني مذكرة التفاهم هذه الثقة بالعدو، "
        "بل كُتبت بدافع عدم الثقة. سنراقب تنفيذ التزامات الولايات المتحدة."
    )
    assert rows["msg-78809"].text == (
        f"🇮🇷\n{RLM}\nنائب وزير الخارجية الإيراني:\n"
        "ستُجرى المفاوضات للتوصل إلى اتفاق نهائي خلال فترة 60 يوماً."
    )
    # 78810: an emoji and a right-to-left mark put in front.
    assert versions("msg-78810") == [
        f"{RLM}فانس: سأذهب إلى جنيف للمشاركة في التوقيع على الاتفاق مع إيران",
        f"🌟\n{RLM}\nفانس\n: سأذهب إلى جنيف للمشاركة في التوقيع على الاتفاق مع إيران",
    ]
    # 78811: a one-line quote grows into the deputy foreign minister's full statement.
    old, new = versions("msg-78811")
    assert old == a["msg-78811"].text == b["msg-78811"].text
    assert new == c["msg-78811"].text
    assert new.startswith("🇮🇷\nنائب وزير الخارجية الايراني:\nكانت تهديدات إيران الليلة")
    assert len(new.split("\n")) == 7
    # Deleted posts keep their text and link.
    assert rows["msg-78808"].text == a["msg-78808"].text
    assert rows["msg-78823"].url == "https://t.me/naya_foriraq/78823"

    with db.read() as session:
        runs = session.scalars(select(FetchRun).order_by(FetchRun.id)).all()
        counts = [(r.new_count, r.updated_count, r.deleted_count) for r in runs]
    assert counts == [(100, 0, 0), (16, 2, 1), (0, 1, 2)]


def test_the_same_snapshot_again_changes_nothing(db: Database, feed_server: FeedServer) -> None:
    config = config_for(SOURCE.format(url=feed_server.url("/naya")), RULES)
    runtime = runtime_for(config, db)
    poll(runtime, feed_server, "c")
    feed_server.serve("/naya", snapshot("c"), "text/html", conditional=False)
    again = poll_source(runtime, config.sources[0])
    assert (again.new, again.edited, again.deleted, again.unchanged) == (0, 0, 0, 100)


def test_the_adapter_reports_the_windows_it_saw() -> None:
    context = ParseContext("https://example.org/naya")
    windows = [listing_window(parse_listing(snapshot(name), context, SELECTORS)) for name in "abc"]
    assert windows == [Window(78711, 78812), Window(78726, 78829), Window(78724, 78829)]


@pytest.mark.parametrize(
    ("name", "newest", "oldest", "sample", "text"),
    [
        (
            "2026-05-16T1752Z.md",
            "msg-75511",
            "msg-75406",
            "msg-75499",
            "🤺\nحزب الله:\nمشاهد من عملية استهداف المقاومة الإسلامية بتاريخ 09-05-2026 جرّافة "
            "تابعة لجيش العدو الإسرائيلي عند خلّة الراج في بلدة دير سريان جنوبيّ لبنان "
            "بمحلّقة انقضاضيّة.",
        ),
        (
            "2026-07-10T2018Z.md",
            "msg-82336",
            "msg-82230",
            "msg-82323",
            f"{RLM}ترمب: بإمكان سوريا المساعدة في مجابهة حزب الله {RLM}سأرفع سوريا من قائمة "
            "الدول الراعية للإرهاب",
        ),
        (
            "2026-07-29T2256Z.md",
            "msg-86269",
            "msg-86154",
            "msg-86269",
            "الطيران المدني يتجنب الدخول في أجواء الرياض. ثلاثة طائرات قادمة من نيودلهي ؛ جدة",
        ),
    ],
)
def test_other_snapshots_parse_with_the_same_selectors(
    name: str, newest: str, oldest: str, sample: str, text: str
) -> None:
    posts = list(parsed(name).values())
    assert len(posts) == 100
    assert (posts[0].external_id, posts[-1].external_id) == (newest, oldest)
    assert all(post.text for post in posts)
    by_id = {post.external_id: post for post in posts}
    assert by_id[sample].text.startswith(text)
    number = sample.removeprefix("msg-")
    assert by_id[sample].url == f"https://t.me/naya_foriraq/{number}"
    assert by_id[sample].sort_key == int(number)


def test_statements_in_the_july_snapshots_are_whole() -> None:
    july = parsed("2026-07-10T2018Z.md")
    hamidawi = july["msg-82318"].text.split("\n")
    assert hamidawi[:3] == [
        "🇮🇶",
        "الأمين العام لكتائب حزب الله الحاج أبو حسين الحميداوي:",
        "بسم الله الرحمن الرحيم",
    ]
    assert hamidawi[-2:] == ["الأمين العام لكتائب حزب الله", "الحاج أبو حسين الحميداوي"]
    iri = parsed("2026-07-29T2256Z.md")["msg-86205"].text.split("\n")
    assert iri[-2:] == ["المقاومة الإسلامية في العراق", "29 تموز 2026"]
    assert iri[0] == "بسم الله الرحمن الرحيم"


@pytest.mark.parametrize(
    ("name", "external_id", "printed", "utc"),
    [
        ("a", "msg-78812", "📅 01:32 · 25 Khordad 1405", datetime(2026, 6, 14, 22, 2)),
        ("a", "msg-78711", "📅 16:43 · 24 Khordad 1405", datetime(2026, 6, 14, 13, 13)),
        (
            "2026-05-16T1752Z.md",
            "msg-75511",
            "📅 21:16 · 26 Ordibehesht 1405",
            datetime(2026, 5, 16, 17, 46),
        ),
        (
            "2026-07-10T2018Z.md",
            "msg-82323",
            "📅 22:36 · 19 Tir 1405",
            datetime(2026, 7, 10, 19, 6),
        ),
        (
            "2026-07-29T2256Z.md",
            "msg-86269",
            "📅 02:21 · 08 Mordad 1405",
            datetime(2026, 7, 29, 22, 51),
        ),
    ],
)
def test_jalali_footer_times_are_tehran_time(
    name: str, external_id: str, printed: str, utc: datetime
) -> None:
    """The newest post of each snapshot lands minutes before the snapshot was taken
    (22:05Z, 17:52Z, 20:18Z, 22:56Z): the mirror prints Asia/Tehran time (UTC+3:30)."""
    pytest.importorskip("jdatetime")
    post = parsed(name)[external_id]
    assert post.extra["date_text"] == printed
    assert post.published_at == utc.replace(tzinfo=UTC)
