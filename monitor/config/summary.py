"""What `monitor check` shows: one screen about a valid config, and remarks that are not errors.

Secrets never appear: passwords in URLs are masked, webhook paths (which
often are the secret, as with Slack) are cut, tokens and secrets are only
said to be present or not.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import urlsplit

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from monitor.config.durations import format_duration
from monitor.config.schema import Config
from monitor.config.schema_notifiers import EmailNotifier, Notifier, WebhookNotifier
from monitor.config.schema_rules import Rule

_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_FREE_TEXT_WIDTH = 60


def render_summary(config: Config) -> RenderableType:
    return Group(
        _overview(config),
        Text(),
        _sources(config),
        Text(),
        _rules(config),
        Text(),
        _notifiers(config),
    )


def warnings(config: Config) -> list[str]:
    """Things that validate but are probably not what the user wants."""
    remarks = []
    if not config.enabled_sources():
        remarks.append("no source is enabled: `monitor run` has nothing to poll")
    if not any(rule.enabled for rule in config.rules):
        remarks.append("no rule is enabled: statements are stored but nothing alerts")
    for notifier in config.notifiers:
        remarks.extend(_notifier_warnings(notifier))
    return remarks


def _notifier_warnings(notifier: Notifier) -> list[str]:
    remarks = []
    name = f"notifier {notifier.id!r}"
    if isinstance(notifier, WebhookNotifier):
        if notifier.secret is None:
            remarks.append(f"{name}: no secret, so deliveries are unsigned")
        url = urlsplit(notifier.url)
        if url.scheme == "http" and url.hostname not in _LOOPBACK:
            remarks.append(f"{name}: posts over plain http to {url.hostname}")
    if isinstance(notifier, EmailNotifier) and notifier.security == "none" and notifier.password:
        remarks.append(f"{name}: security is none, so the SMTP password travels unencrypted")
    return remarks


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def _overview(config: Config) -> Table:
    settings = config.settings
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("config", Text(str(config.path) if config.path else "(text)"))
    grid.add_row("database", Text(_database(settings.database_url)))
    interval = format_duration(settings.default_interval)
    grid.add_row("timezone", Text(f"{settings.timezone}, default interval {interval}"))
    groups = ", ".join(f"{name} ({len(members)})" for name, members in config.groups.items())
    gazetteer = f"{len(config.organizations)} organizations, {len(config.leaders)} leaders"
    grid.add_row("gazetteer", Text(f"{gazetteer}, groups: {groups or 'none'}"))
    grid.add_row("stances", Text(", ".join(config.stances) or "none"))
    return grid


def _database(configured: str | None) -> str:
    overridden = os.environ.get("MONITOR_DATABASE_URL")
    if overridden:
        return f"{mask_url(overridden)} (from $MONITOR_DATABASE_URL)"
    return mask_url(configured) if configured else "default (embedded SQLite)"


def _table(title: str, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> Table:
    """A borderless table, one line per row.

    Every column but the last keeps its full width (ids must stay readable on an
    80-column terminal); the last, free text, takes what is left and is cut with an ellipsis.
    """
    table = Table(title=title, title_justify="left", box=None, header_style="bold", pad_edge=False)
    for index, column in enumerate(columns[:-1]):
        widest = max((cell_len(row[index]) for row in rows), default=0)
        table.add_column(column, no_wrap=True, min_width=max(widest, len(column)))
    table.add_column(columns[-1], no_wrap=True, overflow="ellipsis", max_width=_FREE_TEXT_WIDTH)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: values are not markup
    return table


def _sources(config: Config) -> Table:
    title = f"Sources ({len(config.sources)}, {len(config.enabled_sources())} enabled)"
    rows = [
        (
            source.id,
            source.kind,
            format_duration(config.interval_of(source)),
            "yes" if source.enabled else "no",
            source.leader or source.organization or "-",
        )
        for source in config.sources
    ]
    return _table(title, ("id", "kind", "interval", "enabled", "speaker"), rows)


def _rules(config: Config) -> Table:
    rows = [
        (
            rule.id if rule.enabled else f"{rule.id} (disabled)",
            rule.severity,
            ", ".join(rule.notify),
            _condition(rule),
        )
        for rule in config.rules
    ]
    return _table(f"Rules ({len(rows)})", ("id", "severity", "notify", "matches on"), rows)


def _condition(rule: Rule) -> str:
    parts = []
    if rule.match:
        parts.append(f"match {rule.match}")
    if rule.stance:
        parts.append(f"stance {rule.stance.label} >= {rule.stance.min_score:g}")
    if rule.mentions:
        mentions = rule.mentions
        if mentions.group:
            omits = f", omits {mentions.omits}" if mentions.omits else ""
            parts.append(f"mentions {mentions.at_least}+ of {mentions.group}{omits}")
        else:
            form, ids = ("any", mentions.any) if mentions.any else ("all", mentions.all)
            parts.append(f"mentions {form} of {', '.join(ids or [])}")
    return "; ".join(parts)


def _notifiers(config: Config) -> Table:
    rows = [(notifier.id, notifier.kind, _target(notifier)) for notifier in config.notifiers]
    return _table(f"Notifiers ({len(rows)})", ("id", "kind", "target"), rows)


def _target(notifier: Notifier) -> str:
    if isinstance(notifier, EmailNotifier):
        digest = f", digest {notifier.digest}" if notifier.digest else ""
        server = f"{notifier.smtp_host}:{notifier.smtp_port}"
        return f"{', '.join(notifier.to)} via {server} ({notifier.security}{digest})"
    if isinstance(notifier, WebhookNotifier):
        signed = "signed" if notifier.secret else "unsigned"
        return f"{_origin(notifier.url)} ({notifier.format}, {signed})"
    return "standard output"


def _origin(url: str) -> str:
    """Scheme, host and port only: the path and query of a webhook URL are often its secret."""
    parts = urlsplit(mask_url(url))
    rest = "/..." if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{rest}"
