"""Who a statement names: the organizations and leaders of the config, with spans.

    gazetteer = Gazetteer.from_config(config)          # once, when the config loads
    found = gazetteer.find(text)                        # or find(text, doc) with analyze(text)
    mention_ids(found)                                  # ["kataib-hezbollah", "akram-kaabi"]
    [mention.to_json() for mention in found]            # ids, kinds, aliases and spans

Every name and alias of every organization and leader is compiled once into an
index from its first word to the aliases starting there, so a statement is read
once whatever the number of aliases. How an alias matches the text:

- Both are tokenized and folded by :mod:`monitor.text.normalize`: case, Latin and
  Arabic diacritics, tatweel, alef/ya/ta-marbuta/hamza variants, apostrophes and
  ʿ ʾ (``Ka'abi``, ``Kaʿbi`` and ``Kaabi`` are one word). Hyphens separate words
  as spaces do (``Asaib-Ahl-al-Haq``).
- An Arabic word may carry its proclitics (و ف ب ك ل and ال): ``وكتائب حزب الله``
  names كتائب حزب الله, ``والكعبي`` names الكعبي. A bare word does not match the
  alias's word with the article (``كعبي`` is not ``الكعبي``).
- A Latin word matches with doubled letters collapsed (``Kaabi`` = ``Kabi``,
  ``Khazaali`` = ``Khazali``, ``Hezbollah`` = ``Hezbolah``, ``Fayyad`` = ``Fayad``):
  transliterations double and drop vowels and shadda freely. Deliberately no more
  than that: ``ou``/``u``, ``e``/``i``, ``dh``/``d`` and ``Hussein``/``Husayn`` differ
  and must be listed as aliases, as the shipped config does.
- The Latin article is optional on both sides: ``al``/``el`` (``al-Kaabi``,
  ``el-Kaabi``, ``Al Kaabi``, ``AlKaabi``, ``Kaabi``) and an assimilated article
  written with a hyphen before its letter (``an-Nujaba``, ``ash-Shuhada``).
- An abbreviation alias (ASCII letters only, at most 6, at least 2 capitals: KH,
  AAH, PMF, IRI, HaN) matches only a whole word written exactly so (or in
  capitals) in the original text: not ``kh``, not the word ``aah``, not the KH of
  ``KHAMENEI``.
- Overlapping matches: the longest (in words) wins, then the leftmost;
  ``حركة حزب الله النجباء`` is only Harakat Hezbollah al-Nujaba. Two entities that
  list the very same alias are both reported for it.

A surname names a leader only where it is one of his aliases (the shipped config
lists ``Kaabi`` and ``الكعبي``); a word that merely contains an alias
(``حزب الله`` inside كتائب حزب الله) names nothing by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Literal

from monitor.text.names import (
    ODD_APOSTROPHES,
    Words,
    alias_keys,
    has_odd_apostrophe,
    written,
)
from monitor.text.names import forms as word_forms
from monitor.text.normalize import Token, fold, tokenize

if TYPE_CHECKING:
    from monitor.config.schema import Config, Leader, Organization
    from monitor.rules.matcher import AnalyzedText

__all__ = ["Gazetteer", "Kind", "Mention", "mention_ids"]

Kind = Literal["leader", "organization"]

MAX_ABBREVIATION = 6


@dataclass(frozen=True, slots=True)
class Mention:
    """An organization or leader named in a text, and where (offsets in the original text)."""

    entity: str  # the organization's or leader's id
    kind: Kind
    alias: str  # the name or alias that matched, as written in the config
    start: int
    end: int

    def to_json(self) -> dict[str, str | int]:
        return {
            "id": self.entity,
            "kind": self.kind,
            "alias": self.alias,
            "start": self.start,
            "end": self.end,
        }


def mention_ids(mentions: Iterable[Mention]) -> list[str]:
    """The ids named, each once, in order of first appearance."""
    return list(dict.fromkeys(mention.entity for mention in mentions))


@dataclass(frozen=True, slots=True)
class _Alias:
    entity: str
    kind: Kind
    alias: str  # as written in the config
    written: str  # as names.written() gives it: picks the alias written as in the text


@dataclass(frozen=True, slots=True)
class _Pattern:
    keys: tuple[str, ...]  # the alias's words as matched (articles dropped, keyed)
    aliases: tuple[_Alias, ...]  # every alias (of any entity) with these keys


# A match: first and last word positions (inclusive), and the pattern or the
# abbreviation's aliases.
_Hit = tuple[int, int, "_Pattern | None", tuple["_Alias", ...]]


class Gazetteer:
    """Every name and alias of the config's organizations and leaders, compiled once."""

    def __init__(
        self, organizations: Iterable[Organization] = (), leaders: Iterable[Leader] = ()
    ) -> None:
        entries: list[tuple[str, Kind, list[str]]] = [
            (org.id, "organization", [org.name, *org.aliases]) for org in organizations
        ]
        entries += [(leader.id, "leader", [leader.name, *leader.aliases]) for leader in leaders]
        groups: dict[tuple[str, ...], list[_Alias]] = {}
        abbreviations: dict[str, list[_Alias]] = {}
        for entity, kind, names in entries:
            for alias in dict.fromkeys(names):
                if _is_abbreviation(alias):
                    item = _Alias(entity, kind, alias, alias)
                    for form in dict.fromkeys((alias, alias.upper())):
                        abbreviations.setdefault(form, []).append(item)
                    continue
                tokens = tokenize(alias)
                keys = alias_keys(alias, tokens)
                if keys:
                    item = _Alias(entity, kind, alias, written(alias))
                    groups.setdefault(keys, []).append(item)
        # One-word aliases by their word; longer ones by their first two words, so
        # that a common first word (أبو, Abu) does not try every alias it starts.
        self._single: dict[str, tuple[_Pattern, ...]] = {}
        pairs: dict[tuple[str, str], list[_Pattern]] = {}
        for keys, aliases in groups.items():
            if len(keys) == 1:
                self._single[keys[0]] = (_Pattern(keys, tuple(aliases)),)
            else:
                pairs.setdefault((keys[0], keys[1]), []).append(_Pattern(keys, tuple(aliases)))
        self._pairs = {pair: tuple(patterns) for pair, patterns in pairs.items()}
        self._firsts = frozenset(self._single) | frozenset(first for first, _ in self._pairs)
        self._abbreviations = {form: tuple(items) for form, items in abbreviations.items()}
        self._abbreviations_folded = frozenset(form.lower() for form in abbreviations)
        self._size = sum(len(a) for a in groups.values()) + len(
            {(a.entity, a.alias) for items in abbreviations.values() for a in items}
        )

    @classmethod
    def from_config(cls, config: Config) -> Gazetteer:
        return cls(config.organizations, config.leaders)

    def find(self, text: str, doc: AnalyzedText | None = None) -> list[Mention]:
        """Every mention in ``text``, in order; ``doc`` (``analyze(text)``) saves tokenizing."""
        if has_odd_apostrophe(text):
            tokens = tokenize(text.translate(ODD_APOSTROPHES))
        elif doc is not None and doc.text == text:
            # Most statements name nobody: when no distinct word of the statement can
            # start an alias (nor is an abbreviation), there is nothing to find. This
            # is checked on the words without the articles dropped, a superset.
            words_present = doc.words()
            if self._abbreviations_folded.isdisjoint(words_present) and self._firsts.isdisjoint(
                chain.from_iterable(map(word_forms, words_present))
            ):
                return []
            tokens = list(doc.tokens)
        else:
            tokens = tokenize(text)
        folded = [token.text for token in tokens]
        words = Words(text, tokens, folded)
        return _mentions(text, words, _resolve(self._hits(text, tokens, folded, words)))

    def _hits(
        self, text: str, tokens: Sequence[Token], folded: list[str], words: Words
    ) -> list[_Hit]:
        hits: list[_Hit] = []
        if not self._abbreviations_folded.isdisjoint(folded):
            for position, index in enumerate(words.tokens):
                token = tokens[index]
                found = self._abbreviations.get(text[token.start : token.end])
                if found:
                    hits.append((position, position, None, found))
        all_forms = words.forms
        firsts = self._firsts.intersection(chain.from_iterable(all_forms))
        if not firsts:
            return hits
        count = len(all_forms)
        for position, forms in enumerate(all_forms):
            if firsts.isdisjoint(forms):
                continue
            for form in forms:
                for pattern in self._single.get(form, ()):
                    hits.append((position, position, pattern, ()))
                if position + 1 < count:
                    for second in all_forms[position + 1]:
                        for pattern in self._pairs.get((form, second), ()):
                            if _continues(pattern.keys, all_forms, position):
                                last = position + len(pattern.keys) - 1
                                hits.append((position, last, pattern, ()))
        return hits

    def __len__(self) -> int:
        """How many (entity, alias) pairs are indexed."""
        return self._size


def _continues(keys: tuple[str, ...], forms: list[tuple[str, ...]], position: int) -> bool:
    """Whether the words after the first two at ``position`` match the rest of ``keys``."""
    if position + len(keys) > len(forms):
        return False
    return all(keys[i] in forms[position + i] for i in range(2, len(keys)))


def _is_abbreviation(alias: str) -> bool:
    return (
        alias.isascii()
        and alias.isalpha()
        and 2 <= len(alias) <= MAX_ABBREVIATION
        and sum(char.isupper() for char in alias) >= 2
    )


def _resolve(hits: list[_Hit]) -> list[_Hit]:
    """Keep the longest of overlapping hits (then the leftmost), and exact ties too."""
    hits.sort(key=lambda hit: (hit[0] - hit[1], hit[0]))
    taken: set[int] = set()
    kept: list[_Hit] = []
    spans: set[tuple[int, int]] = set()
    for hit in hits:
        first, last = hit[0], hit[1]
        positions = range(first, last + 1)
        if (first, last) in spans or not taken.intersection(positions):
            kept.append(hit)
            spans.add((first, last))
            taken.update(positions)
    kept.sort(key=lambda hit: (hit[0], hit[1]))
    return kept


def _mentions(text: str, words: Words, hits: list[_Hit]) -> list[Mention]:
    found: dict[tuple[str, int, int], Mention] = {}
    for first, last, pattern, abbreviation in hits:
        start, end = words.starts[first], words.ends[last]
        if pattern is None:
            candidates: Sequence[_Alias] = abbreviation
        else:
            candidates = _best_aliases(pattern.aliases, written(text[start:end]))
        for alias in candidates:
            key = (alias.entity, start, end)
            if key not in found:
                found[key] = Mention(alias.entity, alias.kind, alias.alias, start, end)
    return list(found.values())


def _best_aliases(aliases: Sequence[_Alias], as_written: str) -> list[_Alias]:
    """One alias per entity: the one written as in the text (up to case, hyphens and
    apostrophe glyphs), else as in the text once folded, else the first listed."""
    folded = fold(as_written)
    chosen: dict[str, tuple[int, _Alias]] = {}
    for alias in aliases:
        rank = 0 if alias.written == as_written else 1 if fold(alias.written) == folded else 2
        current = chosen.get(alias.entity)
        if current is None or rank < current[0]:
            chosen[alias.entity] = (rank, alias)
    return [alias for _, alias in chosen.values()]
