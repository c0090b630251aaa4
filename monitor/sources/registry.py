"""From a source's config to its adapter: an explicit table, no discovery magic."""

from __future__ import annotations

from collections.abc import Callable

from monitor.config import RssSource, Source
from monitor.errors import FetchError
from monitor.sources.base import SourceAdapter
from monitor.sources.rss import RssAdapter


def _rss(source: Source) -> SourceAdapter:
    assert isinstance(source, RssSource)
    return RssAdapter(url=source.url, proxy=source.proxy)


BUILDERS: dict[str, Callable[[Source], SourceAdapter]] = {
    "rss": _rss,
}

PARSERS: dict[str, type[SourceAdapter]] = {
    "rss": RssAdapter,
}


def build_adapter(source: Source) -> SourceAdapter:
    builder = BUILDERS.get(source.kind)
    if builder is None:
        supported = ", ".join(sorted(BUILDERS))
        raise FetchError(
            f"source kind {source.kind!r} is not supported by this version yet "
            f"(supported: {supported})"
        )
    return builder(source)
