"""The `notifiers:` section: email, webhook and console, told apart by `kind`."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, model_validator

from monitor.config.cron import check_cron
from monitor.config.durations import Duration
from monitor.config.schema_base import (
    EmailAddress,
    HttpUrl,
    Id,
    NonEmptyStr,
    StrictModel,
    config_error,
)

SECRET_RECIPE = (
    "python -c \"import base64,os;print('whsec_'+base64.b64encode(os.urandom(24)).decode())\""
)


def _cron(value: str) -> str:
    try:
        return check_cron(value)
    except ValueError as error:
        raise config_error(str(error)) from None


def _blank_is_none(value: Any) -> Any:
    # `secret: ""` means no secret, like an empty ${WEBHOOK_SECRET:-}.
    return None if value == "" else value


def _standard_webhooks_secret(secret: SecretStr | None) -> SecretStr | None:
    """``whsec_`` + base64 of 24 to 64 bytes, as the Standard Webhooks spec asks.

    The message never repeats the value: it is a secret, even when malformed.
    """
    if secret is None:
        return None
    text = secret.get_secret_value()
    prefix, _, encoded = text.partition("_")
    try:
        size = len(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        size = 0
    if prefix != "whsec" or not 24 <= size <= 64:
        raise config_error(
            "must be a Standard Webhooks secret: 'whsec_' followed by the base64 of 24 to "
            f"64 random bytes; make one with: {SECRET_RECIPE}"
        )
    return secret


CronExpression = Annotated[str, AfterValidator(_cron)]
WebhookSecret = Annotated[
    SecretStr | None,
    BeforeValidator(_blank_is_none),
    AfterValidator(_standard_webhooks_secret),
]
Port = Annotated[int, Field(ge=1, le=65535)]


class Throttle(StrictModel):
    """At most ``max`` messages per ``per``; the alerts beyond it are folded into the
    next message (one listing them all), never dropped."""

    max: int = Field(ge=1, le=100_000)
    per: Duration


class _Batching(StrictModel):
    digest: CronExpression | None = None  # None: one message per alert; cron: batch on it
    throttle: Throttle | None = None

    @model_validator(mode="after")
    def _digest_or_throttle(self) -> _Batching:
        if self.digest is not None and self.throttle is not None:
            raise config_error(
                "digest and throttle together: a digest already sends one message per "
                "period; keep one of them"
            )
        return self


class EmailNotifier(_Batching):
    id: Id
    kind: Literal["email"]
    to: list[EmailAddress] = Field(min_length=1)
    smtp_host: NonEmptyStr
    smtp_port: Port = 587
    username: str | None = None
    password: SecretStr | None = None
    security: Literal["starttls", "tls", "none"] = "starttls"
    from_address: EmailAddress | None = None  # None: settings.email_from


class WebhookNotifier(_Batching):
    id: Id
    kind: Literal["webhook"]
    url: HttpUrl
    secret: WebhookSecret = None  # None: deliveries are not signed
    format: Literal["json", "slack"] = "json"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = timedelta(seconds=10)


class ConsoleNotifier(_Batching):
    id: Id
    kind: Literal["console"]


Notifier = Annotated[EmailNotifier | WebhookNotifier | ConsoleNotifier, Field(discriminator="kind")]
NOTIFIER_KINDS: tuple[str, ...] = ("email", "webhook", "console")
IMPLIED_CONSOLE = ConsoleNotifier(id="console", kind="console")
