"""Language detection: statements written for these tests, hints, and real captured feeds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import feedparser
import pytest
from bs4 import BeautifulSoup

from monitor.text.language import MIN_LETTERS, detect_language, language_code
from tests.conftest import real_fixture

# --- statements written in the style of DOMAIN.md --------------------------------------------

STATEMENTS = [
    # Arabic (the reference case), with the usual decorations
    ("ar", "أعلن الأمين العام لكتائب حزب الله أن العمليات ضد قواعد الاحتلال الأمريكي ستستمر."),
    ("ar", "نشكر كتائب حزب الله، حركة النجباء، كتائب سيد الشهداء، أنصار الله الأوفياء"),
    ("ar", "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ إن واجب الجميع إعلان الحرب على الاحتلال"),
    ("ar", "سوالف الگهوة: الأساس وتصميم سيلتحقون بالمالكي و الفياض"),  # Iraqi گ
    ("ar", "🇮🇶 المقاومة الإسلامية في العراق تعلن استهداف قاعدة #عين_الأسد #IRI"),
    ("ar", "عاجل | الحاج أبو حسين الحميداوي: لا هدنة بعد اليوم https://t.me/example/123"),
    # Persian
    ("fa", "وزیر امور خارجه ایران در دیدار با همتای عراقی گفت که تهران از ثبات منطقه حمایت می‌کند."),
    ("fa", "سپاه پاسداران انقلاب اسلامی اعلام کرد که پایگاه‌های آمریکا در منطقه هدف قرار گرفتند."),
    ("fa", "این گروه‌ها باید سلاح خود را تحویل دهند، اما رهبران آنها این پیشنهاد را رد کردند."),
    ("fa", "نخست وزیر عراق برای گفتگو با مقامات ایرانی به تهران سفر کرد."),
    # Kurdish: Sorani (Arabic script) and Kurmanji (Latin script)
    ("ku", "سەرۆکی حکومەتی هەرێمی کوردستان ئەمڕۆ لە هەولێر لەگەڵ باڵیۆزی ئەمریکا کۆبووەوە."),
    ("ku", "حەشدی شەعبی ڕایگەیاند کە هێزەکانی ئامادەن بۆ پاراستنی سنوور."),
    ("ku", "ئەم هێرشە لە لایەن گرووپە چەکدارەکانەوە ئەنجام درا."),
    ("ku", "Serokê Herêma Kurdistanê îro li Hewlêrê bi balyozê Amerîkayê re civiya."),
    ("ku", "Hêzên Heşda Şeibî ragihandin ku ew ê ji bo parastina sînor amade ne."),
    ("ku", "Ev êriş ji aliyê komên çekdar ve hat kirin û du kes birîndar bûn."),
    # Urdu
    ("ur", "عراق کی مسلح تنظیموں نے امریکی اڈوں پر حملوں کی ذمہ داری قبول کر لی ہے۔"),
    ("ur", "حکام نے بتایا کہ پولیس نے دونوں رہنماؤں کے گھروں کی تلاشی بھی لی۔"),
    # English, with Arabic names and a hashtag
    ("en", "The secretary-general announced that attacks on American bases will continue."),
    ("en", "Akram al-Kaabi said it is a duty for everyone to declare war on the occupation."),
    ("en", "Statement by Qais al-Khazali (قيس الخزعلي) on the truce #Iraq"),
    # Other scripts and Latin-script languages
    ("tr", "Irak'taki silahlı gruplar, ABD üslerine yönelik saldırıların sorumluluğunu üstlendi."),
    ("tr", "Dışişleri Bakanı, bölgedeki gerginliğin azaltılması için çağrıda bulundu."),
    ("es", "El secretario general anunció que las operaciones contra las bases continuarán."),
    ("it", "Il segretario generale ha annunciato che le operazioni contro le basi continueranno."),
    ("nl", "De secretaris-generaal heeft aangekondigd dat de aanvallen op de bases doorgaan."),
    ("fr", "Le secrétaire général a annoncé que les opérations contre les bases vont reprendre."),
    (
        "de",
        "Der Generalsekretär hat angekündigt, dass die Angriffe auf die Stützpunkte weitergehen.",
    ),
    ("pt", "O secretário-geral anunciou que os ataques contra as bases americanas vão continuar."),
    ("pl", "Sekretarz generalny zapowiedział, że ataki na amerykańskie bazy będą kontynuowane."),
    ("id", "Sekretaris jenderal itu mengumumkan bahwa serangan terhadap pangkalan akan berlanjut."),
    ("ru", "Генеральный секретарь заявил, что атаки на американские базы будут продолжены."),
    ("uk", "Генеральний секретар угруповання заявив, що атаки на американські бази триватимуть."),
    ("he", "המזכיר הכללי של המיליציה הודיע כי התקיפות על הבסיסים האמריקאיים יימשכו."),
    ("el", "Ο γενικός γραμματέας της πολιτοφυλακής ανακοίνωσε ότι οι επιθέσεις θα συνεχιστούν."),
    ("zh", "民兵组织的秘书长宣布，对美国基地的袭击将继续。"),
    ("ja", "民兵組織の事務総長は、米軍基地への攻撃を続けると発表した。"),
    ("ko", "민병대 사무총장은 미군 기지에 대한 공격이 계속될 것이라고 발표했다."),
]


@pytest.mark.parametrize("hint", [None, "ar", "en", "fa"])
@pytest.mark.parametrize(
    ("expected", "text"), STATEMENTS, ids=[f"{code}-{i}" for i, (code, _) in enumerate(STATEMENTS)]
)
def test_statements_come_out_in_their_language_whatever_the_hint(
    expected: str, text: str, hint: str | None
) -> None:
    assert detect_language(text, hint) == expected


# --- the hint: a prior, not the answer -------------------------------------------------------

HINTS = [
    # (text, hint, expected)
    ("", "ar", "ar"),  # no letters: the hint
    ("", None, None),
    ("🇮🇶🔻 2026-07-29 ١٤/٠٦", "ar", "ar"),  # digits, emoji: no letters
    ("🇮🇶🔻 2026-07-29 ١٤/٠٦", None, None),
    ("OK", "ar", "ar"),  # fewer than MIN_LETTERS letters
    ("متن", "fa", "fa"),
    ("متن", None, None),
    ("IRGC now", "ar", "en"),  # a Latin text on an Arabic source: the hint cannot be right
    ("عاجل", "en", "ar"),  # and the reverse
    ("آلبوم", "fa", "fa"),  # no telltale letter or word: an Arabic-script hint decides
    ("آلبوم", None, "ar"),  # ...else the script's usual language
    ("آلبوم", "ur", "ur"),
    ("آلبوم", "ps", "ps"),  # a language without a word list, written in this script
    ("فایل", "ar", "fa"),  # ی is Persian: the text beats a same-script hint
    ("Цитата #16099", None, "ru"),
    ("Цитата #16099", "bg", "bg"),
    ("Цитата #16099", "ar", "ru"),
    ("Continuous Lifecycle London: Programm online", "de", "de"),
    ("Continuous Lifecycle London: Programm online", None, "en"),
    ("Minä olen suomalainen", "fi", "fi"),
    ("नमस्ते दुनिया", "mr", "mr"),  # Devanagari: Marathi when the source says so
    ("नमस्ते दुनिया", None, "hi"),
    ("שלום עולם", "ar", "he"),
    ("العراق", "ar-IQ", "ar"),  # hints are normalized
    ("کوردستان", "ckb", "ku"),
]


@pytest.mark.parametrize(("text", "hint", "expected"), HINTS)
def test_the_hint_decides_only_what_the_text_does_not(
    text: str, hint: str | None, expected: str | None
) -> None:
    assert detect_language(text, hint) == expected


def test_min_letters_is_a_handful() -> None:
    assert detect_language("x" * (MIN_LETTERS - 1), "de") == "de"
    assert detect_language("the " * MIN_LETTERS, "de") == "en"


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("ar", "ar"),
        ("ar-IQ", "ar"),
        ("en_US", "en"),
        (" EN ", "en"),
        ("ckb", "ku"),
        ("kmr", "ku"),
        ("fas", "fa"),
        ("iw", "he"),
        ("Portuguese", None),
        ("", None),
        (None, None),
        ("x1", None),
    ],
)
def test_language_code(tag: str | None, code: str | None) -> None:
    assert language_code(tag) == code


def test_mixed_text_goes_to_the_dominant_language() -> None:
    arabic = "أكدت المقاومة الإسلامية في العراق أن العمليات ستستمر حتى خروج قوات الاحتلال"
    assert detect_language(f"{arabic} #IslamicResistance #Iraq @sabereen_news") == "ar"
    english = "The Islamic Resistance in Iraq said operations would continue until the withdrawal"
    assert detect_language(f"{english} (المقاومة الإسلامية)") == "en"


# --- real captured text ----------------------------------------------------------------------

NAYA = "other/naya_foriraq_mirror/"
# Posts of the Arabic channel that are English (read one by one); every other post is Arabic.
NAYA_ENGLISH = {"msg-75469", "msg-82303", "msg-86162", "msg-82315", "msg-86181"}


def naya_posts() -> dict[str, str]:
    """Every post's text across the six snapshots (a later snapshot's version wins)."""
    posts: dict[str, str] = {}
    for path in sorted(real_fixture(NAYA).glob("*.md")):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "lxml")
        for post in soup.select("div.tg-post"):
            text = post.select_one(".tg-text")
            if text is not None:
                posts[str(post["id"])] = text.get_text()
    return posts


@pytest.mark.parametrize("hint", ["ar", None, "en"])
def test_naya_mirror_posts(hint: str | None) -> None:
    posts = naya_posts()
    assert len(posts) == 416
    wrong = {
        post_id: detected
        for post_id, text in posts.items()
        if (detected := detect_language(text, hint)) != ("en" if post_id in NAYA_ENGLISH else "ar")
    }
    assert wrong == {}


def test_naya_mirror_persian_header() -> None:
    text = real_fixture(NAYA + "naya_foriraq_2026-05-16T1752Z.md").read_text(encoding="utf-8")
    soup = BeautifulSoup(text, "lxml")
    for selector in (".tg-last-update", ".tg-telegram-btn"):  # "🕐 آخرین بروزرسانی: ..."
        (element,) = soup.select(selector)
        assert detect_language(element.get_text(), "ar") == "fa"


def feed_items(relative: str) -> list[str]:
    """The title and summary of every entry of a captured feed, as plain text."""
    parsed = feedparser.parse(Path(real_fixture(relative)).read_bytes())
    texts: list[str] = []
    for entry in parsed.entries:
        for value in (entry.get("title", ""), entry.get("summary", "")):
            plain = BeautifulSoup(value, "lxml").get_text(" ") if "<" in value else value
            if plain.strip():
                texts.append(plain)
    return texts


# (feed, its language (also the source's hint), items, the items detected otherwise)
FEEDS = [
    ("rss/voa_urdu_news_rtl.xml", "ur", 40, {}),
    ("rss/guardian_us.rss", "en", 110, {}),
    ("rss/reddit_rss2_with_atom_ns.rss", "en", 48, {}),
    ("atom/heise_developer.atom", "de", 30, {}),
    ("rss/jn_pt_iso-8859-1.rss", "pt", 76, {"en": 1}),  # 'Royal Mail lança selos de "Game..."'
    ("rss/uol_noticias_no_xml_decl_latin1.rss", "pt", 26, {}),
    ("rss/universfreebox_rss0.92_iso-8859-1.xml", "fr", 60, {}),
    ("rss/cercle_psy_no_xml_decl.xml", "fr", 14, {}),
    ("rss/greek_iso-8859-7.xml", "el", 2, {}),
    # Quotes from an IT humour site: three are mostly English code and chat.
    ("rss/ibash_ru_windows-1251.xml", "ru", 100, {"en": 3}),
    # A Hebrew planet feed: four of its eight posts are in English (title and summary each).
    ("atom/hamakor_hebrew_rtl.atom.xml", "he", 16, {"en": 8}),
]


@pytest.mark.parametrize(("feed", "language", "items", "others"), FEEDS)
def test_real_feeds(feed: str, language: str, items: int, others: dict[str, int]) -> None:
    texts = feed_items(feed)
    assert len(texts) == items
    detected = Counter(detect_language(text, language) for text in texts)
    assert detected == Counter({language: items - sum(others.values()), **others})
