"""The telegram kind: the parser on every real t.me/s capture, paging over a real
loopback server, and edits and deletions through the whole poll on both databases.

Expected values are read off the captures themselves (see the comments), not
off the parser's output.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from monitor.config import TelegramSource
from monitor.demo.server import FeedServer
from monitor.errors import (
    FetchError,
    HTTPStatusError,
    ParseError,
    ResponseTooLarge,
    TransportError,
)
from monitor.http import HttpClient, HttpSettings
from monitor.pipeline import poll_source
from monitor.sources import registry
from monitor.sources.base import FetchState, ParseContext, Post, Window
from monitor.sources.telegram import TelegramAdapter
from monitor.sources.telegram_parse import read_page
from monitor.sources.telegram_text import link_text, parse_count
from monitor.store.models import FetchRun, RawResponse, SourceState, Statement
from monitor.store.session import Database
from tests.conftest import real_fixture
from tests.helpers import config_for, runtime_for

CONTEXT = ParseContext(url="https://t.me/s/channel", content_type="text/html; charset=utf-8")
OFFICIAL = "telegram/tme_s_telegram_official_before440_edited_linkpreviews.html"
CLASH = "telegram/tme_s_ClashReport_latest_statements_edited_reply_albums.html"
WALTER = "telegram/tme_s_WalterBloomberg_dom_serialized.html"
SECRETS = "telegram/tme_s_data_secrets_fragment_reply_album_video_edited.html"
KIEV = "telegram/tme_s_kievinform_ua1_before5000_media_replies.html"
SERVICE = "telegram/tme_s_prstnk_eprst_service_only.html"
ANONYMIZED = "telegram/tme_s_test_channel_anonymized.html"
WOHNUNGEN = "telegram/tme_s_wohnungenberlin_before224.html"


def body(relative: str) -> bytes:
    return real_fixture(relative).read_bytes()


def parse(relative: str) -> dict[int, Post]:
    posts = TelegramAdapter.parse(body(relative), CONTEXT)
    return {int(post.external_id): post for post in posts}


def media(post: Post, key: str = "url") -> list[str]:
    return [item[key] for item in post.extra.get("media", [])]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the parser on the real captures ---


def test_official_channel_page() -> None:
    raw = body(OFFICIAL)
    posts = parse(OFFICIAL)
    # 20 message wraps 419-439; 434 is not on the page.
    assert list(posts) == [*range(419, 434), *range(435, 440)]
    assert all(post.author == "Telegram News" for post in posts.values())
    assert all(post.external_id == str(post.sort_key) for post in posts.values())
    first = posts[419]
    assert first.url == "https://t.me/telegram/419"
    assert first.published_at == utc("2025-12-15T08:21:52")
    assert first.extra["views"] == 2_380_000  # "2.38M"
    assert first.text == (
        "Profile Audio in Stories. When posting a story, you can now quickly add audio "
        "from your profile playlist (https://t.me/telegram/402).\n\n"
        "December Features\n"
        "1 (https://t.me/telegram/417) • 2 (https://t.me/telegram/418) • 3 • "
        "More (https://t.me/telegram/420)"
    )
    assert first.extra["links"] == [
        "https://t.me/telegram/402",
        "https://t.me/telegram/417",
        "https://t.me/telegram/418",
        "https://t.me/telegram/420",
    ]
    # "edited &nbsp;" in the meta of 7 posts.
    edited = {number for number, post in posts.items() if post.extra["edited"]}
    assert edited == {427, 429, 430, 431, 432, 433, 439}
    assert raw.count(b"edited &nbsp;") == 7
    # The premium link keeps its tg:// address; the bare blog address is not doubled.
    assert "Subscribers of Telegram Premium (tg://settings/premium) can now" in posts[430].text
    assert posts[420].text.splitlines()[1] == "https://telegram.org/blog/passkeys-and-gift-offers"
    assert posts[420].extra["link_preview"] == {
        "url": "https://telegram.org/blog/passkeys-and-gift-offers",
        "site_name": "Telegram",
        "title": "Passkeys, Gift Purchase Offers and More",
        "description": "In today's update, we add secure passkeys for instant login without "
        "SMS codes, gift purchase offers with built-in scam protection, and a simple way to "
        "add audio from your profile to stories.",
    }
    previews = {n for n, post in posts.items() if "link_preview" in post.extra}
    assert previews == {420, 424, 428, 433, 439}
    assert raw.count(b'class="tgme_widget_message_link_preview"') == 5
    kinds = [item["type"] for post in posts.values() for item in post.extra.get("media", [])]
    assert kinds.count("video") == 14 == raw.count(b"tgme_widget_message_video_player ")
    assert kinds.count("photo") == 1
    assert posts[421].extra["media"][0]["duration"] == "0:06"
    assert posts[430].text.startswith("⭐️ Disable Sharing in Private Chats.")  # <tg-emoji>
    assert not any(post.reply_to or post.forwarded_from for post in posts.values())


def test_clash_report_statements_albums_and_reply() -> None:
    posts = parse(CLASH)
    # 93431, 93432 and 93435 belong to albums: no message of their own.
    assert list(posts) == [93429, 93430, 93433, 93434, *range(93436, 93449)]
    assert posts[93436].text == (
        "Former Colombian President Petro:\n\n"
        "Restoring relations with Israel while Netanyahu is in power applauds the Gaza "
        "genocide.\n\nNo honorable man or woman in Colombia can accept applauding the genocide."
    )
    assert '"identifies as a woman"' in posts[93437].text  # &quot;
    assert [n for n, post in posts.items() if post.extra["edited"]] == [93437]
    assert posts[93437].extra["views"] == 3060
    assert posts[93437].published_at == utc("2026-08-24T04:32:18")
    reply = posts[93433]
    assert reply.reply_to == "93428"
    assert reply.extra["reply"] == {
        "url": "https://t.me/ClashReport/93428",
        "author": "Clash Report",
        "text": "Andy Burnham will visit Kyiv today in his first foreign trip as UK prime "
        "minister, reaffirming Britain’s support for Ukraine.",
    }
    assert reply.text.startswith("Britain will support Ukraine’s long-range missile")
    assert "Andy Burnham" not in reply.text  # the quoted post is not this post's text
    assert media(posts[93430]) == [
        "https://t.me/ClashReport/93430?single",
        "https://t.me/ClashReport/93431?single",
        "https://t.me/ClashReport/93432?single",
    ]
    assert media(posts[93430], "duration") == ["0:06", "0:17", "0:53"]
    # The album caption sits in a nested text div; it is read once.
    assert posts[93430].text.count("Ukrainian drones targeted") == 1
    assert media(posts[93434]) == [
        "https://t.me/ClashReport/93434?single",
        "https://t.me/ClashReport/93435?single",
    ]
    photos = [n for n, post in posts.items() if "photo" in media(post, "type")]
    assert photos == [93429, 93438, 93439]


def test_walter_bloomberg_browser_saved_page() -> None:
    posts = parse(WALTER)
    assert list(posts) == [*range(22878, 22893), *range(22894, 22899)]
    assert posts[22879].text == (
        'TRUMP TELLS NBC NEWS EUROPE SHOULD FOCUS ON RUSSIA-UKRAINE WAR AND "NOT GREENLAND"\n'
        "(@WalterBloomberg)"  # a mention stays as shown
    )
    assert posts[22879].extra["links"] == ["https://t.me/WalterBloomberg"]
    # Shown as 10:40 in the saving browser's zone; the attribute is UTC.
    assert posts[22878].published_at == utc("2026-01-19T15:40:00")
    assert posts[22883].text.endswith(
        "borrowing costs higher https://t.co/U2qWDz0HSn\n(@WalterBloomberg)"
    )
    assert [n for n, post in posts.items() if "media" in post.extra] == [22883]
    assert posts[22894].extra["link_preview"] == {
        "url": "https://t.me/boost/WalterBloomberg",
        "site_name": "Telegram",
        "title": "Walter Bloomberg",
        "description": "Boost this channel to help it unlock additional features.",
    }
    assert posts[22898].extra["views"] == 597
    assert posts[22885].extra["views"] == 2000  # "2K"


def test_fragment_without_charset_replies_album_video_and_edit() -> None:
    page = read_page(body(SECRETS), ParseContext())  # no <meta charset>, no content type
    assert page.kind == "preview" and not page.has_older
    posts = {int(post.external_id): post for post in page.posts}
    assert list(posts) == [9772, 9775, 9776]
    assert posts[9772].reply_to == "9762"
    assert posts[9772].text.startswith("Вышел Qwen-3.8 Flash-Next\n\nЭто MoE 125B")
    assert media(posts[9772]) == [
        f"https://t.me/data_secrets/{n}?single" for n in (9772, 9773, 9774)
    ]
    video = posts[9775].extra["media"][0]
    assert (video["type"], video["duration"]) == ("video", "1:45")
    assert video["src"].startswith("https://cdn4.telesco.pe/file/3aab7b598b.mp4?token=")
    assert "на свою аватарку из X инженер мало похож) 😐\n\nОн выдал" in posts[9775].text
    assert posts[9775].text.endswith("посмотреть можно здесь: https://youtu.be/4qjEgPojjzM")
    edited = posts[9776]
    assert (edited.extra["edited"], edited.reply_to, edited.extra["views"]) == (True, "9748", 18600)
    assert edited.text.startswith(
        "Ox Alpha все-таки оказалась GLM-5.3-Flash: состоялся официальный релиз\n\n"
        "Веса (https://huggingface.co/zai-org/GLM-5.3-Flash) | Блог (https://z.ai/blog/glm-5.3-flash)"
        "\n\nНативно мультимодальная"
    )
    assert "Цена сейчас: $0.075 за млн" in edited.text  # &#036;
    assert "гибридное внимание. Z.ai объединили" in edited.text  # Z.ai is its own address
    assert [posts[n].extra["edited"] for n in (9772, 9775)] == [False, False]


def test_kievinform_older_page_with_replies_and_custom_emoji() -> None:
    page = read_page(body(KIEV), CONTEXT)
    assert page.has_older and page.lowest == 4980 and page.highest == 4999
    posts = {int(post.external_id): post for post in page.posts}
    assert list(posts) == list(range(4980, 5000))
    assert {n: post.reply_to for n, post in posts.items() if post.reply_to} == {
        4994: "4993",
        4995: "4994",
    }
    assert posts[4994].text == "Кинджал попередньо на Ладижин. Там знаходиться ТЕС"
    assert posts[4988].text == (
        "10х БпЛА курсом на Згурівку\nБпЛА курсом на Ржищів\nБпЛА курсом на Рокитне\n"
        "БпЛА курсор на Володарку\n2х БпЛА курсом на Ставище"
    )
    assert posts[4981].text == "Шахед на Фастів!"  # &#33;
    assert posts[4985].text == "Пуски крилатих ракет типу «Калібр» 🚀"
    assert [n for n, post in posts.items() if "media" in post.extra] == [4999]
    # Their "Please open Telegram" blocks are fallbacks for browsers, not missing media.
    assert not any("not_shown" in post.extra for post in posts.values())
    assert posts[4999].extra["views"] == 28200
    assert posts[4980].author == "Київ ІНФО - LIVE | радар"


def test_service_message_only_page() -> None:
    page = read_page(body(SERVICE), CONTEXT)
    assert (page.kind, page.posts, page.message_ids, page.has_older) == ("preview", [], (1,), False)
    assert TelegramAdapter.parse(body(SERVICE), CONTEXT) == []


def test_anonymized_page_forward_unshown_media_and_album_caption() -> None:
    posts = parse(ANONYMIZED)
    assert list(posts) == [1001, 1003, 1010]
    assert posts[1001].text == (
        "This is a test message with multiple photos. The local traffic department organized "
        "an educational event for children. Kids learned about road safety, traffic lights, and "
        "pedestrian crossings. The event included creative workshops where children drew "
        "various traffic situations.\n\n"
        "Telegram (https://t.me/test_channel) | Admin (https://t.me/TestBot)"
    )
    assert media(posts[1001]) == [f"https://t.me/test_channel/{n}?single" for n in (1001, 1002)]
    assert media(posts[1001], "src") == [
        "https://cdn4.telesco.pe/file/test-photo-1.jpg",
        "https://cdn4.telesco.pe/file/test-photo-2.jpg",
    ]
    assert "not_shown" not in posts[1001].extra
    unshown = posts[1003]
    assert (unshown.text, unshown.extra["not_shown"]) == (
        "",
        "Please open Telegram to view this post",
    )
    forwarded = posts[1010]
    assert forwarded.forwarded_from == "Another Channel (https://t.me/another_channel/500)"
    assert forwarded.extra["forwarded"] == {
        "name": "Another Channel",
        "url": "https://t.me/another_channel/500",
    }
    assert forwarded.author == "Test_Channel"
    assert forwarded.text.splitlines()[2:6] == [
        "Key updates:",
        "- Brick masonry on balconies completed",
        "- Roof repairs finished",
        "- Partitions restored, doors replaced",
    ]
    assert forwarded.text.endswith(
        "All available resources have been mobilized.\n\n"
        "Restoration work will continue until full completion."
    )
    assert len(media(forwarded)) == 3


def test_albums_with_and_without_text() -> None:
    raw = body(WOHNUNGEN)
    posts = parse(WOHNUNGEN)
    # Big gaps: 203-211 and 214-222 are the members of two 10-photo albums.
    assert list(posts) == [202, 212, 213, 223]
    assert media(posts[202]) == [
        f"https://t.me/wohnungenberlin/{n}?single" for n in range(202, 212)
    ]
    assert media(posts[213]) == [
        f"https://t.me/wohnungenberlin/{n}?single" for n in range(213, 223)
    ]
    assert (
        posts[202].text == "1340€ - 42m² 1-Zimmer Wohnung in Berlin Treptow mit Garten - Möbliert"
    )
    assert posts[212].text == (
        "1580€ warm 70m² - 2 Zimmer kaulsdorf, möbliert, Einbauküche, Ab Sofort"
    )
    assert (posts[213].text, posts[223].text) == ("", "")  # media only
    photos = sum(len(media(post)) for post in posts.values())
    assert photos == 21 == raw.count(b"tgme_widget_message_photo_wrap")
    assert posts[223].extra["views"] == 224


# --- the parser on markup the captures lack (written after Telegram's own) ---


def message(number: int, bubble: str, *, meta: str = "", channel: str = "kaabi_channel") -> str:
    return (
        '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        '<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
        f'data-post="{channel}/{number}"><div class="tgme_widget_message_bubble">'
        '<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_'
        f'owner_name" href="https://t.me/{channel}"><span dir="auto">قناة الاختبار</span></a>'
        f"</div>{bubble}"
        '<div class="tgme_widget_message_footer compact js-message_footer">'
        '<div class="tgme_widget_message_info short js-message_info">'
        '<span class="tgme_widget_message_views">1.2K</span><span class="copyonly"> views</span>'
        f'<span class="tgme_widget_message_meta">{meta}<a class="tgme_widget_message_date" '
        f'href="https://t.me/{channel}/{number}"><time datetime="{stamp(number)}" class="time">'
        "12:00</time></a></span></div></div></div></div></div>"
    )


def text(html: str) -> str:
    return f'<div class="tgme_widget_message_text js-message_text" dir="auto">{html}</div>'


def stamp(number: int) -> str:
    moment = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=number)
    return moment.isoformat()


def channel_page(
    messages: list[str], *, before: int | None, channel: str = "kaabi_channel"
) -> bytes:
    more = (
        '<div class="tgme_widget_message_centered js-messages_more_wrap">'
        f'<a href="/s/{channel}?before={before}" class="tme_messages_more js-messages_more" '
        f'data-before="{before}"></a></div>'
        if before
        else ""
    )
    prev = f'<link rel="prev" href="/s/{channel}?before={before}">' if before else ""
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{channel} – Telegram</title>'
        f'{prev}</head><body><main class="tgme_main"><section class="tgme_channel_history '
        f'js-message_history">{more}{"".join(messages)}</section></main></body></html>\n'
    ).encode()


def posts_of(*messages: str) -> list[Post]:
    return TelegramAdapter.parse(channel_page(list(messages), before=None), CONTEXT)


def test_poll_document_voice_signature_and_service_message() -> None:
    poll = (
        '<div class="tgme_widget_message_poll js-poll">'
        '<div class="tgme_widget_message_poll_question">هل تؤيد الهدنة؟</div>'
        '<div class="tgme_widget_message_poll_type">Anonymous poll</div>'
        '<div class="tgme_widget_message_poll_options">'
        '<div class="tgme_widget_message_poll_option">'
        '<div class="tgme_widget_message_poll_option_percent">64%</div>'
        '<div class="tgme_widget_message_poll_option_value"><div class="tgme_widget_message_poll_'
        'option_text">نعم</div></div></div><div class="tgme_widget_message_poll_option">'
        '<div class="tgme_widget_message_poll_option_percent">36%</div>'
        '<div class="tgme_widget_message_poll_option_value"><div class="tgme_widget_message_poll_'
        'option_text">لا</div></div></div></div></div>'
    )
    document = (
        '<a class="tgme_widget_message_document_wrap" href="https://t.me/kaabi_channel/11">'
        '<div class="tgme_widget_message_document_icon accent_bg"></div>'
        '<div class="tgme_widget_message_document"><div class="tgme_widget_message_document_title '
        'accent_color" dir="auto">بيان.pdf</div><div class="tgme_widget_message_document_extra" '
        'dir="auto">1.4 MB</div></div></a>'
    )
    voice = (
        '<a class="tgme_widget_message_voice_player js-message_voice_player" '
        'href="https://t.me/kaabi_channel/12"><audio class="tgme_widget_message_voice js-message_'
        'voice" src="https://cdn4.telesco.pe/file/voice.ogg" preload="none"></audio>'
        '<time class="tgme_widget_message_voice_duration">0:42</time></a>'
    )
    service = message(13, text("Channel photo updated")).replace(
        'js-widget_message" data-post', 'service_message js-widget_message" data-post'
    )
    posts = posts_of(
        message(10, poll),
        message(11, document + text("نص <b>البيان</b> الكامل")),
        message(
            12,
            voice,
            meta='<span class="tgme_widget_message_from_author" dir="auto">أبو علي</span>',
        ),
        service,
    )
    assert [post.external_id for post in posts] == ["10", "11", "12"]
    assert posts[0].text == "هل تؤيد الهدنة؟\n- نعم\n- لا"  # percentages stay out of the text
    assert posts[0].extra["poll"] == {
        "question": "هل تؤيد الهدنة؟",
        "type": "Anonymous poll",
        "options": [{"text": "نعم", "percent": 64}, {"text": "لا", "percent": 36}],
    }
    assert posts[1].text == "نص البيان الكامل"
    assert posts[1].extra["media"] == [
        {
            "type": "document",
            "url": "https://t.me/kaabi_channel/11",
            "title": "بيان.pdf",
            "size": "1.4 MB",
        }
    ]
    assert posts[2].extra["media"] == [
        {
            "type": "voice",
            "url": "https://t.me/kaabi_channel/12",
            "src": "https://cdn4.telesco.pe/file/voice.ogg",
            "duration": "0:42",
        }
    ]
    assert (posts[2].text, posts[2].author) == ("", "أبو علي")  # a signed post
    assert posts[2].extra["edited"] is False  # the signature is not an edit marker
    assert posts[1].author == "قناة الاختبار"
    assert posts[0].published_at == datetime(2026, 3, 1, 0, 10, tzinfo=UTC)
    assert posts[0].extra["views"] == 1200


def test_links_hashtags_and_replies_to_other_channels() -> None:
    reply = (
        '<a class="tgme_widget_message_reply" href="https://t.me/other_channel/77">'
        '<div class="tgme_widget_message_author accent_color"><span class="tgme_widget_message_'
        'author_name">Other</span></div><div class="tgme_widget_message_text js-message_reply_'
        'text">النص المقتبس</div></a>'
    )
    body_html = (
        'الحرب <a href="?q=%23%D8%A7%D9%84%D8%AD%D8%B1%D8%A8">#الحرب</a> '
        '<a href="https://example.org/a">البيان الكامل</a><br/>'
        '<a href="http://www.example.org/b/">example.org/b</a> '
        '<a href="https://example.org/very/long/address">https://example.org/very/lo…</a>'
        "<pre>line 1\nline 2</pre>after"
    )
    forward = (
        '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from '
        '<span class="tgme_widget_message_forwarded_from_name">Hidden User</span></div>'
    )
    (post,) = posts_of(message(20, forward + reply + text(body_html), meta="edited "))
    assert post.text == (
        "الحرب #الحرب البيان الكامل (https://example.org/a)\n"
        "example.org/b https://example.org/very/lo…\nline 1\nline 2\nafter"
    )
    assert post.reply_to == "https://t.me/other_channel/77"  # another channel: the link
    assert post.extra["reply"]["text"] == "النص المقتبس"
    assert "النص المقتبس" not in post.text
    assert post.forwarded_from == "Hidden User"
    assert post.extra["edited"] is True
    assert post.extra["links"] == [
        "https://example.org/a",
        "http://www.example.org/b/",
        "https://example.org/very/long/address",
    ]


def test_small_readers() -> None:
    assert [parse_count(v) for v in ("2.38M", "1.2K", "217", "18.6K", "1,234", "x")] == [
        2_380_000,
        1200,
        217,
        18600,
        1234,
        None,
    ]
    assert link_text("More", "https://t.me/telegram/420") == "More (https://t.me/telegram/420)"
    assert link_text("@name", "https://t.me/name") == "@name"
    assert link_text("", "https://t.me/name") == "https://t.me/name"
    assert link_text("t.me/name", "https://t.me/name") == "t.me/name"


def test_pages_that_are_not_channel_previews() -> None:
    with pytest.raises(ParseError, match="the channel does not exist, is private, or has no web"):
        TelegramAdapter.parse(CONTACT_PAGE, CONTEXT)
    with pytest.raises(
        ParseError, match=r"^not a Telegram channel preview page: no channel messages"
    ):
        TelegramAdapter.parse(b"<html><body><h1>502 Bad Gateway</h1></body></html>", CONTEXT)
    with pytest.raises(ParseError, match=r"^empty page$"):
        TelegramAdapter.parse(b"  \n", CONTEXT)
    cut = body(OFFICIAL)[:60_000]
    with pytest.raises(ParseError, match="truncated"):
        TelegramAdapter.parse(cut, CONTEXT)


# t.me's answer to t.me/s/NAME for a name with no public preview (after its redirect).
CONTACT_PAGE = b"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>Telegram: Contact @no_such_channel</title>
    <meta property="og:title" content="Telegram: Contact @no_such_channel">
  </head>
  <body class="no_transition">
    <div class="tgme_page_wrap">
      <div class="tgme_body_wrap">
        <div class="tgme_page">
          <div class="tgme_page_photo"></div>
          <div class="tgme_page_extra">If you have <strong>Telegram</strong>, you can contact
            <a class="tgme_username_link" href="tg://resolve?domain=no_such_channel">@no_such_channel</a>
            right away.</div>
          <div class="tgme_page_action"><a class="tgme_action_button_new"
            href="tg://resolve?domain=no_such_channel">Send Message</a></div>
        </div>
      </div>
    </div>
  </body>
</html>
"""


# --- fetching over a real loopback server ---


def older_page(low: int, high: int, *, channel: str = "telegram", step: int = 60) -> bytes:
    """Posts low..high of a channel, written like t.me's, each ``step`` minutes apart,
    ending the day before the official capture's first post (2025-12-15)."""
    end = datetime(2025, 12, 14, 12, tzinfo=UTC)
    messages = []
    for number in range(low, high + 1):
        moment = end - timedelta(minutes=step * (high - number))
        messages.append(
            message(number, text(f"Statement {number}"), channel=channel).replace(
                stamp(number), moment.isoformat()
            )
        )
    return channel_page(messages, before=low if low > 1 else None, channel=channel)


@pytest.fixture
def http() -> Iterator[HttpClient]:
    settings = HttpSettings(
        user_agent="monitor-test/1", timeout_seconds=2, max_response_bytes=2_000_000, retries=0
    )
    with HttpClient(settings) as client:
        yield client


def adapter(server: FeedServer, path: str = "/s/telegram", **options: Any) -> TelegramAdapter:
    source = TelegramSource(kind="telegram", id="tg", url=server.url(path), **options)
    return TelegramAdapter.from_source(source)


def serve_official(server: FeedServer) -> None:
    server.serve("/s/telegram", body(OFFICIAL), "text/html; charset=utf-8")
    server.serve("/s/telegram?before=419", older_page(399, 418), "text/html; charset=utf-8")
    server.serve("/s/telegram?before=399", older_page(379, 398), "text/html; charset=utf-8")
    server.serve("/s/telegram?before=379", older_page(359, 378), "text/html; charset=utf-8")
    server.serve("/s/telegram?before=359", older_page(339, 358), "text/html; charset=utf-8")


def ids(posts: list[Post]) -> list[int]:
    return [int(post.external_id) for post in posts]


def test_first_poll_backfills_through_older_pages(
    feed_server: FeedServer, http: HttpClient
) -> None:
    serve_official(feed_server)
    result = adapter(feed_server, backfill=50).fetch(http, FetchState())

    assert feed_server.log == ["/s/telegram", "/s/telegram?before=419", "/s/telegram?before=399"]
    # The newest 50: the 20 of the real page, 399-418, then 389-398.
    assert ids(result.posts) == [*range(389, 434), *range(435, 440)]
    assert result.windows == [Window(389, 439)]
    assert result.cursor == {"newest": 439}
    assert [response.url for response in result.responses] == [
        feed_server.url(path) for path in feed_server.log
    ]
    by_id = {int(post.external_id): post for post in result.posts}
    assert (by_id[439].response, by_id[418].response, by_id[389].response) == (0, 1, 2)
    assert by_id[418].text == "Statement 418"
    assert result.bytes_read == sum(len(response.body) for response in result.responses)
    assert result.http_status == 200 and result.validators.etag is not None
    assert not result.not_modified


def test_backfill_zero_reads_the_newest_page_only(
    feed_server: FeedServer, http: HttpClient
) -> None:
    serve_official(feed_server)
    result = adapter(feed_server, backfill=0).fetch(http, FetchState())
    assert feed_server.log == ["/s/telegram"]
    assert ids(result.posts) == [*range(419, 434), *range(435, 440)]
    assert result.windows == [Window(419, 439)]


def test_since_stops_the_backfill(feed_server: FeedServer, http: HttpClient) -> None:
    serve_official(feed_server)
    # Page 399-418 runs hourly up to 2025-12-14 12:00: 406 is at 00:00 on the 14th.
    result = adapter(feed_server, backfill=100, since=date(2025, 12, 14)).fetch(http, FetchState())
    assert feed_server.log == ["/s/telegram", "/s/telegram?before=419"]
    assert ids(result.posts) == [*range(406, 434), *range(435, 440)]
    assert result.windows == [Window(406, 439)]


def test_later_poll_stops_at_known_posts(feed_server: FeedServer, http: HttpClient) -> None:
    serve_official(feed_server)
    result = adapter(feed_server).fetch(http, FetchState(cursor={"newest": 425}))
    assert feed_server.log == ["/s/telegram"]
    assert result.windows == [Window(419, 439)]
    assert result.cursor == {"newest": 439}

    # More than a page of posts since 409: read down to the page that holds 409.
    result = adapter(feed_server).fetch(http, FetchState(cursor={"newest": 409}))
    assert feed_server.log[1:] == ["/s/telegram", "/s/telegram?before=419"]
    assert ids(result.posts)[0] == 399
    assert result.windows == [Window(399, 439)]


def test_a_long_catch_up_is_finished_by_the_next_polls(
    feed_server: FeedServer, http: HttpClient
) -> None:
    serve_official(feed_server)
    telegram = adapter(feed_server, backfill=0)  # at most 3 pages per later poll
    first = telegram.fetch(http, FetchState(cursor={"newest": 350}))
    assert feed_server.log == ["/s/telegram", "/s/telegram?before=419", "/s/telegram?before=399"]
    assert first.windows == [Window(379, 439)]
    assert first.cursor == {"newest": 439, "gaps": [[350, 379]]}

    second = telegram.fetch(http, FetchState(cursor=first.cursor))
    assert feed_server.log[3:] == [
        "/s/telegram",
        "/s/telegram?before=379",
        "/s/telegram?before=359",
    ]
    assert second.windows == [Window(419, 439), Window(339, 378)]
    assert second.cursor == {"newest": 439}
    assert ids(second.posts)[:40] == list(range(339, 379))


def test_unchanged_newest_page_is_not_modified(feed_server: FeedServer, http: HttpClient) -> None:
    serve_official(feed_server)
    telegram = adapter(feed_server)
    first = telegram.fetch(http, FetchState())
    again = telegram.fetch(http, FetchState(first.validators, first.cursor or {}))
    assert (again.not_modified, again.posts, again.http_status) == (True, [], 304)
    assert again.validators == first.validators
    assert feed_server.last_headers["/s/telegram"]["If-None-Match"] == first.validators.etag

    # A changed newest page comes whole; older pages are never asked conditionally.
    feed_server.serve("/s/telegram", body(OFFICIAL) + b"\n", "text/html; charset=utf-8")
    third = telegram.fetch(http, FetchState(first.validators, {"newest": 409}))
    assert feed_server.log[-2:] == ["/s/telegram", "/s/telegram?before=419"]
    assert "If-None-Match" not in feed_server.last_headers["/s/telegram"]  # the older page's
    assert third.validators.etag not in (None, first.validators.etag)


def test_channel_without_a_preview_is_a_clear_error(
    feed_server: FeedServer, http: HttpClient
) -> None:
    feed_server.serve(
        "/s/no_such_channel",
        b"",
        "text/html",
        status=302,
        headers={"Location": "/no_such_channel"},
        conditional=False,
    )
    feed_server.serve("/no_such_channel", CONTACT_PAGE, "text/html; charset=utf-8")
    with pytest.raises(FetchError) as caught:
        adapter(feed_server, "/s/no_such_channel").fetch(http, FetchState())
    assert str(caught.value) == (
        f"{feed_server.url('/s/no_such_channel')} is not a public Telegram channel preview "
        f"(redirected to {feed_server.url('/no_such_channel')}): "
        "the channel does not exist, is private, or has no web preview"
    )
    # A source given by channel name is fetched from t.me and named so in errors.
    source = TelegramSource(kind="telegram", id="x", channel="@no_such_channel")
    built = TelegramAdapter.from_source(source)
    assert (built.url, built.name) == ("https://t.me/s/no_such_channel", "t.me/s/no_such_channel")


def test_rate_limit_propagates_with_its_retry_after(
    feed_server: FeedServer, http: HttpClient
) -> None:
    feed_server.serve(
        "/s/telegram",
        b"Too Many Requests",
        "text/plain",
        status=429,
        headers={"Retry-After": "120"},
    )
    with pytest.raises(HTTPStatusError) as caught:
        adapter(feed_server).fetch(http, FetchState())
    assert (caught.value.status, caught.value.retry_after) == (429, 120.0)


@pytest.mark.parametrize(
    ("route", "error", "message"),
    [
        ({"status": 500}, HTTPStatusError, "HTTP 500 from {url}"),
        ({"delay": 1.0}, TransportError, "timed out after 0.3s fetching {url}"),
        ({"body": b"x" * 5000}, ResponseTooLarge, "larger than 4000 bytes"),
    ],
    ids=["500", "timeout", "oversized"],
)
def test_http_failures_reach_the_poll(
    feed_server: FeedServer, route: dict[str, Any], error: type[Exception], message: str
) -> None:
    content = route.pop("body", b"<html></html>")
    feed_server.serve("/s/telegram", content, "text/html", **route)
    settings = HttpSettings(
        user_agent="monitor-test/1", timeout_seconds=0.3, max_response_bytes=4000, retries=0
    )
    with HttpClient(settings) as client, pytest.raises(error) as caught:
        adapter(feed_server).fetch(client, FetchState())
    assert message.format(url=feed_server.url("/s/telegram")) in str(caught.value)


def test_truncated_and_garbage_pages_are_parse_errors(
    feed_server: FeedServer, http: HttpClient
) -> None:
    feed_server.serve("/s/telegram", body(OFFICIAL)[:70_000], "text/html; charset=utf-8")
    with pytest.raises(ParseError, match="truncated"):
        adapter(feed_server).fetch(http, FetchState())
    feed_server.serve("/s/telegram", b"\x00\x9c\xff garbage \x1b[2J", "application/octet-stream")
    with pytest.raises(ParseError, match="not a Telegram channel preview page"):
        adapter(feed_server).fetch(http, FetchState())


# --- through the whole poll, on both databases ---

TELEGRAM_SOURCE = """
  - id: kaabi-telegram
    kind: telegram
    url: {url}
    leader: akram-kaabi
    backfill: 0
"""
RULES = """
  - id: war-on-us
    match: '"declare war" OR "إعلان الحرب"'
"""


@pytest.fixture
def telegram_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The telegram kind in the adapter table (until the registry lists it itself)."""
    if "telegram" not in registry.BUILDERS:

        def build(source: Any) -> TelegramAdapter:
            return TelegramAdapter.from_source(source)

        monkeypatch.setitem(registry.BUILDERS, "telegram", build)


def without_post(page: bytes, channel: str, number: int) -> bytes:
    """The page with one message's wrap cut out, as t.me shows it once deleted."""
    start = page.index(f'data-post="{channel}/{number}"'.encode())
    wrap = page.rindex(b'<div class="tgme_widget_message_wrap', 0, start)
    end = page.index(b'<div class="tgme_widget_message_wrap', start)
    return page[:wrap] + page[end:]


@dataclass(frozen=True)
class Stored:
    text: str
    url: str | None
    published_at: datetime
    leader_id: str | None
    extra: dict[str, Any]
    edited: bool
    deleted: bool
    versions: list[str]
    evidence: list[bytes]


def evidence(session: Any, raw_id: int | None) -> bytes:
    row = session.get(RawResponse, raw_id) if raw_id is not None else None
    return zlib.decompress(row.body) if row is not None else b""


def statements(db: Database) -> dict[str, Stored]:
    with db.read() as session:
        return {
            row.external_id: Stored(
                row.text,
                row.url,
                row.published_at,
                row.leader_id,
                dict(row.extra),
                row.edited,
                row.deleted_at is not None,
                [version.text for version in row.versions],
                [evidence(session, version.raw_response_id) for version in row.versions],
            )
            for row in session.scalars(select(Statement))
        }


@pytest.mark.usefixtures("telegram_registered")
def test_deleted_and_edited_posts_are_told_apart(db: Database, feed_server: FeedServer) -> None:
    page = body(OFFICIAL)
    feed_server.serve("/s/telegram", page, "text/html; charset=utf-8")
    config = config_for(TELEGRAM_SOURCE.format(url=feed_server.url("/s/telegram")), RULES)
    runtime = runtime_for(config, db)
    source = config.sources[0]

    first = poll_source(runtime, source)
    assert (first.status, first.new, first.deleted) == ("ok", 20, 0)
    stored = statements(db)
    assert stored["427"].url == "https://t.me/telegram/427"
    assert stored["427"].published_at == utc("2026-02-10T17:44:22")
    assert stored["427"].leader_id == "akram-kaabi"
    assert stored["427"].extra["edited"] is True and stored["427"].extra["views"] == 2_020_000

    # 425 deleted at the source; 430 edited ("any 1-on-1 chat" -> "any private chat").
    changed = without_post(page, "telegram", 425).replace(
        b"in any 1-on-1 chat.", b"in any private chat."
    )
    assert changed.count(b"in any private chat.") == 1
    feed_server.serve("/s/telegram", changed, "text/html; charset=utf-8")
    second = poll_source(runtime, source)

    assert (second.status, second.new, second.edited, second.deleted) == ("ok", 0, 1, 1)
    assert second.unchanged == 18
    stored = statements(db)
    assert {key for key, row in stored.items() if row.deleted} == {"425"}
    assert stored["425"].text.startswith("New Design. Telegram for Android has a fully redesigned")
    edited = stored["430"]
    assert len(edited.versions) == 2
    assert "in any 1-on-1 chat." in edited.versions[0]
    assert "in any private chat." in edited.versions[1]
    assert edited.edited and edited.text == edited.versions[1]
    assert edited.evidence == [page, changed]  # each version keeps the page it came from
    assert [key for key, row in stored.items() if row.edited] == ["430"]
    with db.read() as session:
        runs = session.scalars(select(FetchRun).order_by(FetchRun.id)).all()
        assert [(run.status, run.deleted_count, run.updated_count) for run in runs] == [
            ("ok", 0, 0),
            ("ok", 1, 1),
        ]
        state = session.get_one(SourceState, "kaabi-telegram")
        assert state.cursor == {"newest": 439}


@pytest.mark.usefixtures("telegram_registered")
def test_fetch_errors_are_recorded_and_backed_off(db: Database, feed_server: FeedServer) -> None:
    feed_server.serve(
        "/s/no_such_channel",
        b"",
        "text/html",
        status=302,
        headers={"Location": "/no_such_channel"},
        conditional=False,
    )
    feed_server.serve("/no_such_channel", CONTACT_PAGE, "text/html; charset=utf-8")
    feed_server.serve(
        "/s/busy", b"slow down", "text/plain", status=429, headers={"Retry-After": "600"}
    )
    sources = TELEGRAM_SOURCE.format(url=feed_server.url("/s/no_such_channel")) + (
        TELEGRAM_SOURCE.format(url=feed_server.url("/s/busy")).replace("kaabi-telegram", "busy")
    )
    feed_server.serve("/s/telegram", body(OFFICIAL), "text/html; charset=utf-8")
    sources += TELEGRAM_SOURCE.format(url=feed_server.url("/s/telegram")).replace(
        "kaabi-telegram", "healthy"
    )
    config = config_for(sources, RULES, "settings: {http_retries: 0}")
    runtime = runtime_for(config, db)

    missing = poll_source(runtime, config.sources[0])
    assert missing.status == "error"
    assert missing.error == (
        f"{feed_server.url('/s/no_such_channel')} is not a public Telegram channel preview "
        f"(redirected to {feed_server.url('/no_such_channel')}): "
        "the channel does not exist, is private, or has no web preview"
    )
    busy = poll_source(runtime, config.sources[1])
    assert (busy.status, busy.http_status) == ("error", 429)
    with db.read() as session:
        run = session.scalars(select(FetchRun).where(FetchRun.source_id == "kaabi-telegram")).one()
        assert run.error == missing.error
        state = session.get_one(SourceState, "busy")
        assert state.last_attempt_at is not None
        assert state.next_poll_at - state.last_attempt_at >= timedelta(seconds=600)
        assert state.consecutive_failures == 1
    healthy = poll_source(runtime, config.sources[2])  # the others go on
    assert (healthy.status, healthy.new) == ("ok", 20)


def test_fixture_facts_used_above() -> None:
    """Independent checks on the captures, so the expectations above are the files'."""
    official = body(OFFICIAL).decode()
    numbers = [int(n) for n in re.findall(r'data-post="telegram/(\d+)"', official)]
    assert numbers == [*range(419, 434), *range(435, 440)]
    clash = body(CLASH).decode()
    assert re.findall(r'href="https://t.me/ClashReport/(\d+)\?single"', clash) == [
        "93430",
        "93431",
        "93432",
        "93434",
        "93435",
    ]
    assert 'data-post="ClashReport/93431"' not in clash
    wohnungen = body(WOHNUNGEN).decode()
    assert re.findall(r'data-post="wohnungenberlin/(\d+)"', wohnungen) == [
        "202",
        "212",
        "213",
        "223",
    ]
