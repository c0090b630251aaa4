"""The conditions of a rule other than its keyword query, one function each.

Each check returns None when the condition holds (and adds what it saw to the
evidence), or a short reason why not. The conditions about earlier statements
ask a :class:`History` (the store, in the pipeline; nothing, for a text typed
into `monitor rules test`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from monitor.config.schema_rules import (
    MentionsCondition,
    ReactionCondition,
    StanceCondition,
    StanceShiftCondition,
)
from monitor.rules.stance import StanceScore

if TYPE_CHECKING:
    from monitor.rules.engine import StatementFacts


@dataclass(frozen=True)
class PastStatement:
    id: int
    leader_id: str | None
    published_at: datetime
    stance: Mapping[str, Any]  # the stored stance JSON: {label: {score, ...}}
    relation: str | None = None  # for a referenced statement: reply or quote


class History(Protocol):
    """Earlier statements, as far as the conditions need them."""

    def leader_statements(
        self, leader_id: str, since: datetime, before: datetime, exclude: int | None
    ) -> Sequence[PastStatement]:
        """The leader's statements published in [since, before), newest first."""
        ...

    def referenced(self, facts: StatementFacts) -> Sequence[PastStatement]:
        """The stored statements this one replies to or quotes."""
        ...


class NoHistory:
    """No earlier statements at all: a text judged on its own."""

    def leader_statements(
        self, leader_id: str, since: datetime, before: datetime, exclude: int | None
    ) -> Sequence[PastStatement]:
        return ()

    def referenced(self, facts: StatementFacts) -> Sequence[PastStatement]:
        return ()


def check_stance(
    condition: StanceCondition, scores: Mapping[str, StanceScore], evidence: dict[str, Any]
) -> str | None:
    scored = scores.get(condition.label)
    value = scored.score_about(condition.target) if scored else 0.0
    evidence["stance"] = {
        "label": condition.label,
        "score": round(value, 3),
        "target": condition.target or (scored.target if scored else None),
        "cues": [cue.to_json() for cue in scored.cues] if scored else [],
    }
    if value >= condition.min_score:
        return None
    about = f" about {condition.target}" if condition.target else ""
    return f"stance {condition.label}{about}: {value:.2f} is under {condition.min_score:g}"


def check_mentions(
    condition: MentionsCondition,
    mentioned: Sequence[str],
    evidence: dict[str, Any],
    members: Sequence[str],
) -> str | None:
    named = set(mentioned)
    if condition.any is not None:
        hits = [entity for entity in condition.any if entity in named]
        evidence["mentions"] = hits
        return None if hits else f"mentions: none of {', '.join(condition.any)}"
    if condition.all is not None:
        missing = [entity for entity in condition.all if entity not in named]
        evidence["mentions"] = [entity for entity in condition.all if entity in named]
        return f"mentions: {', '.join(missing)} not named" if missing else None
    hits = [member for member in members if member in named]
    evidence["mentions"] = hits
    if len(hits) < condition.at_least:
        return f"mentions: {len(hits)} of group {condition.group}, fewer than {condition.at_least}"
    if condition.omits is not None:
        if condition.omits in named:
            return f"mentions: {condition.omits} is named, not omitted"
        evidence["omitted"] = condition.omits
    return None


def _stance_taken(
    stance: Mapping[str, Any], labels: Sequence[str], min_score: float
) -> tuple[str, float] | None:
    """The strongest of ``labels`` a stored or fresh stance takes at ``min_score``."""
    best: tuple[str, float] | None = None
    for label in labels:
        entry = stance.get(label)
        score = entry.score if isinstance(entry, StanceScore) else (entry or {}).get("score", 0.0)
        if score >= min_score and (best is None or score > best[1]):
            best = (label, float(score))
    return best


def check_stance_shift(
    condition: StanceShiftCondition,
    facts: StatementFacts,
    history: History,
    evidence: dict[str, Any],
) -> str | None:
    if facts.leader_id is None or facts.published_at is None:
        return "stance_shift: needs a stored statement with its leader and time (--item)"
    now = _stance_taken(facts.stance, condition.between, condition.min_score)
    if now is None:
        return f"stance_shift: takes neither {' nor '.join(condition.between)}"
    since = facts.published_at - condition.window
    for past in history.leader_statements(
        facts.leader_id, since, facts.published_at, facts.statement_id
    ):
        before = _stance_taken(past.stance, condition.between, condition.min_score)
        if before is None:
            continue  # a statement that took no stance does not break the comparison
        if before[0] == now[0]:
            return f"stance_shift: {now[0]} again, as in statement {past.id}"
        evidence["stance_shift"] = {
            "from": {"statement": past.id, "label": before[0], "score": round(before[1], 3)},
            "to": {"label": now[0], "score": round(now[1], 3)},
        }
        return None
    return f"stance_shift: no earlier stance of {facts.leader_id} within the window"


def _within(then: datetime, now: datetime | None, window: timedelta) -> bool:
    return now is None or timedelta(0) <= now - then <= window


def check_reply(
    condition: ReactionCondition, facts: StatementFacts, history: History, evidence: dict[str, Any]
) -> str | None:
    for past in history.referenced(facts):
        if past.leader_id == condition.leader and _within(
            past.published_at, facts.published_at, condition.window
        ):
            evidence["reaction"] = {
                "leader": condition.leader,
                "statement": past.id,
                "relation": past.relation,
            }
            return None
    return f"reply_to_leader: does not reply to or quote {condition.leader} within the window"


def check_reaction(
    condition: ReactionCondition, facts: StatementFacts, history: History, evidence: dict[str, Any]
) -> str | None:
    if facts.leader_id == condition.leader:
        return f"reacts_to: the statement is {condition.leader}'s own"
    if check_reply(condition, facts, history, evidence) is None:
        return None
    if condition.leader not in facts.mentions or facts.published_at is None:
        return f"reacts_to: does not reply to, quote or name {condition.leader}"
    since = facts.published_at - condition.window
    recent = history.leader_statements(
        condition.leader, since, facts.published_at, facts.statement_id
    )
    if not recent:
        return f"reacts_to: names {condition.leader}, who said nothing within the window"
    evidence["reaction"] = {
        "leader": condition.leader,
        "statement": recent[0].id,
        "relation": "names",
    }
    return None
