"""Rules compiled once from the config, evaluated on each new or edited statement."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from monitor.config import Config, Rule
from monitor.rules.matcher import AnalyzedText, CompiledQuery, Fields, analyze, compile_query

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatementFacts:
    """What a rule may look at in a statement."""

    text: str
    source_id: str | None = None
    leader_id: str | None = None
    organization_id: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class RuleMatch:
    rule_id: str
    severity: str
    notify: tuple[str, ...]
    evidence: dict[str, Any]


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    query: CompiledQuery | None

    def applies_to(self, facts: StatementFacts) -> bool:
        """The rule's filters: every list given must contain the statement's value."""
        rule = self.rule
        return (
            (not rule.leaders or facts.leader_id in rule.leaders)
            and (not rule.organizations or facts.organization_id in rule.organizations)
            and (not rule.sources or facts.source_id in rule.sources)
            and (not rule.languages or facts.language in rule.languages)
        )

    def evaluate(self, facts: StatementFacts, doc: AnalyzedText) -> RuleMatch | None:
        if self.query is None or not self.applies_to(facts):
            return None
        fields = Fields(leader=facts.leader_id, source=facts.source_id, language=facts.language)
        hit = self.query.match(doc, fields)
        if hit is None:
            return None
        return RuleMatch(
            rule_id=self.rule.id,
            severity=self.rule.severity,
            notify=tuple(self.rule.notify),
            evidence={"terms": list(hit.terms), "spans": [list(span) for span in hit.spans]},
        )


class RuleSet:
    """Every enabled rule of a config, each query compiled once."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules = list(rules)

    @classmethod
    def from_config(cls, config: Config) -> RuleSet:
        compiled = []
        for rule in config.rules:
            if not rule.enabled:
                continue
            if rule.stance is not None or rule.mentions is not None:
                # Stance and mention conditions arrive with the rules issue; until
                # then such a rule must not fire on its keyword part alone.
                log.warning(
                    "rule %s: stance and mention conditions are not evaluated by this "
                    "version; the rule is skipped",
                    rule.id,
                )
                continue
            query = compile_query(rule.match) if rule.match else None
            compiled.append(CompiledRule(rule=rule, query=query))
        return cls(compiled)

    def evaluate(self, facts: StatementFacts) -> list[RuleMatch]:
        doc = analyze(facts.text)
        return [m for rule in self.rules if (m := rule.evaluate(facts, doc)) is not None]
