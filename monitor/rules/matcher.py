"""Compiled keyword queries evaluated on analyzed statements, with evidence.

A statement is analyzed once (:func:`analyze`): its tokens and an index from every
folded form of a token (the token and its Arabic stems) to its positions. A query
is compiled once (:func:`compile_query`) and matched against many statements.

How a query word matches a token: the word equals the token or one of its stems
(the token without proclitics: ``أمريكا`` matches ``وأمريكا``, ``لأمريكا``,
``وبأمريكا``; ``الاحتلال`` matches ``والاحتلال``, ``بالاحتلال``, ``للاحتلال``). A
query word that itself carries the article also matches the bare word when at
least three letters remain (``الاحتلال`` matches ``احتلال``, ``الله`` does not
match ``له``). A prefix matches a token or stem that starts with it. A phrase
matches consecutive tokens. ``NEAR/n`` matches occurrences at most n positions
apart (adjacent words are 1 apart), in either order, not overlapping.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from operator import itemgetter

from monitor.rules.query import And, Field, Near, Node, Not, Or, Term, parse_query
from monitor.text.normalize import ARTICLE, Token, is_arabic, stem_set, tokenize_indexed

__all__ = ["AnalyzedText", "CompiledQuery", "Fields", "QueryHit", "analyze", "compile_query"]

MIN_BARE_AFTER_ARTICLE = 3


@dataclass(frozen=True, slots=True)
class Fields:
    """What field filters (``leader:``, ``source:``, ``lang:``) compare with."""

    leader: str | None = None
    source: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class QueryHit:
    """Why a query matched: its positive terms as written, and their spans in the text."""

    terms: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


class AnalyzedText:
    """A statement's tokens and the index of their folded forms, built once."""

    __slots__ = (
        "_by_text",
        "_forms",
        "_index",
        "_positions",
        "_prefixes",
        "_sorted",
        "_starts",
        "text",
        "tokens",
    )

    def __init__(
        self, text: str, tokens: list[Token], words: dict[str, list[int]] | None = None
    ) -> None:
        """``words``: each distinct token text's positions, if known (see
        :func:`~monitor.text.normalize.tokenize_indexed`)."""
        self.text = text
        self.tokens = tuple(tokens)
        # Words repeat within a statement: the positions are grouped by folded word,
        # so the stems (and the word lists of the stance frames) are looked up once
        # per distinct word instead of once per token.
        by_text = words
        if by_text is None:
            by_text = defaultdict(list)
            for position, word in enumerate(map(itemgetter(0), tokens)):
                by_text[word].append(position)
        self._by_text = by_text
        # form -> sorted positions of the tokens having it. Most words (every Latin
        # one) are their only form; an Arabic stem may be shared by several words
        # (احتلال of والاحتلال and of بالاحتلال), whose positions are then merged.
        index: dict[str, list[int]] = dict(by_text)  # every word is a form of itself
        merged: set[str] = set()
        # compress() keeps, in C, the words that have more forms (Arabic ones with
        # proclitics): the loop below never sees the others.
        for word in compress(by_text, map(_more_forms, by_text)):
            for form in _more_forms(word):
                found = index.get(form)
                if found is None:
                    index[form] = by_text[word]  # shared with by_text until merged
                else:
                    if form not in merged:  # copy first: by_text's lists stay as they are
                        found = index[form] = list(found)
                        merged.add(form)
                    found.extend(by_text[word])
        for form in merged:
            index[form].sort()
        self._index = index
        self._forms: tuple[frozenset[str], ...] | None = None  # built when asked for
        self._starts: list[int] | None = None
        self._prefixes: dict[str, tuple[int, ...]] = {}
        self._sorted: list[str] | None = None  # the forms in order, for prefix ranges
        # Many rules share words: each word's positions are worked out once per statement.
        self._positions: dict[tuple[str, bool], tuple[int, ...]] = {}

    def forms(self) -> Iterable[str]:
        """Every folded form present: the tokens and their stems (for prefilters)."""
        return self._index.keys()

    def words(self) -> Mapping[str, list[int]]:
        """Each distinct folded token -> its positions, ascending (do not modify)."""
        return self._by_text

    def starts(self) -> list[int]:
        """Each token's start offset, by position (for bisecting spans; do not modify)."""
        if self._starts is None:
            self._starts = list(map(itemgetter(1), self.tokens))
        return self._starts

    def forms_at(self) -> tuple[frozenset[str], ...]:
        """Each token's folded forms (itself and its stems), by position."""
        if self._forms is None:
            self._forms = tuple(stem_set(token.text) for token in self.tokens)
        return self._forms

    def positions(self, word: str, prefix: bool = False) -> tuple[int, ...]:
        """Sorted positions of the tokens a folded query word (or prefix) matches."""
        forms = _query_forms(word)
        if not prefix and len(forms) == 1:
            # The common case, asked for by every term tried: one form, whose index
            # list is already sorted (and mostly absent).
            found_list = self._index.get(word)
            return tuple(found_list) if found_list else ()
        key = (word, prefix)
        cached = self._positions.get(key)
        if cached is None:
            if prefix:
                if len(forms) == 1:
                    cached = self._prefix_positions(forms[0])
                else:
                    found: set[int] = set()
                    for form in forms:
                        found.update(self._prefix_positions(form))
                    cached = tuple(sorted(found))
            else:
                found = set()
                for form in forms:
                    found.update(self._index.get(form, ()))
                cached = tuple(sorted(found))
            self._positions[key] = cached
        return cached

    def matches_at(self, position: int, word: str, prefix: bool = False) -> bool:
        """Whether the token at ``position`` matches a folded query word (or prefix)."""
        forms = stem_set(self.tokens[position].text)
        if prefix:
            return any(f.startswith(q) for q in _query_forms(word) for f in forms)
        return any(q in forms for q in _query_forms(word))

    def _prefix_positions(self, prefix: str) -> tuple[int, ...]:
        cached = self._prefixes.get(prefix)
        if cached is None:
            if self._sorted is None:
                self._sorted = sorted(self._index)
            # The forms starting with the prefix are one run of the sorted list.
            found: set[int] = set()
            for at in range(bisect_left(self._sorted, prefix), len(self._sorted)):
                form = self._sorted[at]
                if not form.startswith(prefix):
                    break
                found.update(self._index[form])
            cached = self._prefixes[prefix] = tuple(sorted(found))
        return cached


@lru_cache(maxsize=65536)
def _more_forms(word: str) -> tuple[str, ...]:
    """The forms of a folded word other than itself (its Arabic stems; mostly none)."""
    return tuple(form for form in stem_set(word) if form != word)


def analyze(text: str) -> AnalyzedText:
    """Tokenize and index a statement once, for matching any number of queries."""
    return AnalyzedText(text, *tokenize_indexed(text))


def query_forms(word: str) -> tuple[str, ...]:
    """The token forms a folded query word matches exactly (itself; an Arabic word
    with the article, also without it)."""
    return _query_forms(word)


# Pure, and asked for every query word of every rule on every statement.
@lru_cache(maxsize=65536)
def _query_forms(word: str) -> tuple[str, ...]:
    bare = word[len(ARTICLE) :]
    if is_arabic(word) and word.startswith(ARTICLE) and len(bare) >= MIN_BARE_AFTER_ARTICLE:
        return (word, bare)
    return (word,)


@dataclass(frozen=True, slots=True)
class _Evidence:
    terms: tuple[str, ...] = ()
    spans: frozenset[tuple[int, int]] = frozenset()

    def __or__(self, other: _Evidence) -> _Evidence:
        return _merge((self, other))


def _merge(evidences: list[_Evidence] | tuple[_Evidence, ...]) -> _Evidence:
    if len(evidences) == 1:
        return evidences[0]  # immutable: the one evidence is its own merge
    terms: dict[str, None] = {}
    spans: set[tuple[int, int]] = set()
    for evidence in evidences:
        terms.update(dict.fromkeys(evidence.terms))
        spans.update(evidence.spans)
    return _Evidence(tuple(terms), frozenset(spans))


_NONE = _Evidence()
_NO_FIELDS = Fields()


@dataclass(frozen=True, slots=True)
class _Occurrence:
    first: int  # token positions, inclusive
    last: int
    evidence: _Evidence


class CompiledQuery:
    """A parsed query, ready to match analyzed statements."""

    __slots__ = ("ast", "text")

    def __init__(self, text: str, ast: Node) -> None:
        self.text = text
        self.ast = ast

    def __repr__(self) -> str:
        return f"CompiledQuery({self.text!r})"

    def match(self, doc: AnalyzedText, fields: Fields | None = None) -> QueryHit | None:
        """The evidence when the query matches the statement, else None."""
        evidence = _evaluate(self.ast, doc, fields or _NO_FIELDS)
        if evidence is None:
            return None
        return QueryHit(terms=evidence.terms, spans=tuple(sorted(evidence.spans)))

    def terms(self) -> frozenset[str]:
        """Every folded word of a non-negated term; a prefix's last word ends with ``*``."""
        return frozenset(_positive_words(self.ast))

    @property
    def requires_terms(self) -> bool:
        """True when no statement can match without one of :meth:`terms` (a prefilter is safe).

        False for queries that can match on fields or negations alone (``NOT x``,
        ``leader:a OR war``).
        """
        return _requires_terms(self.ast)


def compile_query(text: str) -> CompiledQuery:
    """Parse and compile a query; raises QuerySyntaxError."""
    return CompiledQuery(text, parse_query(text))


def _evaluate(node: Node, doc: AnalyzedText, fields: Fields) -> _Evidence | None:
    # The commonest first: most nodes evaluated are terms (most of them absent from
    # the statement) and the ORs of them that cues and rules are made of.
    if isinstance(node, Term):
        occurrences = _term_occurrences(node, doc)
        return _merge([o.evidence for o in occurrences]) if occurrences else None
    if isinstance(node, Or):
        found: list[_Evidence] = []
        for operand in node.operands:
            evidence = _evaluate(operand, doc, fields)
            if evidence is not None:
                found.append(evidence)
        return _merge(found) if found else None
    if isinstance(node, Near):
        occurrences = _near_occurrences(node, doc)
        return _merge([o.evidence for o in occurrences]) if occurrences else None
    if isinstance(node, Field):
        return _NONE if _field_matches(node, fields) else None
    if isinstance(node, Not):
        return None if _evaluate(node.operand, doc, fields) is not None else _NONE
    assert isinstance(node, And)
    found = []
    for operand in node.operands:
        evidence = _evaluate(operand, doc, fields)
        if evidence is None:
            return None
        found.append(evidence)
    return _merge(found)


def _field_matches(node: Field, fields: Fields) -> bool:
    actual = {"leader": fields.leader, "source": fields.source, "lang": fields.language}[node.name]
    if actual is None:
        return False
    actual, wanted = actual.casefold(), node.value.casefold()
    if node.name == "lang":  # lang:ar also accepts a regional tag such as ar-IQ
        return actual == wanted or actual.startswith(wanted + "-")
    return actual == wanted


def _occurrences(node: Node, doc: AnalyzedText) -> list[_Occurrence]:
    """Occurrences of a positional node (term, NEAR, OR of them), sorted by first token."""
    if isinstance(node, Term):
        return _term_occurrences(node, doc)
    if isinstance(node, Near):
        return _near_occurrences(node, doc)
    assert isinstance(node, Or)
    found = [occurrence for operand in node.operands for occurrence in _occurrences(operand, doc)]
    return sorted(found, key=lambda o: (o.first, o.last))


def _term_occurrences(term: Term, doc: AnalyzedText) -> list[_Occurrence]:
    words, last = term.words, len(term.words) - 1
    starts = doc.positions(words[0], term.prefix and last == 0)
    if not starts:
        return []  # the common case: most terms tried are absent
    tokens = doc.tokens
    found: list[_Occurrence] = []
    if last == 0:  # a single word: every position is an occurrence
        for start in starts:
            span = (tokens[start].start, tokens[start].end)
            found.append(_Occurrence(start, start, _Evidence((term.text,), frozenset({span}))))
        return found
    for start in starts:
        end = start + last
        if end >= len(tokens):
            break
        if all(
            doc.matches_at(start + i, words[i], prefix=term.prefix and i == last)
            for i in range(1, last + 1)
        ):
            span = (tokens[start].start, tokens[end].end)
            found.append(_Occurrence(start, end, _Evidence((term.text,), frozenset({span}))))
    return found


def _near_occurrences(node: Near, doc: AnalyzedText) -> list[_Occurrence]:
    lefts = _occurrences(node.left, doc)
    rights = _occurrences(node.right, doc) if lefts else []
    if not rights:
        return []
    firsts = [right.first for right in rights]
    longest = max(right.last - right.first for right in rights)
    n = node.distance
    found: list[_Occurrence] = []
    for left in lefts:
        low = bisect_left(firsts, left.first - n - longest)
        high = bisect_right(firsts, left.last + n)
        for right in rights[low:high]:
            if right.first > left.last:
                gap = right.first - left.last
            elif left.first > right.last:
                gap = left.first - right.last
            else:
                continue  # overlapping occurrences are not two words near each other
            if gap <= n:
                found.append(
                    _Occurrence(
                        min(left.first, right.first),
                        max(left.last, right.last),
                        left.evidence | right.evidence,
                    )
                )
    return sorted(found, key=lambda o: (o.first, o.last))


def _positive_words(node: Node) -> list[str]:
    if isinstance(node, Term):
        words = list(node.words)
        if node.prefix:
            words[-1] += "*"
        return words
    if isinstance(node, Near):
        return _positive_words(node.left) + _positive_words(node.right)
    if isinstance(node, And | Or):
        return [word for operand in node.operands for word in _positive_words(operand)]
    return []  # Field, Not


def _requires_terms(node: Node) -> bool:
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, And):
        return any(_requires_terms(operand) for operand in node.operands)
    if isinstance(node, Or):
        return all(_requires_terms(operand) for operand in node.operands)
    return False
