"""What every source kind shares: the Post it produces and the adapter interface.

An adapter has two halves. ``parse`` is pure (bytes in, posts out) so it can
run on saved pages in tests and in ``monitor parse``; ``fetch`` does the HTTP
work through the shared client and hands the body to ``parse``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from monitor.http import HttpClient


@dataclass(frozen=True)
class Post:
    """One statement as a source shows it, before it is stored."""

    external_id: str
    text: str
    url: str | None = None
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None  # aware UTC; None: the source gave no usable time
    language: str | None = None  # what the source declares, if anything
    reply_to: str | None = None
    forwarded_from: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Validators:
    """HTTP validators kept per source for conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """What one poll of a source brought back."""

    posts: list[Post]
    validators: Validators
    not_modified: bool = False
    http_status: int | None = None
    bytes_read: int = 0


@dataclass(frozen=True)
class ParseContext:
    """What a parser may need beyond the bytes: where they came from."""

    url: str | None = None
    content_type: str | None = None


class SourceAdapter(Protocol):
    """One per source kind; built once per source from its config."""

    kind: ClassVar[str]

    def fetch(self, http: HttpClient, validators: Validators) -> FetchResult: ...

    @classmethod
    def parse(cls, body: bytes, context: ParseContext) -> list[Post]: ...
