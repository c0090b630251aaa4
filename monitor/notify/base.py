"""What a notifier receives and the one method it has."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class StatementSummary:
    id: int
    source: str
    leader: str | None
    organization: str | None
    url: str | None
    author: str | None
    published_at: datetime
    text: str
    language: str | None

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "leader": self.leader,
            "organization": self.organization,
            "url": self.url,
            "author": self.author,
            "published_at": self.published_at.isoformat(),
            "text": self.text,
            "language": self.language,
        }


@dataclass(frozen=True)
class AlertMessage:
    """One alert as notifiers see it; ``alert_id`` is stable across retries."""

    alert_id: str
    rule_id: str
    severity: str
    statement: StatementSummary
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The webhook body of PRODUCT.md (`format: json`)."""
        return {
            "type": "statement.matched",
            "alert_id": self.alert_id,
            "rule": {"id": self.rule_id, "severity": self.severity},
            "statement": self.statement.to_payload(),
            "evidence": {
                "terms": list(self.evidence.get("terms", [])),
                "spans": list(self.evidence.get("spans", [])),
                "stance": self.evidence.get("stance"),
                "mentions": list(self.evidence.get("mentions", [])),
            },
        }


class Notifier(Protocol):
    """Delivers one alert or raises DeliveryError; never returns a failure flag."""

    kind: ClassVar[str]

    def deliver(self, message: AlertMessage) -> None: ...

    def close(self) -> None:
        """Release connections; the notifier is not used afterwards."""


class BatchingNotifier(Notifier, Protocol):
    """A notifier that can also send several alerts as one message: a digest's
    period, or the alerts a throttle held back."""

    def deliver_digest(self, messages: Sequence[AlertMessage], period: datetime) -> None: ...


def digest_id(messages: Sequence[AlertMessage], period: datetime) -> str:
    """The id of a message listing ``messages``: the same for a retry of the same
    batch, so a receiver can tell a re-send from a new message."""
    return f"digest-{period:%Y%m%dT%H%M}Z-{min(m.alert_id for m in messages)}"


def group_by_leader_and_rule(
    messages: Sequence[AlertMessage],
) -> list[tuple[str, list[tuple[str, list[AlertMessage]]]]]:
    """Who spoke (leader, else author, else source), then rule, oldest statement first."""
    groups: dict[str, dict[str, list[AlertMessage]]] = {}
    for message in sorted(messages, key=lambda m: m.statement.published_at):
        statement = message.statement
        who = statement.leader or statement.author or statement.source
        groups.setdefault(who, {}).setdefault(message.rule_id, []).append(message)
    return [(who, sorted(rules.items())) for who, rules in sorted(groups.items())]
