"""How the words of a name are keyed for matching: the transliteration rules.

Used by :mod:`monitor.text.mentions` on both sides, the config's aliases and the
words of a statement, after :func:`monitor.text.normalize.tokenize` has folded
them (case, diacritics, Arabic letter variants, apostrophes and ʿ ʾ):

- an Arabic word matches by its stems (proclitics و ف ب ك ل and ال removed);
- a Latin word matches by its key: doubled letters collapsed (``kaabi`` -> ``kabi``);
  a word glued to an article (``alkaabi``) also by the key of the rest;
- a Latin article (``al``, ``el``, or ``an``, ``ash``... before a hyphen and their
  own letter) is no word of its own: it joins the span of the word it precedes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from monitor.text.normalize import Token, is_arabic, stems

__all__ = ["ODD_APOSTROPHES", "Words", "alias_keys", "has_odd_apostrophe", "written"]

ARTICLES = frozenset({"al", "el"})
# Assimilated articles: only before a hyphen and a word starting with their letter(s).
SUN_ARTICLES = {
    "ad": "d", "adh": "dh", "an": "n", "ar": "r", "as": "s", "ash": "sh", "at": "t",
    "ath": "th", "az": "z", "ud": "d", "un": "n", "ur": "r", "us": "s", "ush": "sh",
    "ut": "t", "uz": "z", "ul": "", "il": "",
}  # fmt: skip
ARTICLE_WORDS = ARTICLES | frozenset(SUN_ARTICLES)
MIN_AFTER_GLUED_ARTICLE = 3
_HYPHENS = "-\u2010\u2011"
# Apostrophe look-alikes the tokenizer would cut a word at; replaced one for one
# (offsets unchanged) before tokenizing.
ODD_APOSTROPHES = str.maketrans(dict.fromkeys("\u00b4\u201b\u2032\u02bb\u02bd", "'"))
_ODD = re.compile("[\u00b4\u201b\u2032\u02bb\u02bd]")
_DOUBLED = re.compile(r"(.)\1+")
_SEPARATORS = re.compile(r"[\s\-\u2010\u2011]+")
_APOSTROPHE_GLYPHS = str.maketrans(dict.fromkeys("`\u00b4\u2018\u2019\u201b\u2032\u02bc", "'"))


def has_odd_apostrophe(text: str) -> bool:
    """Whether ``text`` writes an apostrophe the tokenizer would split a word at."""
    return _ODD.search(text) is not None


@lru_cache(maxsize=65536)
def latin_key(word: str) -> str:
    """A folded Latin word with doubled letters collapsed (kaabi -> kabi)."""
    return _DOUBLED.sub(r"\1", word)


@lru_cache(maxsize=65536)
def forms(word: str) -> tuple[str, ...]:
    """What a folded word of a text may match: its stems (Arabic) or its keys (Latin)."""
    if is_arabic(word):
        return stems(word)
    key = latin_key(word)
    if word[:2] in ARTICLES and len(word) - 2 >= MIN_AFTER_GLUED_ARTICLE:
        return (key, latin_key(word[2:]))  # AlKaabi, Alnujaba
    return (key,)


def is_article(text: str, tokens: Sequence[Token], index: int) -> bool:
    """Whether a folded Latin token is an article that the next word carries."""
    word = tokens[index].text
    if index + 1 >= len(tokens):
        return False
    if word in ARTICLES:
        return True
    letters = SUN_ARTICLES.get(word)
    if letters is None:
        return False
    after = tokens[index].end
    return (
        after < len(text)
        and text[after] in _HYPHENS
        and tokens[index + 1].start == after + 1
        and tokens[index + 1].text.startswith(letters)
    )


def alias_keys(alias: str, tokens: Sequence[Token]) -> tuple[str, ...]:
    """The keys an alias's words must match, in order (articles dropped)."""
    keys: list[str] = []
    for index, token in enumerate(tokens):
        if is_arabic(token.text):
            keys.append(token.text)
        elif not is_article(alias, tokens, index):
            keys.append(latin_key(token.text))
    return tuple(keys)


def written(text: str) -> str:
    """How a name is written, up to case, hyphens and the apostrophe's glyph."""
    return _SEPARATORS.sub(" ", text.casefold().translate(_APOSTROPHE_GLYPHS)).strip()


class Words:
    """The words of a text as an alias index sees them, in parallel lists (fast to build)."""

    __slots__ = ("ends", "forms", "starts", "tokens")

    def __init__(self, text: str, tokens: Sequence[Token], folded: list[str]) -> None:
        # What each word may match: its keys (Latin) or its stems (Arabic).
        self.forms: list[tuple[str, ...]] = list(map(forms, folded))
        self.starts = [token.start for token in tokens]  # a leading article included
        self.ends = [token.end for token in tokens]
        self.tokens = list(range(len(tokens)))  # index of each word's token
        if not ARTICLE_WORDS.isdisjoint(folded):
            self._drop_articles(text, tokens)

    def _drop_articles(self, text: str, tokens: Sequence[Token]) -> None:
        keep = [i for i in range(len(tokens)) if not is_article(text, tokens, i)]
        kept = set(keep)
        for i in keep:
            if i > 0 and i - 1 not in kept:
                self.starts[i] = tokens[i - 1].start  # the article is part of the span
        self.forms = [self.forms[i] for i in keep]
        self.starts = [self.starts[i] for i in keep]
        self.ends = [self.ends[i] for i in keep]
        self.tokens = keep
