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

__all__ = ["History", "NoHistory", "Prejudged", "RuleMatch", "RuleSet", "StatementFacts", "Verdict"]


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
class Prejudged:
    """The rules a text passed on its content (see RuleSet.prejudge), each with its
    evidence, and the facts the rules' filters and fields read when it was judged."""

    decided_by: tuple[str | None, ...]
    passed: tuple[tuple[int, dict[str, Any]], ...]


def _filter_facts(facts: StatementFacts) -> tuple[str | None, ...]:
    return (facts.source_id, facts.leader_id, facts.organization_id, facts.language)


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
        evidence, reason = self.judge_content(facts, doc)
        if reason is None:
            reason = self.judge_history(facts, history, evidence)
        return evidence, reason

    def judge_content(
        self, facts: StatementFacts, doc: AnalyzedText
    ) -> tuple[dict[str, Any], str | None]:
        """The filters and the conditions on the statement alone (match, stance,
        mentions): the evidence, and None when they all hold, else why not."""
        evidence: dict[str, Any] = {"terms": [], "spans": [], "stance": None, "mentions": []}
        refused = self.admits(facts)
        if refused:
            return evidence, refused
        for check in self._content_checks:
            reason = check(facts, doc, evidence)
            if reason is not None:
                return evidence, reason
        return evidence, None

    def judge_history(
        self, facts: StatementFacts, history: History, evidence: dict[str, Any]
    ) -> str | None:
        """The conditions on earlier statements (stance_shift, reply_to_leader,
        reacts_to), their evidence added to ``evidence``; None when they all hold."""
        for check in self._history_checks:
            reason: str | None = check(facts, history, evidence)
            if reason is not None:
                return reason
        return None

    @cached_property
    def _content_checks(self) -> list[Any]:
        # Built once per rule, not once per statement.
        rule = self.rule
        checks: list[Any] = []
        if self.query is not None:
            checks.append(self._check_match)
        if rule.stance is not None:
            checks.append(lambda f, d, e: check_stance(rule.stance, f.stance, e))
        if rule.mentions is not None:
            checks.append(
                lambda f, d, e: check_mentions(rule.mentions, f.mentions, e, self.members)
            )
        return checks

    @cached_property
    def _history_checks(self) -> list[Any]:
        rule = self.rule
        checks: list[Any] = []
        if rule.stance_shift is not None:
            checks.append(lambda f, h, e: check_stance_shift(rule.stance_shift, f, h, e))
        if rule.reply_to_leader is not None:
            checks.append(lambda f, h, e: check_reply(rule.reply_to_leader, f, h, e))
        if rule.reacts_to is not None:
            checks.append(lambda f, h, e: check_reaction(rule.reacts_to, f, h, e))
        return checks

    def _check_match(
        self, facts: StatementFacts, doc: AnalyzedText, evidence: dict[str, Any]
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
        self,
        facts: StatementFacts,
        doc: AnalyzedText,
        history: History | None = None,
        prejudged: Prejudged | None = None,
    ) -> list[RuleMatch]:
        """The rules that match, in config order; only candidate rules are evaluated.
        ``prejudged``: what :meth:`prejudge` found for this text, used when it judged
        the same filter facts (else the content is judged again here)."""
        history = history or NoHistory()
        if prejudged is None or prejudged.decided_by != _filter_facts(facts):
            prejudged = self.prejudge(facts, doc)
        matches = []
        for index, evidence in prejudged.passed:
            rule = self.rules[index]
            evidence = dict(evidence)  # the prejudged stays as it was
            if rule.judge_history(facts, history, evidence) is None:
                matches.append(
                    RuleMatch(rule.rule.id, rule.rule.severity, tuple(rule.rule.notify), evidence)
                )
        return matches

    def prejudge(self, facts: StatementFacts, doc: AnalyzedText) -> Prejudged:
        """The rules whose filters and content conditions hold: all the work that
        needs no earlier statement, so a poll does it before its write transaction
        (which the history conditions must be checked in)."""
        passed = []
        for index in sorted(self._index.candidates(doc)):
            evidence, reason = self.rules[index].judge_content(facts, doc)
            if reason is None:
                passed.append((index, evidence))
        return Prejudged(_filter_facts(facts), tuple(passed))

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
