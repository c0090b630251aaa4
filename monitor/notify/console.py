"""Prints alerts: the default notifier, and what `monitor demo` shows."""

from __future__ import annotations

import sys
from typing import IO, ClassVar

from monitor.notify.base import AlertMessage


class ConsoleNotifier:
    kind: ClassVar[str] = "console"

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream

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

    def close(self) -> None:
        pass


def _indent(text: str, limit: int = 400) -> str:
    if len(text) > limit:
        text = text[:limit].rstrip() + "…"
    return text.replace("\n", "\n  ")
