"""Folding and tokenization of text for matching; stored text is never altered.

``fold`` maps the spelling variants an analyst wants treated as one word to one
form: case, Latin diacritics, Arabic short vowels and letter variants, Eastern
digits, invisible format characters and apostrophes. ``tokenize`` cuts a text
into words in one regex pass and folds each word, keeping the offsets of the
word in the original text so evidence can be highlighted there. ``stems`` lists
the forms of an Arabic word without its proclitics (و ف ب ك ل and ال).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

__all__ = ["Token", "fold", "is_arabic", "stems", "tokenize", "tokenize_indexed"]

ALEF, YA, HA, WAW, KAF = "\u0627", "\u064a", "\u0647", "\u0648", "\u0643"
ARTICLE = "\u0627\u0644"  # ال

# Apostrophes that are punctuation to the regex; ʼ ʾ ʿ are letters (category Lm) to it.
_PUNCT_APOSTROPHES = "'`\u2018\u2019"
_APOSTROPHES = _PUNCT_APOSTROPHES + "\u02bc\u02be\u02bf"
# Zero-width, bidi and other invisible format characters (also the soft hyphen).
_INVISIBLE_RANGES = [
    (0x00AD, 0x00AD), (0x061C, 0x061C), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2060), (0x2066, 0x2069), (0xFEFF, 0xFEFF),
]  # fmt: skip
# Combining marks removed after NFD: Latin diacritics and Arabic tashkeel/Quranic marks.
_STRIPPED_MARK_RANGES = [
    (0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F),
    (0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06DC), (0x06DF, 0x06E4),
    (0x06E7, 0x06E8), (0x06EA, 0x06ED), (0x08D3, 0x08E1), (0x08E3, 0x08FF),
]  # fmt: skip
_LETTER_MAP = {
    # alef variants (أ إ آ also lose their mark in NFD; listed for clarity)
    "\u0622": ALEF, "\u0623": ALEF, "\u0625": ALEF, "\u0671": ALEF, "\u0672": ALEF,
    "\u0673": ALEF, "\u0675": ALEF,
    # alef maqsura, Persian/Urdu ya, hamza on ya -> ya; hamza on waw -> waw
    "\u0649": YA, "\u06cc": YA, "\u0626": YA, "\u0624": WAW,
    # ta marbuta and heh variants -> ha
    "\u0629": HA, "\u06c0": HA, "\u06c1": HA, "\u06c3": HA, "\u06d5": HA,
    # Persian/Urdu kaf -> Arabic kaf
    "\u06a9": KAF, "\u06aa": KAF,
    # Latin letters that carry no combining mark
    "\u00f8": "o", "\u0142": "l", "\u0111": "d", "\u0131": "i", "\u0127": "h",
    "\u00e6": "ae", "\u0153": "oe", "\u00fe": "th", "\u00f0": "d",
}  # fmt: skip


def _expand(ranges: Iterable[tuple[int, int]]) -> list[int]:
    return [cp for low, high in ranges for cp in range(low, high + 1)]


def _fold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {
        cp: None
        for cp in _expand(_STRIPPED_MARK_RANGES)
        if unicodedata.category(chr(cp)).startswith("M")
    }
    table.update(dict.fromkeys(_expand(_INVISIBLE_RANGES)))
    table.update(dict.fromkeys(map(ord, _APOSTROPHES)))
    table[0x0640] = None  # tatweel
    table[0x0621] = None  # lone hamza
    table.update({ord(src): dst for src, dst in _LETTER_MAP.items()})
    for digit in range(10):
        table[0x0660 + digit] = str(digit)  # Arabic-Indic
        table[0x06F0 + digit] = str(digit)  # Persian
    return table


_TABLE = _fold_table()
_ASCII_TABLE: dict[int, str | None] = dict.fromkeys(map(ord, "'`"))


def fold(text: str) -> str:
    """The matching form of ``text``: NFKC, case-folded, variants merged, marks dropped.

    Apostrophes are removed wherever they are (``Ka'abi`` -> ``kaabi``); this is a
    matching form, never shown or stored.
    """
    if text.isascii():
        return text.lower().translate(_ASCII_TABLE)
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = unicodedata.normalize("NFD", folded).translate(_TABLE)
    return unicodedata.normalize("NFC", folded)


class Token(NamedTuple):
    """A word: its folded ``text`` and its ``start``/``end`` offsets in the original text.

    A named tuple, not a dataclass: statements have hundreds of tokens, and a
    tuple is built several times faster than a frozen dataclass instance.
    """

    text: str
    start: int
    end: int


def _char_class(codepoints: Iterable[int]) -> str:
    """A regex character class body for a set of code points, as ranges."""
    parts: list[str] = []
    run: list[int] = []
    for cp in sorted(set(codepoints)):
        if run and cp == run[-1] + 1:
            run.append(cp)
            continue
        if run:
            parts.append(_range(run[0], run[-1]))
        run = [cp]
    if run:
        parts.append(_range(run[0], run[-1]))
    return "".join(parts)


def _range(low: int, high: int) -> str:
    return re.escape(chr(low)) if low == high else f"{re.escape(chr(low))}-{re.escape(chr(high))}"


def _marks() -> str:
    # Python's \w misses combining marks (harakat, Indic vowel signs): add them to words.
    return _char_class(
        cp for cp in range(0x300, 0x10000) if unicodedata.category(chr(cp)).startswith("M")
    )


_L = r"[^\W_]"  # a letter or digit of any script
_M = f"[{_marks()}]"
_J = f"[{_char_class(_expand(_INVISIBLE_RANGES))}]"
_A = f"[{re.escape(_PUNCT_APOSTROPHES)}]"
_END = rf"(?!{_L}|{_M})"
# A word starts with a letter or digit and goes on with letters, digits and marks;
# invisible characters and apostrophes followed by a letter stay inside the word,
# except an English possessive 's, which is consumed but left out of the word.
# Letters and marks are taken in runs ([...]+, which the regex engine loops over
# in C) rather than one alternation per character: the same words, faster.
_WORD = re.compile(
    rf"(?P<w>{_L}(?:{_L}+|{_M}+|(?!{_A}[sS]{_END})(?:{_J}|{_A})+(?={_L}))*)"
    rf"(?:{_A}[sS]{_END})?"
)
# A word as written -> its folded form, interned (a str), or the parts it folds
# into (a tuple: a ligature may fold into several words, or marks may be left).
# Statements repeat their vocabulary: most words are a dictionary lookup.
_FOLDED: dict[str, str | tuple[str, ...]] = {}
_FOLDED_LIMIT = 200_000
_new_tuple = tuple.__new__  # Token(...) goes through a Python-level __new__


def _folded(word: str) -> str | tuple[str, ...]:
    folded = fold(word)
    # Folding may expand a character into several words (ligatures such as U+FDFA)
    # or leave marks: then the parts, each keeping the span of the original word.
    found = sys.intern(folded) if folded.isalnum() else tuple(_split(folded))
    if len(_FOLDED) >= _FOLDED_LIMIT:
        _FOLDED.clear()  # bounded memory; the common words come back at once
    _FOLDED[word] = found
    return found


def tokenize(text: str) -> list[Token]:
    """The words of ``text``, folded, with their offsets in ``text`` itself."""
    get = _FOLDED.get
    tokens: list[Token] = []
    append = tokens.append
    # The regex pass first, in one comprehension; then a lookup per word.
    for word, (start, end) in [(match[1], match.span(1)) for match in _WORD.finditer(text)]:
        folded = get(word)
        if folded is None:
            folded = _folded(word)
        if folded.__class__ is str:
            append(_new_tuple(Token, (folded, start, end)))
        else:
            tokens.extend(_new_tuple(Token, (part, start, end)) for part in folded)
    return tokens


def tokenize_indexed(text: str) -> tuple[list[Token], dict[str, list[int]]]:
    """``tokenize(text)``, and each distinct folded word's positions, ascending.

    The same loop as :func:`tokenize` (kept apart so that plain tokenizing does
    not pay for the grouping): an analyzed statement needs both, and grouping
    while tokenizing saves a second pass over the tokens.
    """
    get = _FOLDED.get
    tokens: list[Token] = []
    append = tokens.append
    words: defaultdict[str, list[int]] = defaultdict(list)
    for word, (start, end) in [(match[1], match.span(1)) for match in _WORD.finditer(text)]:
        folded = get(word)
        if folded is None:
            folded = _folded(word)
        if folded.__class__ is str:
            words[folded].append(len(tokens))
            append(_new_tuple(Token, (folded, start, end)))
        else:
            for part in folded:
                words[part].append(len(tokens))
                append(_new_tuple(Token, (part, start, end)))
    return tokens, words


def _split(folded: str) -> list[str]:
    return [match.group("w") for match in _WORD.finditer(folded)]


def is_arabic(word: str) -> bool:
    """Whether a folded word is written in Arabic script (judged by its first letter)."""
    return bool(word) and ("\u0600" <= word[0] <= "\u06ff" or "\u0750" <= word[0] <= "\u077f")


def _proclitics() -> tuple[tuple[str, bool], ...]:
    """Every proclitic chain (conjunction, preposition, article), longest first.

    Each entry is (surface, has_article); ل followed by ال is written لل.
    """
    chains: list[tuple[str, bool]] = []
    for conj in ("", "\u0648", "\u0641"):  # و ف
        for prep in ("", "\u0628", "\u0643", "\u0644"):  # ب ك ل
            chains.append((conj + prep, False))
            article = "\u0644\u0644" if prep == "\u0644" else prep + ARTICLE
            chains.append((conj + article, True))
    return tuple(sorted((c for c in chains if c[0]), key=lambda c: -len(c[0])))


_PROCLITICS = _proclitics()
MIN_STEM = 2


@lru_cache(maxsize=65536)
def stems(word: str) -> tuple[str, ...]:
    """The folded ``word`` and its forms without Arabic proclitics.

    ``والاحتلال`` gives ``الاحتلال`` and ``احتلال``; ``للاحتلال`` (ل + ال) gives
    ``احتلال`` and ``الاحتلال``; ``وبامريكا`` gives ``بامريكا`` and ``امريكا``. A
    proclitic is only removed when at least two letters remain. Words not in Arabic
    script are returned alone.
    """
    if not is_arabic(word):
        return (word,)
    forms = [word]
    for surface, has_article in _PROCLITICS:
        if word.startswith(surface) and len(word) - len(surface) >= MIN_STEM:
            rest = word[len(surface) :]
            forms.append(rest)
            if has_article:
                forms.append(ARTICLE + rest)
    return tuple(dict.fromkeys(forms))


@lru_cache(maxsize=65536)
def stem_set(word: str) -> frozenset[str]:
    """``stems(word)`` as a set, built once per word: every statement's index asks."""
    return frozenset(stems(word))
