"""Folding, tokenization with exact offsets, and Arabic proclitic stems."""

from __future__ import annotations

import pytest

from monitor.text.normalize import Token, fold, is_arabic, stems, tokenize


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        # English case folding
        ("America", "america"),
        ("DECLARE War", "declare war"),
        ("Straße", "strasse"),
        # Latin diacritics and letters without a combining mark
        ("café Élysée", "cafe elysee"),
        ("Ḥusayn", "husayn"),
        ("Ka'abi", "kaabi"),
        ("Kaʿbi", "kabi"),
        ("Kaʾbi", "kabi"),
        ("Ka‘abi Ka’abi Ka`abi", "kaabi kaabi kaabi"),
        ("Łódź Søren", "lodz soren"),
        ("ﬁnal", "final"),  # NFKC ligature
        # Arabic diacritics (tashkeel), superscript alef, tatweel
        ("أَمْرِيكَا", "امريكا"),
        ("الحَرْبُ", "الحرب"),
        ("رحمٰن", "رحمن"),
        ("أمريـــكا", "امريكا"),
        # alef variants
        ("أمريكا", "امريكا"),
        ("إعلان", "اعلان"),
        ("آمريكا", "امريكا"),
        ("ٱلله", "الله"),
        # ta marbuta -> ha, alef maqsura -> ya
        ("المقاومة", "المقاومه"),
        ("المقاومه", "المقاومه"),
        ("مستشفى", "مستشفي"),
        # hamza seats, lone hamza
        ("مؤتمر", "موتمر"),
        ("رئيس", "رييس"),
        ("سماء", "سما"),
        # Persian/Urdu letters
        ("کتائب", "كتايب"),
        ("ایران", "ايران"),
        # Arabic-Indic and Persian digits
        ("٢٠٢٦", "2026"),
        ("۲۰۲۶", "2026"),
        # zero-width and bidi characters
        ("أمر\u200bيكا", "امريكا"),
        ("أمر\u200cيكا", "امريكا"),
        ("\u200fالحرب\u200e", "الحرب"),
        ("\u202bالحرب\u202c", "الحرب"),
        ("\u2067الحرب\u2069", "الحرب"),
        ("\ufeffالحرب\u061c", "الحرب"),
        # Arabic presentation forms (NFKC)
        ("\ufefb", "لا"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("أمريكا", "امريكا"),
        ("آمريكا", "أمريكا"),
        ("أَمْرِيكَا", "امريكا"),
        ("أمريـــكا", "أمريكا"),
        ("المقاومة", "المقاومه"),
        ("على", "علي"),
        ("٢٠٢٦", "2026"),
        ("ELAN", "élan"),
    ],
)
def test_variants_fold_alike(a: str, b: str) -> None:
    assert fold(a) == fold(b)


def _cut(text: str) -> list[tuple[str, str]]:
    """(folded token, exact original substring) for every token of ``text``."""
    return [(token.text, text[token.start : token.end]) for token in tokenize(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Declare WAR, now!", [("declare", "Declare"), ("war", "WAR"), ("now", "now")]),
        ("al-Kaabi", [("al", "al"), ("kaabi", "Kaabi")]),
        ("Akram Ka'abi", [("akram", "Akram"), ("kaabi", "Ka'abi")]),
        ("Kaʿbi", [("kabi", "Kaʿbi")]),
        # an English possessive 's is left out of the word
        ("America's bases", [("america", "America"), ("bases", "bases")]),
        ("AMERICA’S", [("america", "AMERICA")]),
        ("'quoted'", [("quoted", "quoted")]),
        ("snake_case", [("snake", "snake"), ("case", "case")]),
        ("in 2026.", [("in", "in"), ("2026", "2026")]),
        # Arabic: marks and tatweel inside words, offsets into the original
        ("قال: أَمْرِيكَا.", [("قال", "قال"), ("امريكا", "أَمْرِيكَا")]),
        ("أمريـــكا والاحتلال", [("امريكا", "أمريـــكا"), ("والاحتلال", "والاحتلال")]),
        ("عام ٢٠٢٦م", [("عام", "عام"), ("2026م", "٢٠٢٦م")]),
        # invisible characters: inside a word they are kept in it, around it they are not
        ("\u200fأمر\u200cيكا\u200f!", [("امريكا", "أمر\u200cيكا")]),
        ("war\u200b peace", [("war", "war"), ("peace", "peace")]),
        # a character that folds into several words keeps its span for each
        ("ﷺ", [("صلي", "ﷺ"), ("الله", "ﷺ"), ("عليه", "ﷺ"), ("وسلم", "ﷺ")]),
        ("नमस्ते दुनिया", [("नमस्ते", "नमस्ते"), ("दुनिया", "दुनिया")]),
        ("", []),
        ("ـــ ' ء", []),
    ],
)
def test_tokenize(text: str, expected: list[tuple[str, str]]) -> None:
    assert _cut(text) == expected


def test_tokenize_offsets() -> None:
    text = "بيان: إعلانُ الحرب"
    assert tokenize(text) == [
        Token("بيان", 0, 4),
        Token("اعلان", 6, 12),
        Token("الحرب", 13, 18),
    ]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("امريكا", ("امريكا",)),
        ("وامريكا", ("وامريكا", "امريكا")),
        ("فامريكا", ("فامريكا", "امريكا")),
        ("بامريكا", ("بامريكا", "امريكا")),
        ("لامريكا", ("لامريكا", "امريكا")),
        ("كامريكا", ("كامريكا", "امريكا")),
        ("وبامريكا", ("وبامريكا", "امريكا", "بامريكا")),
        ("الاحتلال", ("الاحتلال", "احتلال")),
        ("والاحتلال", ("والاحتلال", "احتلال", "الاحتلال")),
        ("فالاحتلال", ("فالاحتلال", "احتلال", "الاحتلال")),
        ("بالاحتلال", ("بالاحتلال", "احتلال", "الاحتلال")),
        ("للاحتلال", ("للاحتلال", "احتلال", "الاحتلال", "لاحتلال")),
        ("وللاحتلال", ("وللاحتلال", "احتلال", "الاحتلال", "لاحتلال", "للاحتلال")),
        # at least two letters must remain
        ("وهو", ("وهو", "هو")),
        ("لك", ("لك",)),
        ("الله", ("الله", "له")),
        # non-Arabic words are never stripped
        ("wall", ("wall",)),
        ("2026", ("2026",)),
    ],
)
def test_stems(word: str, expected: tuple[str, ...]) -> None:
    assert set(stems(word)) == set(expected)
    assert stems(word)[0] == word


@pytest.mark.parametrize(
    ("word", "arabic"),
    [("امريكا", True), ("کتایب", True), ("america", False), ("2026", False), ("", False)],
)
def test_is_arabic(word: str, arabic: bool) -> None:
    assert is_arabic(word) is arabic
