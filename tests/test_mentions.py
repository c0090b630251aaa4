"""Mentions of the shipped gazetteer's organizations and leaders, with exact spans."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from monitor.config import Leader, Organization, load_config
from monitor.rules.matcher import analyze
from monitor.text.mentions import Gazetteer, Mention, mention_ids
from tests.conftest import real_fixture

SHIPPED = Path(__file__).resolve().parents[1] / "sources.yaml"

KH = "kataib-hezbollah"
HAN = "harakat-hezbollah-al-nujaba"
AAH = "asaib-ahl-al-haq"
KSS = "kataib-sayyid-al-shuhada"
AWFIYA = "ansar-allah-al-awfiya"
BADR = "badr-organization"
IRI = "islamic-resistance-in-iraq"
RCC = "resistance-coordination-committee"
PMF = "popular-mobilization-forces"
WARITHEEN = "tashkil-al-waritheen"
KAABI = "akram-kaabi"
HAMIDAWI = "abu-hussein-al-hamidawi"
KHAZALI = "qais-al-khazali"
TALIBAWI = "jawad-al-talibawi"
FAYYAD = "faleh-al-fayyad"


@pytest.fixture(scope="module")
def gazetteer() -> Iterator[Gazetteer]:
    """The gazetteer of the shipped sources.yaml, loaded with none of its variables set."""
    with pytest.MonkeyPatch.context() as patch:
        for name in set(re.findall(r"\$\{(\w+)", SHIPPED.read_text(encoding="utf-8"))):
            patch.delenv(name, raising=False)
        yield Gazetteer.from_config(load_config(SHIPPED))


def found(gazetteer: Gazetteer, text: str) -> list[tuple[str, str]]:
    """(id, the text matched) of every mention, checking the analyzed path agrees."""
    mentions = gazetteer.find(text)
    assert gazetteer.find(text, analyze(text)) == mentions
    return [(mention.entity, text[mention.start : mention.end]) for mention in mentions]


# --- statements written in the style of DOMAIN.md --------------------------------------------

STATEMENTS: list[tuple[str, list[tuple[str, str]]]] = [
    # who names whom: four factions thanked, AAH left out
    (
        "نتقدم بالشكر إلى كتائب حزب الله، حركة النجباء، كتائب سيد الشهداء، أنصار الله الأوفياء "
        "على موقفهم الثابت",
        [
            (KH, "كتائب حزب الله"),
            (HAN, "حركة النجباء"),
            (KSS, "كتائب سيد الشهداء"),
            (AWFIYA, "أنصار الله الأوفياء"),
        ],
    ),
    # proclitics و ل ب ك and the article
    (
        "وكتائب حزب الله ولحركة النجباء وبالعصائب وكالحشد الشعبي والكعبي وللخزعلي",
        [
            (KH, "وكتائب حزب الله"),
            (HAN, "ولحركة النجباء"),
            (AAH, "وبالعصائب"),
            (PMF, "وكالحشد الشعبي"),
            (KAABI, "والكعبي"),
            (KHAZALI, "وللخزعلي"),
        ],
    ),
    # diacritics, tatweel, alef and ya/alef-maqsura variants, ta marbuta as ha
    ("كَتَائِبُ حِزْبِ اللَّهِ", [(KH, "كَتَائِبُ حِزْبِ اللَّهِ")]),
    ("كتـــائب حـزب الله", [(KH, "كتـــائب حـزب الله")]),
    ("اكرم الكعبى وقيس الخزعلى", [(KAABI, "اكرم الكعبى"), (KHAZALI, "وقيس الخزعلى")]),
    ("انصار الله الاوفياء ومنظمه بدر", [(AWFIYA, "انصار الله الاوفياء"), (BADR, "ومنظمه بدر")]),
    ("إكرم الكعبي", [(KAABI, "إكرم الكعبي")]),  # alef variants fold: إكرم = أكرم
    # overlap: the longest wins
    ("حركة حزب الله النجباء", [(HAN, "حركة حزب الله النجباء")]),
    ("المقاومة الإسلامية في العراق", [(IRI, "المقاومة الإسلامية في العراق")]),
    (
        "الهيئة التنسيقية للمقاومة العراقية",
        [(RCC, "الهيئة التنسيقية للمقاومة العراقية")],
    ),
    (
        "الأمين العام لحركة حزب الله النجباء أكرم الكعبي",
        [(HAN, "لحركة حزب الله النجباء"), (KAABI, "أكرم الكعبي")],
    ),
    # no partial alias: Lebanese Hezbollah and Hezbollah's own "Islamic Resistance"
    ("حزب الله يعلن استهداف دبابة", []),
    ("مشاهد من عملية استهداف المقاومة الإسلامية في جنوب لبنان", []),
    ("الإطار التنسيقي يجتمع", []),  # the Coordination Framework is not the Committee
    ("كعبي", []),  # without the article it is another word
    ("Hezbollah fired rockets", []),
    # transliterations of DOMAIN.md
    ("Akram al-Kaabi", [(KAABI, "Akram al-Kaabi")]),
    ("Akram Kaabi", [(KAABI, "Akram Kaabi")]),
    ("Akram el-Kaabi", [(KAABI, "Akram el-Kaabi")]),
    ("al-Kaabi", [(KAABI, "al-Kaabi")]),
    ("el-Kaabi", [(KAABI, "el-Kaabi")]),
    ("Al Kaabi", [(KAABI, "Al Kaabi")]),
    ("AlKaabi", [(KAABI, "AlKaabi")]),
    ("Kaabi", [(KAABI, "Kaabi")]),
    ("Ka'abi", [(KAABI, "Ka'abi")]),
    ("Ka\u2019abi", [(KAABI, "Ka\u2019abi")]),
    ("Ka\u00b4abi", [(KAABI, "Ka\u00b4abi")]),
    ("Ka\u02bfbi", [(KAABI, "Ka\u02bfbi")]),
    ("Ka\u02bbbi", [(KAABI, "Ka\u02bbbi")]),
    ("al-Ka\u02bfbi", [(KAABI, "al-Ka\u02bfbi")]),
    ("Kabi", [(KAABI, "Kabi")]),  # doubled vowels collapse: Kabi = Kaabi (see the module doc)
    ("KAABI", [(KAABI, "KAABI")]),
    ("Qais al-Khazali", [(KHAZALI, "Qais al-Khazali")]),
    ("Qais Khazali", [(KHAZALI, "Qais Khazali")]),
    ("Qais al-Khazaali", [(KHAZALI, "Qais al-Khazaali")]),
    ("Qays el-Khazaali", [(KHAZALI, "Qays el-Khazaali")]),
    ("Khazali's", [(KHAZALI, "Khazali")]),
    ("Abu Hussein al-Hamidawi", [(HAMIDAWI, "Abu Hussein al-Hamidawi")]),
    ("Abu Husayn al-Hamidawi", [(HAMIDAWI, "Abu Husayn al-Hamidawi")]),
    ("Abu Hussain", [(HAMIDAWI, "Abu Hussain")]),
    ("Abu Husein", [(HAMIDAWI, "Abu Husein")]),  # a doubled s collapses too
    ("Ahmad Mohsen Faraj al-Hamidawi", [(HAMIDAWI, "Ahmad Mohsen Faraj al-Hamidawi")]),
    ("أحمد محسن فرج الحميداوي", [(HAMIDAWI, "أحمد محسن فرج الحميداوي")]),
    ("Falih al-Fayyadh", [(FAYYAD, "Falih al-Fayyadh")]),
    ("Faleh al-Fayad", [(FAYYAD, "Faleh al-Fayad")]),
    ("Jawad al-Talibawi", [(TALIBAWI, "Jawad al-Talibawi")]),
    ("Harakat al-Nujaba", [(HAN, "Harakat al-Nujaba")]),
    ("Harakat an-Nujaba", [(HAN, "Harakat an-Nujaba")]),  # assimilated article
    ("Kataib Sayyid ash-Shuhada", [(KSS, "Kataib Sayyid ash-Shuhada")]),
    ("Kata'ib Hizbullah", [(KH, "Kata'ib Hizbullah")]),
    ("Kataib Hizballah", [(KH, "Kataib Hizballah")]),
    ("Asaib-Ahl-al-Haq", [(AAH, "Asaib-Ahl-al-Haq")]),  # hyphens as spaces
    ("Asa'ib Ahl al Haq", [(AAH, "Asa'ib Ahl al Haq")]),
    ("al-Hashd al-Sha'abi", [(PMF, "al-Hashd al-Sha'abi")]),
    ("Tashkil al-Waritheen", [(WARITHEEN, "Tashkil al-Waritheen")]),
    # abbreviations: whole words written in capitals only
    (
        "KH, AAH, PMF, IRI, KSS and HaN signed",
        [(KH, "KH"), (AAH, "AAH"), (PMF, "PMF"), (IRI, "IRI"), (KSS, "KSS"), (HAN, "HaN")],
    ),
    ("KH-backed cells and (AAH)", [(KH, "KH"), (AAH, "AAH")]),
    ("كتائب KH في بغداد", [(KH, "KH")]),
    ("kh and khaki, aah and Aah, pmf, iri, Han and han", []),
    ("#KHAMENEI KHAAH PMFs", []),
    # an English statement naming factions and leaders
    (
        "Akram al-Kaabi, secretary-general of Harakat Hezbollah al-Nujaba, thanked Kataib "
        "Hezbollah and the PMF but said nothing of Qais al-Khazali.",
        [
            (KAABI, "Akram al-Kaabi"),
            (HAN, "Harakat Hezbollah al-Nujaba"),
            (KH, "Kataib Hezbollah"),
            (PMF, "PMF"),
            (KHAZALI, "Qais al-Khazali"),
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), STATEMENTS, ids=range(len(STATEMENTS)))
def test_statements(gazetteer: Gazetteer, text: str, expected: list[tuple[str, str]]) -> None:
    assert found(gazetteer, text) == expected


@pytest.mark.parametrize(
    ("text", "alias"),
    [
        ("Ka'abi", "Ka'abi"),
        ("Ka\u2019abi", "Ka'abi"),  # the apostrophe's glyph does not matter
        ("Kaabi", "Kaabi"),
        ("Kabi", "Ka\u02bfbi"),  # not listed: the alias that folds the same (ʿ dropped)
        ("KAABI", "Kaabi"),
        ("al-Kaabi", "al-Kaabi"),
        ("Al Kaabi", "al-Kaabi"),
        ("el-Kaabi", "el-Kaabi"),
        ("Akram al-Ka'abi", "Akram al-Ka'abi"),
        ("al-Hashd al-Sha'abi", "al-Hashd al-Shaabi"),
        ("Hashd al-Shaabi", "Hashd al-Shaabi"),
        ("والكعبي", "الكعبي"),
        ("HAN", "HaN"),
        ("Akram al-Kaabi", "Akram al-Kaabi"),
        ("Akram Al-Kaabi", "Akram al-Kaabi"),
    ],
)
def test_the_alias_reported_is_the_one_written_as_in_the_text(
    gazetteer: Gazetteer, text: str, alias: str
) -> None:
    (mention,) = gazetteer.find(text)
    assert mention.alias == alias


def test_spans_count_in_the_original_text(gazetteer: Gazetteer) -> None:
    text = "\u200f🇮🇶 الأمين العام لكتائب حزب الله الحاج أبو حسين الحميداوي:\n"
    assert gazetteer.find(text) == [
        Mention(KH, "organization", "كتائب حزب الله", 17, 32),
        Mention(HAMIDAWI, "leader", "أبو حسين الحميداوي", 39, 57),
    ]
    assert text[17:32] == "لكتائب حزب الله"


def test_json_form_and_ids(gazetteer: Gazetteer) -> None:
    text = "Kaabi praised KH. الكعبي يشكر كتائب حزب الله"
    mentions = gazetteer.find(text)
    assert mention_ids(mentions) == [KAABI, KH]
    assert [mention.to_json() for mention in mentions] == [
        {"id": KAABI, "kind": "leader", "alias": "Kaabi", "start": 0, "end": 5},
        {"id": KH, "kind": "organization", "alias": "KH", "start": 14, "end": 16},
        {"id": KAABI, "kind": "leader", "alias": "الكعبي", "start": 18, "end": 24},
        {"id": KH, "kind": "organization", "alias": "كتائب حزب الله", "start": 30, "end": 44},
    ]
    assert mention_ids([]) == []


def test_every_shipped_alias_names_its_entity(gazetteer: Gazetteer) -> None:
    with pytest.MonkeyPatch.context() as patch:
        for name in set(re.findall(r"\$\{(\w+)", SHIPPED.read_text(encoding="utf-8"))):
            patch.delenv(name, raising=False)
        config = load_config(SHIPPED)
    names = {entity.id: [entity.name, *entity.aliases] for entity in config.organizations}
    names.update({entity.id: [entity.name, *entity.aliases] for entity in config.leaders})
    for entity, aliases in names.items():
        for alias in aliases:
            assert entity in mention_ids(gazetteer.find(f"« {alias} »")), alias
    assert len(gazetteer) == sum(len(set(aliases)) for aliases in names.values())


# --- a gazetteer built from lists ------------------------------------------------------------


def small_gazetteer() -> Gazetteer:
    return Gazetteer(
        organizations=[
            Organization(id="front", name="Popular Front", aliases=["PF", "الجبهة الشعبية"]),
            Organization(id="front-general", name="Popular Front General Command"),
        ],
        leaders=[
            Leader(id="abu-ali", name="Abu Ali", aliases=["أبو علي"], organization="front"),
            Leader(id="abu-ali-2", name="Abu Ali al-Basri", aliases=["Abu Ali"]),
        ],
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the longest alias wins over a shorter one of another entity
        ("Popular Front General Command", [("front-general", "Popular Front General Command")]),
        ("Popular Front", [("front", "Popular Front")]),
        # two entities listing the very same alias are both named
        ("Abu Ali spoke", [("abu-ali", "Abu Ali"), ("abu-ali-2", "Abu Ali")]),
        ("Abu Ali al-Basri spoke", [("abu-ali-2", "Abu Ali al-Basri")]),
        ("وأبو علي والجبهة الشعبية", [("abu-ali", "وأبو علي"), ("front", "والجبهة الشعبية")]),
        ("PF and pf", [("front", "PF")]),
        ("", []),
    ],
)
def test_gazetteer_from_lists(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(small_gazetteer(), text) == expected


def test_an_empty_gazetteer_finds_nothing() -> None:
    assert Gazetteer().find("كتائب حزب الله KH") == []
    assert len(Gazetteer()) == 0


# --- real posts of the naya mirror, read one by one ------------------------------------------

NAYA = "other/naya_foriraq_mirror/"
NAYA_MENTIONS: dict[str, list[str]] = {
    "msg-75469": [HAN],  # English: "Simulation Harakat al-Nujaba attacks on U.S. ... bases"
    "msg-75458": [FAYYAD],  # "سيلتحقون بالمالكي و الفياض"
    "msg-78746": [PMF],  # الإطار التنسيقي (not the Committee); "الحشد الشعبي" twice
    "msg-82336": [IRI],  # "بأسم المقاومة الإسلامية في العراق" (التنسيقية alone: no alias)
    "msg-82333": [IRI],  # statement signed المقاومة الإسلامية في العراق
    "msg-82327": [IRI],
    "msg-86199": [IRI],  # "بيان هام للمقاومة الإسلامية في العراق"
    "msg-82318": [KH, HAMIDAWI],  # "الأمين العام لكتائب حزب الله الحاج أبو حسين الحميداوي"
    "msg-82319": [KH, HAMIDAWI],
    "msg-82308": [HAN],  # "رئيس المجلس السياسي لحركة النجباء"
    "msg-82288": [PMF, FAYYAD],  # signed "رئيس هيئة الحشد الشعبي / فالح الفياض"
    "msg-82287": [PMF],  # "سيد الشهداء" (Imam Hussein) and "الأوفياء" alone name no one
    "msg-82235": [PMF, FAYYAD],
    "msg-86223": [AWFIYA],  # "حركة انصار الله الاوفياء"
    "msg-86205": [PMF, IRI],  # bare "المقاومة الإسلامية" first, then the signature
    "msg-86203": [HAN, KAABI],  # "امين عام حركة النجباء الشيخ أكرم الكعبي"
    "msg-86167": [KAABI],  # "بين ….. والكعبي"
    "msg-86164": [PMF],  # "للحـشد الشعبي": ل + ال and a tatweel
    "msg-86163": [KHAZALI],  # "الشيخ قيس الخزعلي"
    "msg-86160": [HAN],  # "المقاومة الإسلامية حركة النجباء" is not IRI
    "msg-86198": [PMF],  # "الحشد\xa0الشعبي" with a no-break space
    "msg-86227": [PMF],
    # no mention of the gazetteer
    "msg-75499": [],  # Lebanese Hezbollah and its "المقاومة الإسلامية"
    "msg-78715": [],  # "حزب الله هو من هاجم إسرائيل"
    "msg-82324": [],  # "#KHAMENEI" is not KH
    "msg-82331": [],  # "الحششد الششعبي", misspelled in a quote
    "msg-86180": [],  # "المقاومة الاسلامية سرايا اولياء الدم"
    "msg-75511": [],  # Trump on Iran
}


@pytest.fixture(scope="module")
def naya_posts() -> dict[str, str]:
    posts: dict[str, str] = {}
    for path in sorted(real_fixture(NAYA).glob("*.md")):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "lxml")
        for post in soup.select("div.tg-post"):
            text = post.select_one(".tg-text")
            if text is not None:
                posts[str(post["id"])] = text.get_text()
    return posts


@pytest.mark.parametrize(("post_id", "expected"), NAYA_MENTIONS.items())
def test_naya_posts(
    gazetteer: Gazetteer, naya_posts: dict[str, str], post_id: str, expected: list[str]
) -> None:
    text = naya_posts[post_id]
    mentions = gazetteer.find(text, analyze(text))
    assert mention_ids(mentions) == expected
    for mention in mentions:  # every span is a whole word run of the original text
        span = text[mention.start : mention.end]
        assert span == span.strip() and span


def test_naya_mentions_overall(gazetteer: Gazetteer, naya_posts: dict[str, str]) -> None:
    """Across all 416 posts: who is named how often (reviewed post by post)."""
    counts: dict[str, int] = {}
    for text in naya_posts.values():
        for entity in mention_ids(gazetteer.find(text)):
            counts[entity] = counts.get(entity, 0) + 1
    assert counts == {
        PMF: 25,
        IRI: 7,
        HAN: 4,
        FAYYAD: 3,
        KH: 2,
        HAMIDAWI: 2,
        KAABI: 2,
        KHAZALI: 1,
        AWFIYA: 1,
        BADR: 1,  # msg-82290 "فيلق بدر"
    }
