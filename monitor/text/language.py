"""The language of a statement, from its letters and words, offline and in microseconds.

    detect_language("قال الأمين العام لكتائب حزب الله ...", hint="ar")   # "ar"
    detect_language("The Secretary-General said ...", hint="ar")          # "en": the text wins

How it decides:

1. Links, e-mail addresses and @handles are dropped; the letters left are counted
   per script. The script with the most letters is the text's script (an Arabic
   statement with an English hashtag is Arabic script; Latin letters count half
   against another script, see :data:`LATIN_WEIGHT`). Fewer than
   :data:`MIN_LETTERS` letters: the hint (or None) is the answer.
2. A script that one language writes (Greek, Hebrew, Hangul...) gives that language.
3. Arabic, Latin and Cyrillic scripts are shared: each candidate language gets a
   score from its frequent function words (a word listed for k languages counts
   1/k for each) and from the letters that only it writes, per occurrence
   (Arabic ي ك ة ى; Persian/Urdu/Kurdish پ چ ژ گ ی ک; Urdu ے ں ٹ ڈ ڑ ہ;
   Sorani ێ ۆ ڕ ڵ ە; German ß; Turkish ı ğ; Kurmanji ê î û ş...). The best score wins.
4. The hint is a prior, not the answer: it adds :data:`HINT_PRIOR` to its language's
   score and wins ties, and it is the answer only when the evidence is weak (a best
   score under :data:`MIN_EVIDENCE` or under :data:`EVIDENCE_PER_WORD` per word) and
   the hint is a language that writes the text's script. A hinted language without
   a word list here (Finnish, Pashto) is the answer unless another language's words
   are strong evidence. An English post on a source hinted ``ar`` is ``en``. Without
   a usable hint, weak evidence gives the script's usual language (ar, ru, en).

Codes are ISO 639-1 where one exists (``ku`` for Kurdish in either script).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from monitor.text import language_data as data

__all__ = ["MIN_LETTERS", "detect_language", "language_code"]

MIN_LETTERS = 4  # below this many letters a text is "very short": the hint decides
MAX_CHARS = 5000  # a longer text is judged by its beginning (the cost stays bounded)
HINT_PRIOR = 0.5  # points a hint adds to its language's score (half a function word)
WORD_WEIGHT = 1.0  # points of a function word listed for one language only
ARABIC_WORD_WEIGHT = 2.0  # Arabic-script words weigh more: letters there count per letter
MIN_EVIDENCE = 0.5  # a best score below this is weak evidence...
EVIDENCE_PER_WORD = 0.05  # ...and so is one below this many points per word
# Latin letters count half against another script: in an Arabic (Hebrew, Russian...)
# statement, Latin runs are mostly names, hashtags, code and brand names.
LATIN_WEIGHT = 0.5

_CODE = re.compile(r"[a-z]{2,3}")
_NOISE = re.compile(r"://|^www\.|@")  # links, e-mail addresses, @handles

# Spelling variants of Arabic function words: the lists are written with one form,
# and Arabic text may use any of these (Persian ی ک typed for ي ك, final ة as ه...).
_ARABIC_NORMAL = str.maketrans(
    {
        "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u064a": "\u06cc",
        "\u0649": "\u06cc", "\u0643": "\u06a9", "\u0629": "\u0647",
    }
)  # fmt: skip
_ARABIC_VARIANTS = {
    "\u0627": ("\u0627", "\u0623", "\u0625", "\u0622"),  # ا أ إ آ
    "\u06cc": ("\u06cc", "\u064a", "\u0649"),  # ی ي ى
    "\u06a9": ("\u06a9", "\u0643"),  # ک ك
}


def _arabic_spellings(word: str) -> list[str]:
    """Every spelling of an Arabic function word that Arabic text may use."""
    forms = [""]
    normal = word.translate(_ARABIC_NORMAL)
    for index, letter in enumerate(normal):
        options: tuple[str, ...] = _ARABIC_VARIANTS.get(letter, (letter,))
        if letter == "\u0647" and index == len(normal) - 1:
            options = ("\u0647", "\u0629")  # final ه or ة
        forms = [form + option for form in forms for option in options]
    return forms


@dataclass(frozen=True, slots=True)
class _Family:
    """Languages sharing a script, with what tells them apart."""

    languages: tuple[str, ...]  # the first is the script's usual language
    words: Mapping[str, tuple[tuple[str, float], ...]]
    letters: tuple[tuple[str, tuple[tuple[str, float], ...]], ...]
    ascii_letters: bool  # whether any telltale letter is ASCII (else ASCII text skips them)

    def scores(self, words: Iterable[str], text: str) -> tuple[dict[str, float], dict[str, float]]:
        """Each language's score from its words alone, and from words and letters."""
        by_words = dict.fromkeys(self.languages, 0.0)
        # Tokens are looked up as split on white space: a function word rarely carries
        # punctuation, and map/filter keep the loop over every token in C.
        for found in filter(None, map(self.words.get, words)):
            for language, weight in found:
                by_words[language] += weight
        total = dict(by_words)
        if self.ascii_letters or not text.isascii():
            # One pass for the set of characters present; then only the telltale
            # letters in it are counted (each count is a pass over the text).
            present = set(text)
            for letter, contributions in self.letters:
                if letter not in present:
                    continue
                count = text.count(letter)
                if count:
                    for language, weight in contributions:
                        total[language] += count * weight
        return by_words, total


def _family(
    default: str,
    words: Mapping[str, str],
    letters: Mapping[str, Mapping[str, float]],
    weight: float = WORD_WEIGHT,
    spellings: Mapping[str, Callable[[str], list[str]]] | None = None,
) -> _Family:
    languages = tuple(dict.fromkeys([default, *words, *letters]))
    owners: dict[str, list[str]] = {}
    for language, listed in words.items():
        spell = (spellings or {}).get(language)
        for word in listed.split():
            for form in spell(word) if spell else [word]:
                if language not in owners.setdefault(form, []):
                    owners[form].append(language)
    table = {
        word: tuple((language, weight / len(langs)) for language in langs)
        for word, langs in owners.items()
    }
    by_letter: dict[str, list[tuple[str, float]]] = {}
    for language, weights in letters.items():
        for letter, points in weights.items():
            by_letter.setdefault(letter, []).append((language, points))
    return _Family(
        languages,
        table,
        tuple((letter, tuple(points)) for letter, points in by_letter.items()),
        any(letter.isascii() for letter in by_letter),
    )


_FAMILIES: dict[str, _Family] = {
    "arabic": _family(
        "ar",
        data.ARABIC_SCRIPT_WORDS,
        data.ARABIC_SCRIPT_LETTERS,
        ARABIC_WORD_WEIGHT,
        {"ar": _arabic_spellings},
    ),
    "latin": _family("en", data.LATIN_WORDS, data.LATIN_LETTERS),
    "cyrillic": _family("ru", data.CYRILLIC_WORDS, data.CYRILLIC_LETTERS),
}

# Hints believed for a script when its text alone does not decide.
_NOT_LATIN = frozenset(
    code
    for script, codes in data.SCRIPT_HINTS.items()
    for code in codes | {data.SCRIPT_LANGUAGE[script]}
) | frozenset(code for script, code in data.SCRIPT_LANGUAGE.items() if script != "latin")
_ALSO_LATIN = frozenset({"ku", "az", "ms", "sr", "uz", "kk", "tk", "tt", "ug", "pa", "ks", "sd"})

_STARTS = [start for start, _, _ in data.SCRIPT_RANGES]
_SCRIPT_CACHE: dict[str, str | None] = {}


def _script(char: str) -> str | None:
    try:
        return _SCRIPT_CACHE[char]
    except KeyError:
        pass
    code = ord(char)
    index = bisect_right(_STARTS, code) - 1
    script = None
    if index >= 0:
        start, end, name = data.SCRIPT_RANGES[index]
        if start <= code <= end:
            script = name
    if len(_SCRIPT_CACHE) < 100_000:
        _SCRIPT_CACHE[char] = script
    return script


def language_code(value: str | None) -> str | None:
    """A language tag (``ar``, ``ar-IQ``, ``en_US``, ``ckb``) as an ISO 639-1 code, or None."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    if not _CODE.fullmatch(code):
        return None
    return data.CODE_ALIASES.get(code, code)


def _accepts(script: str, hint: str | None) -> bool:
    """Whether a language is written in a script (so the hint may decide for weak text)."""
    if hint is None:
        return False
    if script == "latin":
        return hint not in _NOT_LATIN or hint in _ALSO_LATIN
    family = _FAMILIES.get(script)
    if family is not None and hint in family.languages:
        return True
    return hint in data.SCRIPT_HINTS.get(script, ()) or hint == data.SCRIPT_LANGUAGE.get(script)


def detect_language(text: str, hint: str | None = None) -> str | None:
    """The ISO 639-1 code of the language ``text`` is mostly written in.

    ``hint`` (the source's configured language, or what its feed declares) is a
    prior: it decides very short texts (fewer than :data:`MIN_LETTERS` letters),
    ties and texts with weak evidence in a script it is written in, and nothing
    else. None when the text has too few letters and there is no hint.
    """
    prior = language_code(hint)
    text = text[:MAX_CHARS]
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = text.lower().replace("\u200c", " ")  # Persian ZWNJ ends a word (می‌کند)
    if "://" in text or "@" in text or "www." in text:
        text = " ".join(t for t in text.split() if not _NOISE.search(t))
    letters = _letters_fast(text)
    if letters is None or sum(letters.values()) < _EXACT_BELOW:
        letters = _letters(text)  # exact: the fast count takes Arabic digits for letters
    if sum(letters.values()) < MIN_LETTERS:
        return prior
    script = max(letters, key=lambda s: letters[s] * (LATIN_WEIGHT if s == "latin" else 1.0))
    family = _FAMILIES.get(script)
    if family is None:
        if script == "han" and letters.get("kana"):
            return "ja"
        return prior if _accepts(script, prior) else data.SCRIPT_LANGUAGE.get(script)
    return _decide(family, script, text.split(), text, prior)


# Letters counted by the first byte of their UTF-8 form, at C speed: a-z and the
# two-byte blocks of Latin, Greek, Cyrillic, Armenian, Hebrew and Arabic letters.
# "O" marks a three-byte letter block (Indic, Georgian, CJK, Hangul...): then the
# letters are counted by code point instead.
_LEAD_BYTES = (
    bytes(range(0x61, 0x7B)) + bytes(range(0xC3, 0xCA)) + b"\xce\xcf\xd0\xd1\xd2\xd3\xd5\xd7"
    b"\xd8\xd9\xda\xdb\xdd\xe0\xe1" + bytes(range(0xE3, 0xEE))
)
_LEAD_CLASS = bytes.maketrans(_LEAD_BYTES, b"L" * 33 + b"GGCCCCMHAAAAA" + b"O" * 13)
_LEAD_OTHER = bytes(b for b in range(256) if b not in _LEAD_BYTES)
_LEAD_SCRIPTS = {
    "L": "latin", "G": "greek", "C": "cyrillic", "M": "armenian", "H": "hebrew", "A": "arabic",
}  # fmt: skip
_LETTERS = re.compile(r"[^\W\d_]+")
_EXACT_BELOW = 40  # letters: short texts are counted exactly


def _letters_fast(text: str) -> dict[str, int] | None:
    """Letters per script of lowercase text; None when a slower count is needed."""
    classes = text.encode().translate(_LEAD_CLASS, _LEAD_OTHER)
    if b"O" in classes:
        return None
    counts = {name: classes.count(code.encode()) for code, name in _LEAD_SCRIPTS.items()}
    return {name: count for name, count in counts.items() if count}


def _letters(text: str) -> dict[str, int]:
    """Letters per script, by code point (any script; a word counts for its first letter's)."""
    letters: dict[str, int] = {}
    for word in _LETTERS.findall(text):
        script = _script(word[0])
        if script in ("han", "kana"):  # no spaces: Japanese mixes both in one "word"
            for char in word:
                name = _script(char)
                if name is not None:
                    letters[name] = letters.get(name, 0) + 1
        elif script is not None:
            letters[script] = letters.get(script, 0) + len(word)
    return letters


def _decide(family: _Family, script: str, words: list[str], text: str, prior: str | None) -> str:
    by_words, scores = family.scores(words, text)
    enough = max(MIN_EVIDENCE, EVIDENCE_PER_WORD * len(words))
    order = list(family.languages)
    if prior is not None and prior in scores:
        scores[prior] += HINT_PRIOR
        order.insert(0, prior)  # first in order: wins ties
    best = max(order, key=scores.__getitem__)
    if prior is not None and prior not in scores and _accepts(script, prior):
        # A language without a word list (Finnish, Pashto...): telltale letters are
        # shared with it, so only another language's words outweigh the hint.
        return best if by_words[best] >= enough else prior
    if scores[best] < enough:
        if prior is not None and _accepts(script, prior):
            return prior
        return best if scores[best] > 0 else family.languages[0]
    return best
