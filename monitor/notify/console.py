"""Prints alerts: the default notifier, and what `monitor demo` shows."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import IO, ClassVar

from monitor.config import Throttle
from monitor.notify.base import AlertMessage, digest_id


class ConsoleNotifier:
    kind: ClassVar[str] = "console"

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        digest: str | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self._stream = stream
        self.digest = digest  # a cron expression: alerts are batched, sent when it fires
        self.throttle = throttle

    def deliver(self, message: AlertMessage) -> None:
        stream = self._stream or sys.stdout
        statement = message.statement
        who = statement.leader or statement.source
        terms = ", ".join(message.evidence.get("terms", [])) or "-"
        stream.write(
            f"ALERT [{message.severity}] rule={message.rule_id} statement={statement.id} "
            f"{who} {statement.published_at:%Y-%m-%d %H:%M}Z alert={message.alert_id}\n"
            f"  matched: {terms}\n"
            f"  {statement.url or '(no link)'}\n"
            f"  {_indent(statement.text)}\n"
        )
        stream.flush()

    def deliver_digest(self, messages: Sequence[AlertMessage], period: datetime) -> None:
        stream = self._stream or sys.stdout
        stream.write(
            f"DIGEST {digest_id(messages, period)}: {len(messages)} alerts "
            f"({period:%Y-%m-%d %H:%M}Z)\n"
        )
        for message in messages:
            self.deliver(message)

    def close(self) -> None:
        pass


def _indent(text: str, limit: int = 400) -> str:
    if len(text) > limit:
        text = text[:limit].rstrip() + "…"
    return text.replace("\n", "\n  ")
