"""Email alerts through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from monitor.errors import DeliveryError
from monitor.notify.base import AlertMessage, StatementSummary
from monitor.notify.email import EmailNotifier
from tests.helpers import free_port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content: bytes = envelope.content  # type: ignore[attr-defined]
        self.messages.append(
            email.message_from_bytes(content, policy=email.policy.default)  # type: ignore[arg-type]
        )
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def notifier(port: int) -> EmailNotifier:
    return EmailNotifier(
        to=["analysts@example.org", "desk@example.org"],
        sender="monitor@example.org",
        host="127.0.0.1",
        port=port,
        security="none",
        username=None,
        password=None,
        timeout_seconds=5,
        display_tz=ZoneInfo("Asia/Baghdad"),
        reply_to="desk@example.org",
    )


MESSAGE = AlertMessage(
    alert_id="01a2009c-fd72-7180-8258-6976c379c45e",
    rule_id="war-on-us",
    severity="high",
    evidence={"terms": ["إعلان الحرب", "أمريكا"]},
    statement=StatementSummary(
        id=42,
        source="kaabi-site",
        leader="akram-kaabi",
        organization="harakat-hezbollah-al-nujaba",
        url="https://example.org/statements/42",
        author=None,
        published_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        text="إعلان الحرب على أمريكا واجب <script>alert('x')</script>",
        language="ar",
    ),
)


def test_alert_mail_has_both_parts_escaped_and_a_stable_message_id(
    smtp: tuple[_Inbox, int],
) -> None:
    inbox, port = smtp
    notifier(port).deliver(MESSAGE)
    notifier(port).deliver(MESSAGE)  # a retry of the same alert

    first, second = inbox.messages
    assert first["Message-ID"] == second["Message-ID"] == f"<{MESSAGE.alert_id}@monitor.alerts>"
    assert first["Subject"] == "[HIGH] akram-kaabi: rule war-on-us"
    assert first["Reply-To"] == "desk@example.org"
    assert inbox.envelopes[0] == (
        "monitor@example.org",
        ["analysts@example.org", "desk@example.org"],
    )
    plain = first.get_body(preferencelist=("plain",))
    html = first.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    plain_text, html_text = plain.get_content(), html.get_content()
    assert "إعلان الحرب على أمريكا واجب <script>alert('x')</script>" in plain_text
    assert "2026-11-20 09:00 UTC (2026-11-20 12:00 +03)" in plain_text
    assert "<script>" not in html_text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html_text
    assert '<blockquote dir="auto"' in html_text
    assert '<a href="https://example.org/statements/42">' in html_text


def test_unreachable_smtp_server_is_a_retryable_delivery_error() -> None:
    port = free_port()
    with pytest.raises(DeliveryError) as caught:
        notifier(port).deliver(MESSAGE)
    assert caught.value.retryable
    assert str(caught.value).startswith(f"SMTP 127.0.0.1:{port} failed:")


def test_line_breaks_from_a_source_never_reach_a_header(smtp: tuple[_Inbox, int]) -> None:
    inbox, port = smtp
    statement = replace(MESSAGE.statement, leader=None, author="Media Office\n of the Resistance")
    notifier(port).deliver(replace(MESSAGE, statement=statement))
    [mail] = inbox.messages
    assert mail["Subject"] == "[HIGH] Media Office of the Resistance: rule war-on-us"
