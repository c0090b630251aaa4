"""From a source's config to its adapter: an explicit table, no discovery magic.

An adapter's module is imported when a source of its kind is first built or a
page of its kind parsed (or by import_adapters), not with this module: commands
that only read the database import no parser at all (bs4, feedparser, lxml),
and the daemon only the kinds its config has.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from monitor.config import HtmlSource, RssSource, Source, TelegramSource, YouTubeSource
from monitor.errors import FetchError, MonitorError
from monitor.sources.base import ParseContext, Post, SourceAdapter

# The module of each kind's adapter, for import_adapters; the builders and parsers
# below import the same modules themselves (tests check the two agree).
ADAPTER_MODULES: dict[str, str] = {
    "telegram": "monitor.sources.telegram",
    "rss": "monitor.sources.rss",
    "html": "monitor.sources.html",
    "youtube": "monitor.sources.youtube",
    "bluesky": "monitor.sources.bluesky",
    "mastodon": "monitor.sources.mastodon",
    "x": "monitor.sources.x",
}


def import_adapters(kinds: Iterable[str]) -> None:
    """Import the adapters of these kinds now (unknown kinds are build_adapter's to
    report): before the polls fork their processes, so each child inherits them
    instead of importing them again, and before the poll threads start, which
    would otherwise queue on the import lock in their first polls."""
    for kind in sorted(set(kinds)):
        module = ADAPTER_MODULES.get(kind)
        if module is not None:
            importlib.import_module(module)


def _rss(source: Source) -> SourceAdapter:
    from monitor.sources.rss import RssAdapter

    assert isinstance(source, RssSource)
    return RssAdapter(url=source.url, proxy=source.proxy)


def _telegram(source: Source) -> SourceAdapter:
    from monitor.sources.telegram import TelegramAdapter

    assert isinstance(source, TelegramSource)
    return TelegramAdapter.from_source(source)


def _html(source: Source) -> SourceAdapter:
    from monitor.sources.html import HtmlAdapter

    assert isinstance(source, HtmlSource)
    return HtmlAdapter.from_source(source)


def _youtube(source: Source) -> SourceAdapter:
    from monitor.sources.youtube import YouTubeAdapter

    assert isinstance(source, YouTubeSource)
    return YouTubeAdapter.from_source(source)


def _bluesky(source: Source) -> SourceAdapter:
    from monitor.sources.bluesky import BlueskyAdapter

    return BlueskyAdapter.from_source(source)


def _mastodon(source: Source) -> SourceAdapter:
    from monitor.sources.mastodon import MastodonAdapter

    return MastodonAdapter.from_source(source)


def _x(source: Source) -> SourceAdapter:
    from monitor.sources.x import XAdapter

    return XAdapter.from_source(source)


BUILDERS: dict[str, Callable[[Source], SourceAdapter]] = {
    "telegram": _telegram,
    "rss": _rss,
    "html": _html,
    "youtube": _youtube,
    "bluesky": _bluesky,
    "mastodon": _mastodon,
    "x": _x,
}


# The adapter class of each kind whose parser needs nothing but the body (html's
# needs its source's selectors), looked up in ADAPTER_MODULES when first used.
_BODY_PARSERS = {
    "telegram": "TelegramAdapter",
    "rss": "RssAdapter",
    "youtube": "YouTubeAdapter",
    "bluesky": "BlueskyAdapter",
    "mastodon": "MastodonAdapter",
    "x": "XAdapter",
}


def _body_parser(kind: str) -> Callable[[bytes, ParseContext], list[Post]]:
    def parse(body: bytes, context: ParseContext) -> list[Post]:
        adapter = getattr(importlib.import_module(ADAPTER_MODULES[kind]), _BODY_PARSERS[kind])
        posts: list[Post] = adapter.parse(body, context)
        return posts

    return parse


PARSERS: dict[str, Callable[[bytes, ParseContext], list[Post]]] = {
    kind: _body_parser(kind) for kind in _BODY_PARSERS
}
KINDS = ("telegram", "rss", "html", "bluesky", "mastodon", "x", "youtube")


def parse_saved(
    kind: str, body: bytes, context: ParseContext, source: Source | None = None
) -> list[Post]:
    """Parse a saved body of a kind, with a configured source's settings if given."""
    if source is not None and source.kind != kind:
        raise MonitorError(f"source {source.id!r} is of kind {source.kind!r}, not {kind!r}")
    if isinstance(source, HtmlSource):
        from monitor.sources.html import HtmlAdapter

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
