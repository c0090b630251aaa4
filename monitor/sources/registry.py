"""From a source's config to its adapter: an explicit table, no discovery magic."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from monitor.config import HtmlSource, RssSource, Source, TelegramSource, YouTubeSource
from monitor.errors import FetchError, MonitorError
from monitor.sources.base import ParseContext, Post, SourceAdapter
from monitor.sources.bluesky import BlueskyAdapter
from monitor.sources.html import HtmlAdapter
from monitor.sources.mastodon import MastodonAdapter
from monitor.sources.rss import RssAdapter
from monitor.sources.telegram import TelegramAdapter
from monitor.sources.x import XAdapter
from monitor.sources.youtube import YouTubeAdapter


def _rss(source: Source) -> SourceAdapter:
    assert isinstance(source, RssSource)
    return RssAdapter(url=source.url, proxy=source.proxy)


def _telegram(source: Source) -> SourceAdapter:
    assert isinstance(source, TelegramSource)
    return TelegramAdapter.from_source(source)


def _html(source: Source) -> SourceAdapter:
    assert isinstance(source, HtmlSource)
    return HtmlAdapter.from_source(source)


def _youtube(source: Source) -> SourceAdapter:
    assert isinstance(source, YouTubeSource)
    return YouTubeAdapter.from_source(source)


BUILDERS: dict[str, Callable[[Source], SourceAdapter]] = {
    "telegram": _telegram,
    "rss": _rss,
    "html": _html,
    "youtube": _youtube,
    "bluesky": BlueskyAdapter.from_source,
    "mastodon": MastodonAdapter.from_source,
    "x": XAdapter.from_source,
}

# Kinds whose parser needs nothing but the body; the others need their source's config.
PARSERS: dict[str, Callable[[bytes, ParseContext], list[Post]]] = {
    "telegram": TelegramAdapter.parse,
    "rss": RssAdapter.parse,
    "youtube": YouTubeAdapter.parse,
    "bluesky": BlueskyAdapter.parse,
    "mastodon": MastodonAdapter.parse,
    "x": XAdapter.parse,
}
KINDS = ("telegram", "rss", "html", "bluesky", "mastodon", "x", "youtube")


def parse_saved(
    kind: str, body: bytes, context: ParseContext, source: Source | None = None
) -> list[Post]:
    """Parse a saved body of a kind, with a configured source's settings if given."""
    if source is not None and source.kind != kind:
        raise MonitorError(f"source {source.id!r} is of kind {source.kind!r}, not {kind!r}")
    if isinstance(source, HtmlSource):
        return HtmlAdapter.from_source(source).parse_body(body, context)
    parser = PARSERS.get(kind)
    if parser is None:
        raise MonitorError(f"parsing {kind!r} pages needs --source ID (its selectors)")
    return parser(body, context)


def build_adapter(source: Source) -> SourceAdapter:
    builder = BUILDERS.get(source.kind)
    if builder is None:
        supported = ", ".join(sorted(BUILDERS))
        raise FetchError(
            f"source kind {source.kind!r} is not supported by this version yet "
            f"(supported: {supported})"
        )
    return builder(source)


# Where each kind is fetched from when its source gives no `url:`.
_DEFAULT_HOSTS = {
    "telegram": "t.me",
    "x": "api.x.com",
    "bluesky": "public.api.bsky.app",
    "youtube": "www.youtube.com",
}


def host_of(source: Source) -> str:
    """The host a source's polls go to: what per-host concurrency is counted by."""
    url = getattr(source, "url", None)
    if url:
        return (urlsplit(str(url)).hostname or "").lower()
    account = getattr(source, "account", None)
    if isinstance(account, str) and "@" in account:
        return account.rsplit("@", 1)[1].lower()
    return _DEFAULT_HOSTS.get(source.kind, source.kind)
