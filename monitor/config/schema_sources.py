"""The `sources:` section: one model per source kind, told apart by `kind`."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, SecretStr, model_validator

from monitor.config.durations import Duration
from monitor.config.schema_base import (
    HttpUrl,
    Id,
    Language,
    ProxyUrl,
    Selector,
    StrictModel,
    config_error,
)


def _handle(pattern: str, what: str) -> AfterValidator:
    """A kind's usual address (channel, handle, account): a leading @ is dropped."""
    compiled = re.compile(pattern)

    def validate(value: str) -> str:
        cleaned = value.strip().removeprefix("@")
        if not compiled.fullmatch(cleaned):
            raise config_error(f"{value!r} is not {what}")
        return cleaned

    return AfterValidator(validate)


_DOMAIN = r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
TelegramChannel = Annotated[
    str, _handle(r"[A-Za-z0-9_]+", "a Telegram channel name (write it without @ or t.me/)")
]
BlueskyHandle = Annotated[
    str, _handle(rf"did:[a-z]+:\S+|{_DOMAIN}", "a Bluesky handle (e.g. name.bsky.social)")
]
MastodonAccount = Annotated[
    str, _handle(rf"[A-Za-z0-9_.]+@{_DOMAIN}", "a Mastodon account (e.g. user@mastodon.social)")
]
XHandle = Annotated[
    str, _handle(r"[A-Za-z0-9_]{1,15}", "an X handle (up to 15 letters, digits or _; no x.com/)")
]
YouTubeChannelId = Annotated[
    str, _handle(r"[A-Za-z0-9_-]+", "a YouTube channel id (the UC... id of the channel)")
]


class SourceBase(StrictModel):
    """Keys every kind takes; ``url`` is declared per kind (required for some, not others)."""

    # The kind's usual key that `url:` may replace (exactly one of the two); None: url only.
    address_key: ClassVar[str | None] = None

    id: Id
    leader: str | None = None
    organization: str | None = None
    interval: Duration | None = None  # None: settings.default_interval
    language: Language | None = None
    enabled: bool = True
    proxy: ProxyUrl | None = None
    # A post missing from a later listing that still covers its place is marked
    # deleted; false for a source whose listings drop posts that still exist.
    detect_deletions: bool = True

    @model_validator(mode="after")
    def _address_or_url(self) -> SourceBase:
        key = self.address_key
        if key is None:
            return self
        given = getattr(self, key) is not None, getattr(self, "url", None) is not None
        if given == (True, True):
            raise config_error(f"give either '{key}' or 'url', not both")
        if given == (False, False):
            raise config_error(
                f"missing required key '{key}' (or 'url' with the full address to poll)"
            )
        return self


class TelegramSource(SourceBase):
    address_key: ClassVar[str | None] = "channel"
    kind: Literal["telegram"]
    channel: TelegramChannel | None = None
    url: HttpUrl | None = None
    backfill: int = Field(100, ge=0)  # how many past posts the first poll keeps
    since: date | None = None  # the first poll keeps nothing older


class RssSource(SourceBase):
    kind: Literal["rss"]
    url: HttpUrl


class Selectors(StrictModel):
    """CSS selectors for an html source; "css@attr" reads an attribute, "@attr" the item's own."""

    item: Selector
    text: Selector
    id: Selector | None = None
    link: Selector | None = None
    date: Selector | None = None
    author: Selector | None = None
    body: Selector | None = None


def _zone_name(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise config_error(
            f"{name!r} is not a time zone (use an IANA name such as UTC or Asia/Baghdad)"
        ) from None
    return name


class HtmlSource(SourceBase):
    kind: Literal["html"]
    url: HttpUrl
    selectors: Selectors
    follow: bool = False  # fetch each item's link and take selectors.body from it
    # The zone of times the site prints without one (IANA name); None: UTC
    # (Jalali dates: Asia/Tehran).
    timezone: Annotated[str, AfterValidator(_zone_name)] | None = None

    @model_validator(mode="after")
    def _body_when_following(self) -> HtmlSource:
        if self.follow and self.selectors.body is None:
            raise config_error(
                "follow: true needs selectors.body (the text to take from each linked page)"
            )
        return self


class BlueskySource(SourceBase):
    address_key: ClassVar[str | None] = "handle"
    kind: Literal["bluesky"]
    handle: BlueskyHandle | None = None
    url: HttpUrl | None = None


class MastodonSource(SourceBase):
    address_key: ClassVar[str | None] = "account"
    kind: Literal["mastodon"]
    account: MastodonAccount | None = None
    url: HttpUrl | None = None


class XSource(SourceBase):
    address_key: ClassVar[str | None] = "handle"
    kind: Literal["x"]
    handle: XHandle | None = None
    url: HttpUrl | None = None
    bearer_token: SecretStr | None = None


class YouTubeSource(SourceBase):
    address_key: ClassVar[str | None] = "channel_id"
    kind: Literal["youtube"]
    channel_id: YouTubeChannelId | None = None
    url: HttpUrl | None = None


Source = Annotated[
    TelegramSource
    | RssSource
    | HtmlSource
    | BlueskySource
    | MastodonSource
    | XSource
    | YouTubeSource,
    Field(discriminator="kind"),
]

SOURCE_KINDS: tuple[str, ...] = (
    "telegram",
    "rss",
    "html",
    "bluesky",
    "mastodon",
    "x",
    "youtube",
)
