"""Which keyword rules can possibly match a statement, without evaluating them.

Each query gets a few *anchors*: words (or prefixes) at least one of which
occurs in every statement the query matches. An AND needs only the anchors of
one of its operands (the one with the rarest-looking words: the longest), a
phrase or a NEAR one of its words, an OR the anchors of all its operands. The
anchors go into one index, built once: word form -> the rules anchored on it,
and prefix -> rules. A statement
offers its token forms (tokens and their Arabic stems, already indexed by
:func:`~monitor.rules.matcher.analyze`); one dictionary lookup per form, and
one per leading substring of a form for the prefixes, gives the candidates.
The cost per statement depends on the statement's length, not on the number
of rules: with ten thousand rules, only the few whose words occur are
evaluated. A query that can match without any word (``NOT x``,
``lang:ar OR war``) is always a candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from monitor.rules.matcher import AnalyzedText, CompiledQuery, query_forms
from monitor.rules.query import And, Near, Node, Or, Term
from monitor.text.normalize import stem_set

_KNOWN_LIMIT = 100_000  # words whose anchored queries are remembered, per index
_NONE: frozenset[int] = frozenset()


class TermIndex:
    def __init__(self, queries: Sequence[CompiledQuery | None]) -> None:
        """``queries[i]`` is rule i's query, or None for a rule without one (always a
        candidate: its other conditions decide)."""
        self._words: dict[str, set[int]] = {}
        self._prefixes: dict[str, set[int]] = {}
        self._always: set[int] = set()
        for index, query in enumerate(queries):
            if query is None or not query.requires_terms:
                self._always.add(index)
                continue
            for term in anchors(query.ast) or ():
                self._add(term, index)
        # Only the lengths some prefix has are worth slicing a form at.
        self._prefix_lengths = sorted({len(prefix) for prefix in self._prefixes})
        self._known: dict[str, frozenset[int]] = {}  # folded word -> its anchored queries

    def _add(self, term: str, index: int) -> None:
        if term.endswith("*"):
            for form in query_forms(term[:-1]):
                self._prefixes.setdefault(form, set()).add(index)
        else:
            for form in query_forms(term):
                self._words.setdefault(form, set()).add(index)

    def candidates(self, doc: AnalyzedText) -> set[int]:
        found = set(self._always)
        # Looked up per distinct word of the statement (its forms are its stems): the
        # vocabulary of statements repeats heavily, so what a word anchors is worked
        # out once and kept, and a statement costs one dictionary lookup per word.
        words = doc.words()
        known = list(map(self._known.get, words))  # in C; None for a word not seen yet
        hits = (
            [
                self._learn(word) if hit is None else hit
                for word, hit in zip(words, known, strict=True)
            ]
            if None in known
            else cast(list[frozenset[int]], known)
        )
        found.update(*hits)
        return found

    def _learn(self, word: str) -> frozenset[int]:
        hit: set[int] = set()
        for form in stem_set(word):
            hit |= self._anchored(form)
        if len(self._known) >= _KNOWN_LIMIT:
            self._known.clear()  # bounded memory; the common words come back at once
        found = self._known[word] = frozenset(hit) if hit else _NONE
        return found

    def _anchored(self, form: str) -> frozenset[int]:
        """The queries anchored on a form: on it as a word, or on a prefix of it."""
        hit: set[int] = set(self._words.get(form, ()))
        for length in self._prefix_lengths:
            if length > len(form):
                break
            hit.update(self._prefixes.get(form[:length], ()))
        return frozenset(hit) if hit else _NONE


def anchors(node: Node) -> frozenset[str] | None:
    """Words (a prefix ends with ``*``) one of which every match contains, or None
    when the node can match without any word (a field filter, a negation)."""
    if isinstance(node, Term):
        return frozenset({_rarest(node)})
    if isinstance(node, Near):
        return _cheapest([anchors(node.left), anchors(node.right)])
    if isinstance(node, And):
        return _cheapest([anchors(operand) for operand in node.operands])
    if isinstance(node, Or):
        parts = [anchors(operand) for operand in node.operands]
        if any(part is None for part in parts):
            return None
        return frozenset().union(*(part for part in parts if part is not None))
    return None  # Field, Not


def _rarest(term: Term) -> str:
    """The word of a term least likely to be common: whole words before the
    trailing prefix, longer before shorter."""
    words = list(term.words)
    if term.prefix:
        whole = words[:-1]
        if whole:
            return max(whole, key=len)
        return words[-1] + "*"
    return max(words, key=len)


def _cheapest(options: list[frozenset[str] | None]) -> frozenset[str] | None:
    """Of the operands that need words, the one whose anchors look rarest."""
    usable = [option for option in options if option is not None]
    if not usable:
        return None
    return min(usable, key=_commonness)


def _commonness(words: frozenset[str]) -> tuple[int, int]:
    # Fewer anchors and longer words make fewer candidates; a prefix counts as short.
    shortest = min(len(word.rstrip("*")) - (3 if word.endswith("*") else 0) for word in words)
    return (len(words), -shortest)
