"""Rules compiled once from the config, evaluated on each new or edited statement.

A rule holds when every condition it has holds (and its filters admit the
statement): ``match`` (a keyword query), ``stance`` (a stance score at or over
``min_score``, about a target if asked), ``mentions`` (names or omissions),
``stance_shift`` (the opposite stance of the leader's previous statement within
a window), ``reply_to_leader`` and ``reacts_to`` (answering a leader within a
window). The last three look at earlier statements through a :class:`History`.
Keyword rules are first narrowed by a term index, so the cost per statement
does not grow with the number of rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from monitor.config import Config, Rule
from monitor.rules.conditions import (
    History,
    NoHistory,
    check_mentions,
    check_reaction,
    check_reply,
    check_stance,
    check_stance_shift,
)
from monitor.rules.matcher import AnalyzedText, CompiledQuery, Fields, compile_query
from monitor.rules.prefilter import TermIndex
from monitor.rules.stance import StanceScore

__all__ = ["History", "NoHistory", "RuleMatch", "RuleSet", "StatementFacts", "Verdict"]


@dataclass(frozen=True)
class StatementFacts:
    """What a rule may look at in a statement (analysis included)."""

    text: str
    source_id: str | None = None
    leader_id: str | None = None
    organization_id: str | None = None
    language: str | None = None
    statement_id: int | None = None
    published_at: datetime | None = None
    reply_to: str | None = None
    quote_of: str | None = None
    mentions: tuple[str, ...] = ()  # ids of the leaders and organizations named
    stance: Mapping[str, StanceScore] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleMatch:
    rule_id: str
    severity: str
    notify: tuple[str, ...]
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """A rule's answer for a statement, matched or not, with what it saw."""

    rule_id: str
    matched: bool
    evidence: dict[str, Any]
    reason: str | None = None  # why not, when it did not match


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    query: CompiledQuery | None
    members: tuple[str, ...] = ()  # the mentions condition's group, resolved

    def admits(self, facts: StatementFacts) -> str | None:
        """None when the filters admit the statement, else which one refuses it."""
        for name, allowed, attribute in self._filters:
            value = getattr(facts, attribute)
            if value not in allowed:
                return f"filter {name}: {value or 'none'} is not among {', '.join(allowed)}"
        return None

    @cached_property
    def _filters(self) -> tuple[tuple[str, Sequence[str], str], ...]:
        # The filters the rule sets, worked out once: most rules set none.
        rule = self.rule
        return tuple(
            (name, allowed, attribute)
            for name, allowed, attribute in (
                ("leaders", rule.leaders, "leader_id"),
                ("organizations", rule.organizations, "organization_id"),
                ("sources", rule.sources, "source_id"),
                ("languages", rule.languages, "language"),
            )
            if allowed
        )

    def verdict(self, facts: StatementFacts, doc: AnalyzedText, history: History) -> Verdict:
        evidence, reason = self.judge(facts, doc, history)
        return Verdict(self.rule.id, reason is None, evidence, reason)

    def judge(
        self, facts: StatementFacts, doc: AnalyzedText, history: History
    ) -> tuple[dict[str, Any], str | None]:
        """The evidence, and None when the rule matches, else why not (what
        :meth:`verdict` says, without building a Verdict for every rule tried)."""
        evidence: dict[str, Any] = {"terms": [], "spans": [], "stance": None, "mentions": []}
        refused = self.admits(facts)
        if refused:
            return evidence, refused
        for check in self._checks:
            reason = check(facts, doc, history, evidence)
            if reason is not None:
                return evidence, reason
        return evidence, None

    @cached_property
    def _checks(self) -> list[Any]:
        # Built once per rule, not once per statement.
        rule = self.rule
        checks: list[Any] = []
        if self.query is not None:
            checks.append(self._check_match)
        if rule.stance is not None:
            checks.append(lambda f, d, h, e: check_stance(rule.stance, f.stance, e))
        if rule.mentions is not None:
            checks.append(
                lambda f, d, h, e: check_mentions(rule.mentions, f.mentions, e, self.members)
            )
        if rule.stance_shift is not None:
            checks.append(lambda f, d, h, e: check_stance_shift(rule.stance_shift, f, h, e))
        if rule.reply_to_leader is not None:
            checks.append(lambda f, d, h, e: check_reply(rule.reply_to_leader, f, h, e))
        if rule.reacts_to is not None:
            checks.append(lambda f, d, h, e: check_reaction(rule.reacts_to, f, h, e))
        return checks

    def _check_match(
        self, facts: StatementFacts, doc: AnalyzedText, history: History, evidence: dict[str, Any]
    ) -> str | None:
        assert self.query is not None
        fields = Fields(leader=facts.leader_id, source=facts.source_id, language=facts.language)
        hit = self.query.match(doc, fields)
        if hit is None:
            return "match: the query does not match"
        evidence["terms"] = list(hit.terms)
        evidence["spans"] = [list(span) for span in hit.spans]
        return None


class RuleSet:
    """Every enabled rule of a config, each query compiled once, behind a term index."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self.rules = list(rules)
        self._index = TermIndex([rule.query for rule in self.rules])

    @classmethod
    def from_config(cls, config: Config) -> RuleSet:
        return cls([_compile(rule, config) for rule in config.rules if rule.enabled])

    def evaluate(
        self, facts: StatementFacts, doc: AnalyzedText, history: History | None = None
    ) -> list[RuleMatch]:
        """The rules that match, in config order; only candidate rules are evaluated."""
        history = history or NoHistory()
        matches = []
        for index in sorted(self._index.candidates(doc)):
            rule = self.rules[index]
            evidence, reason = rule.judge(facts, doc, history)
            if reason is None:
                matches.append(
                    RuleMatch(rule.rule.id, rule.rule.severity, tuple(rule.rule.notify), evidence)
                )
        return matches

    def explain(
        self, facts: StatementFacts, doc: AnalyzedText, history: History | None = None
    ) -> list[Verdict]:
        """Every rule's verdict with its evidence (for `monitor rules test`)."""
        history = history or NoHistory()
        return [rule.verdict(facts, doc, history) for rule in self.rules]


def _compile(rule: Rule, config: Config) -> CompiledRule:
    group = rule.mentions.group if rule.mentions else None
    return CompiledRule(
        rule=rule,
        query=compile_query(rule.match) if rule.match else None,
        members=tuple(config.group_members(group)) if group else (),
    )
