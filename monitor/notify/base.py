"""What a notifier receives and the one method it has."""

from __future__ import annotations

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
