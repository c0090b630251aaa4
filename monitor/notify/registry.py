"""From the notifiers of the config to live notifiers: an explicit table."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Mapping

from monitor.config import Config
from monitor.config import ConsoleNotifier as ConsoleConfig
from monitor.config import EmailNotifier as EmailConfig
from monitor.config import Notifier as NotifierConfig
from monitor.config import WebhookNotifier as WebhookConfig
from monitor.notify.base import Notifier
from monitor.notify.console import ConsoleNotifier
from monitor.notify.webhook import WebhookNotifier

log = logging.getLogger(__name__)


def _console(config: Config, notifier: NotifierConfig) -> Notifier:
    assert isinstance(notifier, ConsoleConfig)
    return ConsoleNotifier(digest=notifier.digest, throttle=notifier.throttle)


def _webhook(config: Config, notifier: NotifierConfig) -> Notifier:
    assert isinstance(notifier, WebhookConfig)
    return WebhookNotifier(
        notifier.url,
        secret=notifier.secret.get_secret_value() if notifier.secret else None,
        timeout_seconds=notifier.timeout.total_seconds(),
        headers=notifier.headers,
        user_agent=config.settings.user_agent,
        slack=notifier.format == "slack",
        digest=notifier.digest,
        throttle=notifier.throttle,
    )


def _email(config: Config, notifier: NotifierConfig) -> Notifier:
    # Imported only for a config with an email notifier: jinja2 and smtplib are a
    # good part of the start-up of `run --once`, which is most of a 304 cycle.
    from monitor.notify.email import EmailNotifier

    assert isinstance(notifier, EmailConfig)
    settings = config.settings
    return EmailNotifier(
        to=list(notifier.to),
        sender=notifier.from_address or settings.email_from or f"monitor@{socket.getfqdn()}",
        host=notifier.smtp_host,
        port=notifier.smtp_port,
        security=notifier.security,
        username=notifier.username,
        password=notifier.password.get_secret_value() if notifier.password else None,
        timeout_seconds=settings.http_timeout.total_seconds(),
        display_tz=settings.tz,
        reply_to=settings.email_reply_to,
        digest=notifier.digest,
        throttle=notifier.throttle,
    )


BUILDERS: dict[str, Callable[[Config, NotifierConfig], Notifier]] = {
    "console": _console,
    "webhook": _webhook,
    "email": _email,
}


def build_notifiers(config: Config) -> dict[str, Notifier]:
    return {n.id: BUILDERS[n.kind](config, n) for n in config.notifiers}


def close_notifiers(notifiers: Mapping[str, Notifier]) -> None:
    for notifier in notifiers.values():
        notifier.close()
