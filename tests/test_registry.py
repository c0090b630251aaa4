"""The adapter registry: every kind built and parsed, each adapter imported only when needed."""

from __future__ import annotations

import subprocess
import sys
from textwrap import dedent

import pytest

from monitor.config import load_config_text
from monitor.errors import MonitorError
from monitor.sources import registry
from monitor.sources.base import ParseContext

# One source of each kind, with the fewest keys its schema takes.
SOURCES = """\
sources:
  - {id: t, kind: telegram, channel: somechannel}
  - {id: r, kind: rss, url: "https://example.org/feed.xml"}
  - id: h
    kind: html
    url: https://example.org/news
    selectors: {item: article, text: p}
  - {id: y, kind: youtube, url: "https://www.youtube.com/feeds/videos.xml?channel_id=x"}
  - {id: b, kind: bluesky, url: "http://127.0.0.1:9/bsky"}
  - {id: m, kind: mastodon, account: someone@mastodon.example}
  - {id: x, kind: x, url: "http://127.0.0.1:9/x"}
"""

# What `monitor run` must not import before it polls (nor any command reading the
# database): the adapters, their parsers, Alembic (needed only for a migration),
# the demo, the daemon's scheduler and the review screen.
NOT_AT_START = (
    "alembic",
    "bs4",
    "feedparser",
    "lxml",
    "monitor.demo.runner",
    "monitor.scheduler",
    "prompt_toolkit",
    *registry.ADAPTER_MODULES.values(),
)


def test_every_kind_is_built_by_the_module_import_adapters_names() -> None:
    config = load_config_text(SOURCES, "sources.yaml")
    assert sorted(source.kind for source in config.sources) == sorted(registry.KINDS)
    assert set(registry.BUILDERS) == set(registry.ADAPTER_MODULES) == set(registry.KINDS)
    for source in config.sources:
        adapter = registry.build_adapter(source)
        assert type(adapter).__module__ == registry.ADAPTER_MODULES[source.kind]
        assert adapter.kind == source.kind


def test_every_body_parser_is_its_adapters() -> None:
    # An RSS body through the lazy parser: the same posts as the adapter's own parse.
    from monitor.sources.rss import RssAdapter

    feed = dedent(
        """\
        <rss version="2.0"><channel><title>t</title>
        <item><guid>1</guid><title>Hello</title><link>https://example.org/1</link>
        <pubDate>Sat, 21 Nov 2026 10:00:00 GMT</pubDate></item>
        </channel></rss>
        """
    ).encode()
    context = ParseContext()
    assert registry.PARSERS["rss"](feed, context) == RssAdapter.parse(feed, context)
    assert set(registry.PARSERS) == set(registry.KINDS) - {"html"}
    with pytest.raises(MonitorError, match="needs --source ID"):
        registry.parse_saved("html", b"<html></html>", context)


def _imported_after(statement: str) -> list[str]:
    probe = f"import sys; {statement}; print(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def test_the_cli_imports_no_adapter_alembic_demo_or_scheduler() -> None:
    loaded = _imported_after("import monitor.cli.app")
    assert [name for name in NOT_AT_START if name in loaded] == []


def test_import_adapters_imports_only_the_kinds_given() -> None:
    loaded = _imported_after(
        "from monitor.sources.registry import import_adapters; "
        "import_adapters(['rss', 'rss', 'no-such-kind'])"
    )
    assert "monitor.sources.rss" in loaded
    others = [m for k, m in registry.ADAPTER_MODULES.items() if k != "rss"]
    assert [name for name in others if name in loaded] == []
