"""The lexicon stance scorer: weighted cue queries, negation, reporting frames, targets.

Each stance of the config has cues (queries of the project's query language,
compiled once, each with a weight) in any number of languages; every cue is
tried on every statement, whatever its language, so mixed statements work.

The score of a stance is

    S = Σ weight × factor     over the distinct cues that fired (a cue counts once)
    score = 1 − exp(−max(S, 0))

where factor is 1 when at least one occurrence of the cue is the speaker's own
words, ``reported_weight`` (0.25) when every non-negated occurrence stands in a
reporting frame, and 0 when every occurrence is negated. So one cue of weight 1
(a plain cue string) gives 0.63 and clears a rule's usual 0.6; a weak cue of
0.3 gives 0.26 and two of them 0.45; 2 gives 0.86; negative weights count
against.

Choices, and why:

- Negation ("we will not escalate", "لن نصعد", "لا هدنة مع الاحتلال"): a negated cue
  does not count for its stance, and counts for nothing else by itself. What a
  negation means depends on the phrase: "لا هدنة" is escalatory, "لن نصعد" weakly
  de-escalatory. Those are written as cues of their own (``"لا هدنة"`` under
  escalation, ``"لن نصعد"`` with a low weight under de-escalation), so the lexicon
  says it and the evidence shows it. Negators are in
  :mod:`monitor.rules.stance_defaults`.
- Reported speech and news: a statement on a channel is often someone else's.
  Words after a speech verb in indirect speech ("Trump said that...", "قال إن")
  or after a news marker ("إعلام العدو:", "according to sources") count at a
  quarter of their weight: a strong cue alone then stays under 0.6. Words in a
  direct quotation ("X: we will respond", "قال: «سنرد»") count in full: they are
  the quoted leader's own words, which is how these leaders' statements are
  relayed, and who is quoted cannot be known from the text. A rule that wants
  one speaker filters on the source's leader.
- Nouns in news ("the escalation in the region", "التصعيد في المنطقة"): bare nouns
  are weak cues (0.2-0.3) or none; the lexicon's weight is on phrases that carry a
  stance: first person (نعلن، سنرد، we will respond), imperatives and
  declarations (أصبح واجباً إعلان الحرب, "we call for").
- Target: a counted cue is about the target key whose term is nearest to it
  within ``window`` words (default 10); the stance's target is the key with the
  most cue weight near it. Targets come from the stance's ``targets`` (a key per
  target), else its ``target_terms`` (one target, key ``target``), else the
  built-in ``us`` and ``israel`` terms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from monitor.rules.matcher import AnalyzedText, CompiledQuery, compile_query
from monitor.rules.prefilter import TermIndex
from monitor.rules.stance import CueHit, StanceScore
from monitor.rules.stance_defaults import (
    ADJACENT_NEGATORS,
    NEGATOR_EXCEPTIONS,
    NEGATORS,
    NEWS_MARKERS,
    SPEECH_VERBS,
    TARGETS,
)
from monitor.rules.stance_frames import (
    Frames,
    Occurrence,
    TargetHit,
    TargetIndex,
    WordSet,
    folded_exceptions,
    max_near,
    occurrences,
)

if TYPE_CHECKING:
    from monitor.config import Config, Stance

__all__ = ["LexiconScorer", "StanceLexicon", "squash"]

DEFAULT_WINDOW = 10
DEFAULT_REPORTED_WEIGHT = 0.25
LEGACY_TARGET = "target"


def squash(total: float) -> float:
    """The score of a sum of cue weights: 1 − exp(−S), 0 for S ≤ 0, rounded to 3 places."""
    return round(1.0 - math.exp(-total), 3) if total > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _Cue:
    query: CompiledQuery
    weight: float
    gap: int  # the largest NEAR distance: spans this close are one occurrence


@dataclass(frozen=True, slots=True)
class _Counted:
    """A cue that fired, how it was read, and the target it is about."""

    hit: CueHit
    contribution: float
    target: tuple[str, int] | None


class StanceLexicon:
    """One stance label: its compiled cues, targets, negators and weights."""

    def __init__(
        self,
        label: str,
        cues: Iterable[tuple[str, float]],
        targets: Mapping[str, Iterable[str]],
        negators: Iterable[str],
        window: int = DEFAULT_WINDOW,
        reported_weight: float = DEFAULT_REPORTED_WEIGHT,
    ) -> None:
        self.label = label
        self.cues = tuple(
            _Cue(query, weight, max_near(query.ast))
            for query, weight in ((compile_query(text), weight) for text, weight in cues)
        )
        # Strongest first: a cue inside what a stronger one counted is not counted again
        # ("declare war" inside "we declare war").
        self._by_strength = sorted(self.cues, key=lambda cue: -abs(cue.weight))
        # Only the cues whose words occur in a statement are tried (the rules' prefilter).
        self._index = TermIndex([cue.query for cue in self._by_strength])
        self.targets = _target_index(tuple((k, tuple(v)) for k, v in targets.items()))
        self.negators = WordSet(negators)
        self.window = window
        self.reported_weight = reported_weight

    @classmethod
    def from_stance(cls, label: str, stance: Stance) -> StanceLexicon:
        """Read a stance of the config; keys the schema may not have yet are optional."""
        cues = [(cue.query, cue.weight) for lang_cues in stance.cues.values() for cue in lang_cues]
        own_negators: Mapping[str, Iterable[str]] | None = getattr(stance, "negators", None)
        window = getattr(stance, "window", None)
        reported = getattr(stance, "reported_weight", None)
        return cls(
            label,
            cues,
            _targets_of(stance),
            _flatten(own_negators if own_negators is not None else NEGATORS),
            window=DEFAULT_WINDOW if window is None else int(window),
            reported_weight=DEFAULT_REPORTED_WEIGHT if reported is None else float(reported),
        )

    def score(
        self, doc: AnalyzedText, frames: Frames, found: list[TargetHit] | None = None
    ) -> StanceScore:
        """The stance's score; ``found``: this stance's targets in ``doc``, if known."""
        if found is None:
            found = self.targets.find(doc)
        covered: list[Occurrence] = []  # what stronger cues already counted
        # The candidate cues only, strongest first (the index numbers them in that order).
        by_strength = self._by_strength
        counted = [
            c
            for number in sorted(self._index.candidates(doc))
            if (c := self._read(by_strength[number], doc, frames, found, covered))
        ]
        by_target: dict[str, tuple[float, int]] = {}
        for item in counted:
            if item.target is not None and item.contribution:
                key, distance = item.target
                total, nearest = by_target.get(key, (0.0, distance))
                by_target[key] = (total + item.contribution, min(nearest, distance))
        ranked = sorted(by_target.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
        target = ranked[0][0] if ranked and ranked[0][1][0] > 0 else None
        return StanceScore(
            label=self.label,
            score=squash(sum(item.contribution for item in counted)),
            target=target,
            cues=[item.hit for item in counted],
            targets={key: squash(total) for key, (total, _) in ranked if total > 0},
        )

    def _read(
        self,
        cue: _Cue,
        doc: AnalyzedText,
        frames: Frames,
        found: list[TargetHit],
        covered: list[Occurrence],
    ) -> _Counted | None:
        hit = cue.query.match(doc)
        if hit is None:
            return None
        factor, best = -1.0, None  # the best reading: its factor and its target
        all_negated = True
        for occ in occurrences(doc, hit.spans, cue.gap):
            if frames.negated(occ.first):
                continue
            all_negated = False
            if any(c.first <= occ.first and occ.last <= c.last for c in covered):
                continue
            covered.append(occ)
            occ_factor = self.reported_weight if frames.reported(occ.first) else 1.0
            target = TargetIndex.nearest(doc, found, occ, self.window)
            if (occ_factor, -_distance(target)) > (factor, -_distance(best)):
                factor, best = occ_factor, target
        if all_negated:
            factor = 0.0
        elif factor < 0:
            return None  # every occurrence is part of a stronger cue's
        cue_hit = CueHit(
            query=cue.query.text,
            weight=cue.weight,
            spans=list(hit.spans),
            negated=all_negated,
            reported=not all_negated and factor < 1.0,
        )
        return _Counted(cue_hit, round(cue.weight * factor, 6), best)


@lru_cache(maxsize=64)
def _target_index(terms: tuple[tuple[str, tuple[str, ...]], ...]) -> TargetIndex:
    """One compiled index per distinct set of target terms, shared by the stances."""
    return TargetIndex(dict(terms))


def _distance(target: tuple[str, int] | None) -> int:
    return 10**6 if target is None else target[1]


def _flatten(by_language: Mapping[str, Iterable[str]]) -> list[str]:
    return [word for words in by_language.values() for word in words]


def _targets_of(stance: Stance) -> dict[str, list[str]]:
    named: Mapping[str, Any] | None = getattr(stance, "targets", None)
    if named:
        return {key: _flatten(_as_mapping(terms)) for key, terms in named.items()}
    if stance.target_terms:
        return {LEGACY_TARGET: _flatten(stance.target_terms)}
    return {key: _flatten(terms) for key, terms in TARGETS.items()}


def _as_mapping(terms: Any) -> Mapping[str, Iterable[str]]:
    # A target's terms: {lang: [terms]} (a pydantic model or a plain mapping).
    if isinstance(terms, Mapping):
        return terms
    dumped: Mapping[str, Iterable[str]] = terms.model_dump(exclude_none=True)
    return dumped


class LexiconScorer:
    """Scores every configured stance from its cue lexicon (see the module docstring)."""

    def __init__(self, stances: Iterable[StanceLexicon]) -> None:
        self.stances = tuple(stances)
        self._speech = WordSet(_flatten(SPEECH_VERBS))
        self._news = WordSet(_flatten(NEWS_MARKERS))
        self._adjacent = frozenset(ADJACENT_NEGATORS)
        self._exceptions = folded_exceptions(NEGATOR_EXCEPTIONS)

    @classmethod
    def from_config(cls, config: Config) -> LexiconScorer:
        return cls.from_stances(config.stances)

    @classmethod
    def from_stances(cls, stances: Mapping[str, Stance]) -> LexiconScorer:
        return cls(StanceLexicon.from_stance(label, stance) for label, stance in stances.items())

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(stance.label for stance in self.stances)

    def score(self, text: str, doc: AnalyzedText) -> dict[str, StanceScore]:
        frames: dict[int, Frames] = {}  # per negator set (stances usually share one)
        scores: dict[str, StanceScore] = {}
        targets: dict[int, list[TargetHit]] = {}  # per target index (stances share them)
        for stance in self.stances:
            key = stance.negators.key
            if key not in frames:
                frames[key] = Frames(
                    doc, stance.negators, self._adjacent, self._exceptions, self._speech, self._news
                )
            if id(stance.targets) not in targets:
                targets[id(stance.targets)] = stance.targets.find(doc)
            scores[stance.label] = stance.score(doc, frames[key], targets[id(stance.targets)])
        return scores
