"""Where a cue stands in a statement: negated, reported, near which target.

A cue query's hit gives character spans; :func:`occurrences` turns them into
token ranges (one per occurrence: the spans of a NEAR are grouped). A
:class:`Frames` is built once per statement and word list, and answers for an
occurrence starting at a token:

- :meth:`Frames.negated`: a negator at most ``NEGATION_WINDOW`` words before it, in
  the same clause (no . ! ? ؟ ; ؛ : , ، or line break between), not followed by
  one of its exceptions (لا يزال, not only) nor by إلا/سوى/but before the cue
  ("لن يجد إلا ردا"), and for ما, غير, no, de right before it; a cue that starts
  with a negator ("لا هدنة") is a negation itself and is not negated again;
- :meth:`Frames.reported`: a speech verb at most ``REPORT_WINDOW`` words before it
  in the same sentence and not inside a direct quotation (no colon or quotation
  mark between), or a news marker at most that far in the same sentence.

:class:`TargetIndex` finds, per target key, the occurrences of its terms, and the
key nearest to an occurrence within the proximity window (its docstring says how).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitor.rules.matcher import AnalyzedText, CompiledQuery, compile_query, query_forms
from monitor.rules.prefilter import TermIndex
from monitor.rules.query import Near, Node, Term, parse_query
from monitor.text.normalize import fold, stem_set

__all__ = ["Frames", "Occurrence", "TargetHit", "TargetIndex", "WordSet", "max_near", "occurrences"]

NEGATION_WINDOW = 3
REPORT_WINDOW = 12
HEADER_WORDS = 6  # a line's lead-in before a colon of at most this many words names a speaker
_CLAUSE_END = frozenset(".!?؟;؛:,،\n")
_QUOTE_OR_SENTENCE_END = frozenset('.!?؟\n:"«»“”')
_SENTENCE_END = frozenset(".!?؟")
_TARGET_CLAUSE_END = frozenset(".!?؟;؛,،\n")
_EXCEPTIVE = frozenset({"الا", "سوى", "but"})
_KNOWN_LIMIT = 100_000  # folded tokens remembered per word set


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of a query in a statement: token positions, inclusive."""

    first: int
    last: int


def max_near(node: Node) -> int:
    """The largest NEAR distance in a query (0 without NEAR)."""
    if isinstance(node, Near):
        return max(node.distance, max_near(node.left), max_near(node.right))
    operands = getattr(node, "operands", None)
    if operands is not None:
        return max((max_near(operand) for operand in operands), default=0)
    operand = getattr(node, "operand", None)
    return max_near(operand) if operand is not None else 0


def occurrences(doc: AnalyzedText, spans: Iterable[tuple[int, int]], gap: int) -> list[Occurrence]:
    """Token ranges of character spans; spans at most ``gap`` words apart are one."""
    starts = doc.starts()
    ranges = sorted(
        (bisect_left(starts, start), max(bisect_left(starts, end) - 1, bisect_left(starts, start)))
        for start, end in spans
    )
    found: list[Occurrence] = []
    for first, last in ranges:
        if found and first - found[-1].last <= gap:
            previous = found[-1]
            found[-1] = Occurrence(previous.first, max(previous.last, last))
        else:
            found.append(Occurrence(first, last))
    return found


class WordSet:
    """Single words or prefixes (``refus*``), folded as query words are."""

    def __init__(self, words: Iterable[str]) -> None:
        terms: list[tuple[str, bool]] = []
        for word in words:
            node = parse_query(word)
            if isinstance(node, Term):
                terms.extend(
                    (w, node.prefix and i == len(node.words) - 1) for i, w in enumerate(node.words)
                )
        self.terms = tuple(dict.fromkeys(terms))
        # Looked up from the statement's side: its few dozen tokens, not every word
        # of the set. Each form keeps the first term (in the set's order) it stands for.
        self._exact: dict[str, tuple[int, str]] = {}
        self._prefixes: dict[str, tuple[int, str]] = {}
        for order, (word, prefix) in enumerate(self.terms):
            for form in query_forms(word):
                (self._prefixes if prefix else self._exact).setdefault(form, (order, word))
        self._prefix_lengths = sorted({len(prefix) for prefix in self._prefixes})
        self._known: dict[str, str] = {}  # folded token -> its word of the set, or ""
        # folded token -> the word of each set (or ""), or () for none; per set tuple
        self._known_with: dict[tuple[WordSet, ...], dict[str, tuple[str, ...]]] = {}
        self.key = hash(self.terms)  # equal sets share a statement's Frames

    def positions(self, doc: AnalyzedText) -> dict[int, str]:
        """Token position -> the (folded) word of the set found there."""
        found: dict[int, str] = {}
        known = self._known
        # Once per distinct word of the statement, and a dictionary lookup for a
        # word seen before: the vocabulary repeats across statements.
        for text, positions in doc.words().items():
            word = known.get(text)  # None: not seen yet; "": no word of the set
            if word is None:
                word = self.word_of(text) or ""
                if len(known) >= _KNOWN_LIMIT:
                    known.clear()
                known[text] = word
            if word:
                for position in positions:
                    found[position] = word
        return found

    def known_with(self, sets: tuple[WordSet, ...]) -> dict[str, tuple[str, ...]]:
        """The memo of :func:`positions_of` for these sets (this one first)."""
        known = self._known_with.get(sets)
        if known is None:
            known = self._known_with[sets] = {}
        return known

    def word_of(self, token: str) -> str | None:
        """The word of the set a folded token stands for (the first in the set's
        order among its forms' exact and prefix matches), or None."""
        best: tuple[int, str] | None = None
        exact, prefixes, lengths = self._exact, self._prefixes, self._prefix_lengths
        for form in stem_set(token):
            hit = exact.get(form)
            if hit is not None and (best is None or hit < best):
                best = hit
            for length in lengths:
                if length > len(form):
                    break
                hit = prefixes.get(form[:length])
                if hit is not None and (best is None or hit < best):
                    best = hit
        return None if best is None else best[1]


def positions_of(doc: AnalyzedText, sets: tuple[WordSet, ...]) -> tuple[dict[int, str], ...]:
    """``set.positions(doc)`` for several sets at once: one lookup per distinct word
    of the statement for all of them (most words are in none)."""
    known = sets[0].known_with(sets)
    found: tuple[dict[int, str], ...] = tuple({} for _ in sets)
    for text, positions in doc.words().items():
        words = known.get(text)
        if words is None:
            words = tuple(word_set.word_of(text) or "" for word_set in sets)
            if not any(words):
                words = ()
            if len(known) >= _KNOWN_LIMIT:
                known.clear()
            known[text] = words
        if words:
            for into, word in zip(found, words, strict=True):
                if word:
                    for position in positions:
                        into[position] = word
    return found


class Frames:
    """Negators and reporting frames of one statement."""

    def __init__(
        self,
        doc: AnalyzedText,
        negators: WordSet,
        adjacent: frozenset[str],
        exceptions: Mapping[str, frozenset[str]],
        speech: WordSet,
        news: WordSet,
    ) -> None:
        self.doc = doc
        self._negators, self._speech, self._news = positions_of(doc, (negators, speech, news))
        self._adjacent = adjacent
        self._exceptions = exceptions

    def negated(self, first: int) -> bool:
        if first in self._negators:
            return False  # the cue is itself a negation ("لا هدنة", "no truce")
        tokens = self.doc.tokens
        for position in range(max(0, first - NEGATION_WINDOW), first):
            word = self._negators.get(position)
            if word is None or (word in self._adjacent and position != first - 1):
                continue
            if tokens[position + 1].text in self._exceptions.get(word, ()):
                continue
            if any(tokens[p].text in _EXCEPTIVE for p in range(position + 1, first)):
                continue  # لن يجد إلا ردا: "nothing but", not a negation
            if not self._between(position, first, _CLAUSE_END):
                return True
        return False

    def reported(self, first: int) -> bool:
        for position in range(max(0, first - REPORT_WINDOW), first):
            if position in self._speech and not self._between(
                position, first, _QUOTE_OR_SENTENCE_END
            ):
                return True
            if position in self._news and not self._between(position, first, _SENTENCE_END):
                return True
        return False

    def _between(self, before: int, after: int, stops: frozenset[str]) -> bool:
        """Whether one of ``stops`` is in the text between two tokens."""
        tokens = self.doc.tokens
        gap = self.doc.text[tokens[before].end : tokens[after].start]
        return any(char in stops for char in gap)


def folded_exceptions(table: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    return {fold(word): frozenset(fold(w) for w in words) for word, words in table.items()}


@dataclass(frozen=True, slots=True)
class TargetHit:
    """An occurrence of a target key's term; ``header``: the offset of the colon ending
    the short lead-in it stands in ("ترامب: ...", "US official: ..."), else -1."""

    key: str
    occ: Occurrence
    header: int = -1


class TargetIndex:
    """The compiled terms of each target key, and where they stand in a statement.

    A cue is about the nearest target term within the window, in the same clause
    (no . ! ? ؟ ; ؛ , ، or line break between them). A term in a line's lead-in
    before a colon names who speaks, not whom the stance is about, unless the cue
    is in that lead-in too. A term inside a longer term of another key does not
    count for its own key (الاحتلال in "الاحتلال الصهيوني").
    """

    def __init__(self, terms: Mapping[str, Iterable[str]]) -> None:
        self.queries: dict[str, tuple[CompiledQuery, ...]] = {
            key: tuple(compile_query(term) for term in key_terms)
            for key, key_terms in terms.items()
        }
        # Every term in one list, in the order find() tries them: the term index
        # (the rules' prefilter) leaves out those whose words the statement lacks,
        # and most statements name no target at all.
        self._flat = [(key, query) for key, queries in self.queries.items() for query in queries]
        self._index = TermIndex([query for _, query in self._flat])

    def find(self, doc: AnalyzedText) -> list[TargetHit]:
        found: list[TargetHit] = []
        for number in sorted(self._index.candidates(doc)):
            key, query = self._flat[number]
            hit = query.match(doc)
            if hit is not None:
                found.extend(
                    TargetHit(key, occ, _header(doc, occ)) for occ in occurrences(doc, hit.spans, 0)
                )
        # Only a term of several words can hold another inside it: most statements
        # have none, and then every hit stands.
        longer = [other for other in found if other.occ.last > other.occ.first]
        if not longer:
            return found
        return [
            hit
            for hit in found
            if not any(
                other.key != hit.key
                and other.occ.first <= hit.occ.first
                and hit.occ.last <= other.occ.last
                and other.occ.last - other.occ.first > hit.occ.last - hit.occ.first
                for other in longer
            )
        ]

    @staticmethod
    def nearest(
        doc: AnalyzedText, found: list[TargetHit], occ: Occurrence, window: int
    ) -> tuple[str, int] | None:
        """The target key nearest to an occurrence, within ``window`` words, and how far."""
        tokens = doc.tokens
        best: tuple[int, str] | None = None
        for hit in found:
            if hit.header >= 0 and tokens[occ.first].start > hit.header:
                continue  # the speaker's name in a header
            target = hit.occ
            if target.last < occ.first:
                distance, gap = occ.first - target.last, (target.last, occ.first)
            elif target.first > occ.last:
                distance, gap = target.first - occ.last, (occ.last, target.first)
            else:
                distance, gap = 0, None
            if distance > window or (best is not None and distance >= best[0]):
                continue
            between = "" if gap is None else doc.text[tokens[gap[0]].end : tokens[gap[1]].start]
            if not any(char in _TARGET_CLAUSE_END for char in between):
                best = (distance, hit.key)
        return None if best is None else (best[1], best[0])


def _header(doc: AnalyzedText, occ: Occurrence) -> int:
    """The offset of the colon ending the short lead-in of the occurrence's line, or -1."""
    text, tokens = doc.text, doc.tokens
    line_start = text.rfind("\n", 0, tokens[occ.first].start) + 1
    line_end = text.find("\n", tokens[occ.last].end)
    colon = text.find(":", tokens[occ.last].end, len(text) if line_end < 0 else line_end)
    if colon < 0:
        return -1
    starts = doc.starts()
    words = bisect_left(starts, colon) - bisect_left(starts, line_start)
    return colon if words <= HEADER_WORDS else -1
