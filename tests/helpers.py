"""Small builders shared by the tests."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from monitor.config import Config, load_config_text
from monitor.daemon import build_runtime
from monitor.pipeline import Runtime, sync_sources
from monitor.store.session import Database

BASE_TIME = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def rss_item(guid: str, title: str, description: str, minutes: int = 0) -> str:
    published = format_datetime(BASE_TIME + timedelta(minutes=minutes))
    return (
        f'<item><guid isPermaLink="false">{guid}</guid><title>{title}</title>'
        f"<link>https://example.org/statements/{guid}</link>"
        f"<pubDate>{published}</pubDate><description>{description}</description></item>"
    )


def rss_feed(*items: str, language: str = "ar") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Statements</title><link>https://example.org/</link>"
        f"<language>{language}</language>{''.join(items)}</channel></rss>"
    ).encode()


GAZETTEER = """
organizations:
  - id: harakat-hezbollah-al-nujaba
    name: Harakat Hezbollah al-Nujaba
  - id: kataib-hezbollah
    name: Kataib Hezbollah
leaders:
  - id: akram-kaabi
    name: Akram Kaabi
    aliases: ["أكرم الكعبي"]
    organization: harakat-hezbollah-al-nujaba
  - id: abu-hussein-al-hamidawi
    name: Abu Hussein al-Hamidawi
    organization: kataib-hezbollah
"""


def config_for(sources_yaml: str, rules_yaml: str, notifiers_yaml: str = "") -> Config:
    text = f"{GAZETTEER}\nsources:\n{sources_yaml}\nrules:\n{rules_yaml}\n{notifiers_yaml}"
    return load_config_text(text, "test.yaml")


def runtime_for(config: Config, db: Database) -> Runtime:
    runtime = build_runtime(config, db)
    sync_sources(db, config)
    return runtime


def free_port() -> int:
    """A loopback port nothing listens on (yet): connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
