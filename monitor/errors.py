"""The one exception tree of monitor.

    MonitorError                 anything monitor raises on purpose
     ├── ConfigError             sources.yaml is wrong; carries every ConfigIssue found
     ├── QuerySyntaxError        a `match:` query does not parse; carries the column
     ├── FetchError              a source could not be fetched
     │    ├── HTTPStatusError    the server answered with an error status
     │    ├── ResponseTooLarge   the body passed the size cap (download aborted)
     │    └── TransportError     timeout, refused connection, TLS, proxy, too many redirects
     ├── ParseError              a fetched body is not what the source kind expects
     ├── DeliveryError           a notifier could not deliver an alert (retryable or not)
     ├── StoreError              the database is unreachable, missing or not migrated
     └── NotFoundError           a CLI argument names a row that does not exist

Foreign exceptions (httpx, feedparser, smtplib, SQLAlchemy) are translated at
the edge with ``raise ... from``, so the pipeline only ever sees this tree.
Only the scheduled-job wrapper catches broad exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class MonitorError(Exception):
    """Base of every error monitor raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file, located by file, line and key path."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(MonitorError):
    """The configuration is invalid; nothing may start."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class QuerySyntaxError(MonitorError):
    """A query of the keyword language does not parse."""

    def __init__(self, message: str, column: int) -> None:
        self.message = message
        self.column = column
        super().__init__(f"{message} at column {column}")


class FetchError(MonitorError):
    """A source could not be fetched."""


class HTTPStatusError(FetchError):
    def __init__(
        self,
        url: str,
        status: int,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.status = status
        self.retry_after = retry_after
        self.headers = dict(headers or {})  # lower-case names
        super().__init__(f"HTTP {status} from {url}")


class ResponseTooLarge(FetchError):
    def __init__(self, url: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        super().__init__(f"response from {url} is larger than {limit} bytes; download aborted")


class TransportError(FetchError):
    """Timeouts, refused connections, TLS and proxy failures, redirect loops."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable  # worth another attempt right away
        super().__init__(message)


class ParseError(MonitorError):
    """A fetched body is not what the source kind expects."""


class DeliveryError(MonitorError):
    """A notifier could not deliver; ``retryable`` says whether to try again."""

    def __init__(
        self, message: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(message)


class StoreError(MonitorError):
    """The database is unreachable, missing, or not at this version's schema."""


class NotFoundError(MonitorError):
    """A CLI argument names something that does not exist."""
