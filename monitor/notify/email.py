"""Email alerts over SMTP (STARTTLS, implicit TLS or plain), plain text plus HTML.

Values from sources go through Jinja2 with autoescape on, so a statement
containing markup is shown, never rendered. The Message-ID derives from the
alert id: a retried mail is recognisably the same one.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime, tzinfo
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import ClassVar, Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape

from monitor.config import Throttle
from monitor.errors import DeliveryError
from monitor.notify.base import AlertMessage, digest_id, group_by_leader_and_rule

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
    keep_trailing_newline=True,
)

Security = Literal["starttls", "tls", "none"]


class EmailNotifier:
    kind: ClassVar[str] = "email"

    def __init__(
        self,
        *,
        to: list[str],
        sender: str,
        host: str,
        port: int,
        security: Security,
        username: str | None,
        password: str | None,
        timeout_seconds: float,
        display_tz: tzinfo,
        reply_to: str | None = None,
        digest: str | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.digest = digest  # a cron expression: alerts are batched, sent when it fires
        self.throttle = throttle
        self.to = to
        self.sender = sender
        self.host = host
        self.port = port
        self.security = security
        self._username = username
        self._password = password
        self._timeout = timeout_seconds
        self._tz = display_tz
        self._reply_to = reply_to

    def compose(self, message: AlertMessage) -> EmailMessage:
        statement = message.statement
        who = statement.leader or statement.author or statement.source
        context = {
            "alert_id": message.alert_id,
            "rule_id": message.rule_id,
            "severity": message.severity,
            "who": who,
            "statement": statement,
            "terms": ", ".join(message.evidence.get("terms", [])),
            "published_utc": statement.published_at.strftime("%Y-%m-%d %H:%M"),
            "published_local": statement.published_at.astimezone(self._tz).strftime(
                "%Y-%m-%d %H:%M %Z"
            ),
        }
        mail = self._envelope(
            f"[{message.severity.upper()}] {who}: rule {message.rule_id}",
            f"<{message.alert_id}@monitor.alerts>",
        )
        mail.set_content(_TEMPLATES.get_template("alert.txt.j2").render(context))
        mail.add_alternative(
            _TEMPLATES.get_template("alert.html.j2").render(context), subtype="html"
        )
        return mail

    def compose_digest(self, messages: Sequence[AlertMessage], period: datetime) -> EmailMessage:
        """One mail for a period's alerts, grouped by leader, then rule."""
        groups = group_by_leader_and_rule(messages)
        context = {
            "count": len(messages),
            "groups": groups,
            "period_utc": period.strftime("%Y-%m-%d %H:%M"),
            "period_local": period.astimezone(self._tz).strftime("%Y-%m-%d %H:%M %Z"),
        }
        mail = self._envelope(
            f"[DIGEST] {len(messages)} alert{'s' if len(messages) != 1 else ''}: "
            + ", ".join(who for who, _ in groups),
            f"<{digest_id(messages, period)}@monitor.alerts>",
        )
        mail.set_content(_TEMPLATES.get_template("digest.txt.j2").render(context))
        mail.add_alternative(
            _TEMPLATES.get_template("digest.html.j2").render(context), subtype="html"
        )
        return mail

    def deliver_digest(self, messages: Sequence[AlertMessage], period: datetime) -> None:
        self._send(self.compose_digest(messages, period))

    def _envelope(self, subject: str, message_id: str) -> EmailMessage:
        mail = EmailMessage()
        # Header values from a source may hold line breaks: one line, or no mail at all.
        mail["Subject"] = " ".join(subject.split())
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.to)
        if self._reply_to:
            mail["Reply-To"] = self._reply_to
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id
        return mail

    def deliver(self, message: AlertMessage) -> None:
        self._send(self.compose(message))

    def _send(self, mail: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP {self.host}:{self.port} refused: {exc.smtp_code} {exc.smtp_error!r}",
                retryable=exc.smtp_code < 500,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port} failed: {exc}") from exc

    def close(self) -> None:
        pass  # one SMTP connection per alert, closed after it

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self._timeout, context=ssl.create_default_context()
            )
        smtp = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
        if self.security == "starttls":
            try:
                smtp.starttls(context=ssl.create_default_context())
            except BaseException:
                smtp.close()
                raise
        return smtp
