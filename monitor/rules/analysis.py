"""What is read out of a statement once, for storage and for every rule:
its tokens, language, the leaders and organizations it names, its stance scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.config import Config
from monitor.rules.engine import StatementFacts
from monitor.rules.matcher import AnalyzedText, analyze
from monitor.rules.stance import StanceScore, StanceScorer, scorer_from_config
from monitor.text.language import detect_language
from monitor.text.mentions import Gazetteer, Mention, mention_ids


@dataclass(frozen=True)
class Analysis:
    doc: AnalyzedText
    language: str | None
    mentions: list[Mention]
    stance: dict[str, StanceScore]

    @property
    def mentioned(self) -> tuple[str, ...]:
        return tuple(mention_ids(self.mentions))

    def facts(self, *, language: str | None = None, **known: Any) -> StatementFacts:
        """The rules' view of the analyzed statement; ``known``: who, where, when.
        A language given (a stored or typed one) wins over the detected one."""
        return StatementFacts(
            text=self.doc.text,
            mentions=self.mentioned,
            stance=self.stance,
            language=language or self.language,
            **known,
        )


class Analyzer:
    """Built once per config: the gazetteer and the stance scorer are compiled here."""

    def __init__(self, gazetteer: Gazetteer, scorer: StanceScorer) -> None:
        self.gazetteer = gazetteer
        self.scorer = scorer

    @classmethod
    def from_config(cls, config: Config) -> Analyzer:
        return cls(Gazetteer.from_config(config), scorer_from_config(config))

    def analyze(self, text: str, language_hint: str | None = None) -> Analysis:
        doc = analyze(text)
        return Analysis(
            doc=doc,
            language=detect_language(text, language_hint),
            mentions=self.gazetteer.find(text, doc),
            stance=self.scorer.score(text, doc),
        )
