"""Logging for the daemon: JSON lines in a container, readable lines on a terminal,
and never a secret from the config, whatever a library puts in a message."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, SecretStr
from pythonjsonlogger.json import JsonFormatter

from monitor.config import Config

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
REDACTED = "[redacted]"
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({})))
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, str) and "://" in value and "@" in value:
        password = urlsplit(value).password  # a proxy's or a database's credentials
        if password:
            yield password
            yield unquote(password)


def secrets_of(config: Config, environ: dict[str, str] | None = None) -> set[str]:
    """Every secret the config holds (SecretStr values, passwords in URLs), and the
    database URL's password; short ones are left out (they would mask ordinary words)."""
    found = set(_walk(config))
    for notifier in config.notifiers:
        # An incoming-webhook URL (Slack, Discord...) is itself the credential: its
        # path and query are masked, the host stays readable. Extra headers carry tokens.
        url = getattr(notifier, "url", None)
        if url:
            parts = urlsplit(str(url))
            private = parts.path + (f"?{parts.query}" if parts.query else "")
            if len(private) >= 8:  # not a plain "/hook", which would mask ordinary words
                found.add(private)
        found.update(getattr(notifier, "headers", {}).values())
    url = (environ if environ is not None else os.environ).get("MONITOR_DATABASE_URL")
    found |= set(_walk(url)) if url else set()
    found |= set(_walk(config.settings.database_url)) if config.settings.database_url else set()
    return {secret for secret in found if len(secret) >= 4}


class RedactSecrets(logging.Filter):
    """Replaces each secret in the rendered message (and its arguments) on every record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            try:
                message = record.getMessage()
            except Exception:
                return True  # a malformed call: logging's own error handling reports it
            record.msg = self._clean(message)
            record.args = None
            for key, value in vars(record).items():
                # Fields given with extra= (the poll lines' error) are logged too.
                if key not in _RECORD_ATTRIBUTES and isinstance(value, str):
                    setattr(record, key, self._clean(value))
            if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
                record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


def wants_json(log_format: str, stream: Any = None) -> bool:
    """auto: JSON when stderr is not a terminal (a container's log driver)."""
    chosen = os.environ.get("MONITOR_LOG_FORMAT", log_format)
    if chosen == "auto":
        stream = stream or sys.stderr
        return not (hasattr(stream, "isatty") and stream.isatty())
    return chosen == "json"


def configure_daemon_logging(config: Config) -> None:
    """Swap the root handler's formatter for the daemon's and add the redaction."""
    root = logging.getLogger()
    handlers = root.handlers or [logging.StreamHandler(sys.stderr)]
    if not root.handlers:
        root.addHandler(handlers[0])
    as_json = wants_json(config.settings.log_format)
    redact = RedactSecrets(secrets_of(config))
    for handler in handlers:
        formatter: logging.Formatter
        if as_json:
            formatter = JsonFormatter(
                JSON_FIELDS,
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
                datefmt=ISO_UTC,
            )
        else:
            formatter = logging.Formatter(TEXT_FORMAT, datefmt=ISO_UTC)
        formatter.converter = time.gmtime  # UTC, like everything inside
        handler.setFormatter(formatter)
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(redact)
