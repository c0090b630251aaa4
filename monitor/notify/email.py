"""Email alerts over SMTP (STARTTLS, implicit TLS or plain), plain text plus HTML.

Values from sources go through Jinja2 with autoescape on, so a statement
containing markup is shown, never rendered. The Message-ID derives from the
alert id: a retried mail is recognisably the same one.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import tzinfo
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import ClassVar, Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape

from monitor.errors import DeliveryError
from monitor.notify.base import AlertMessage

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
    ) -> None:
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
        mail = EmailMessage()
        # Header values from a source may hold line breaks: one line, or no mail at all.
        subject = f"[{message.severity.upper()}] {who}: rule {message.rule_id}"
        mail["Subject"] = " ".join(subject.split())
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.to)
        if self._reply_to:
            mail["Reply-To"] = self._reply_to
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{message.alert_id}@monitor.alerts>"
        mail.set_content(_TEMPLATES.get_template("alert.txt.j2").render(context))
        mail.add_alternative(
            _TEMPLATES.get_template("alert.html.j2").render(context), subtype="html"
        )
        return mail

    def deliver(self, message: AlertMessage) -> None:
        mail = self.compose(message)
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
