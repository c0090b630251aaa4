"""Webhooks signed per the Standard Webhooks specification.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, HMAC-SHA256
with the base64-decoded part of a ``whsec_`` secret, sent as
``webhook-signature: v1,<base64 digest>``. The webhook-id is the alert id, so
a receiver can drop a re-sent alert.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from monitor.errors import DeliveryError
from monitor.http import parse_retry_after
from monitor.notify.base import AlertMessage

SECRET_PREFIX = "whsec_"


def decode_secret(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def is_retryable_status(status: int) -> bool:
    """Server errors, timeouts and rate limits may pass later; other 4xx will not."""
    return status >= 500 or status in (408, 429)


def slack_payload(message: AlertMessage) -> dict[str, Any]:
    """Slack Block Kit for an incoming-webhook URL; Slack escapes nothing, so we do."""
    statement = message.statement
    who = _slack_escape(statement.leader or statement.author or statement.source)
    terms = _slack_escape(", ".join(message.evidence.get("terms", [])) or "-")
    link = f"<{statement.url}|open the post>" if statement.url else "(no link)"
    headline = f"[{message.severity.upper()}] {who}: rule {message.rule_id}"
    text = _slack_escape(statement.text)
    if len(text) > 2900:  # Block Kit caps a section's text at 3000 characters
        text = text[:2900] + "…"
    return {
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}},
            {"type": "section", "text": {"type": "plain_text", "text": text}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{statement.published_at:%Y-%m-%d %H:%M} UTC · matched: "
                        f"{terms} · {link} · alert {message.alert_id}",
                    }
                ],
            },
        ],
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class WebhookNotifier:
    kind: ClassVar[str] = "webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: str | None,
        timeout_seconds: float,
        headers: Mapping[str, str] | None = None,
        user_agent: str = "monitor",
        slack: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.slack = slack
        self._secret = secret or None
        self._extra_headers = dict(headers or {})
        self._client = httpx.Client(
            timeout=timeout_seconds,
            headers={"User-Agent": user_agent},
            transport=transport,
        )

    def build_request(
        self, message: AlertMessage, now: float | None = None
    ) -> tuple[dict[str, str], bytes]:
        payload = slack_payload(message) if self.slack else message.to_payload()
        body = json.dumps(payload, ensure_ascii=False).encode()
        timestamp = int(now if now is not None else time.time())
        headers = {
            **self._extra_headers,
            "Content-Type": "application/json",
            "webhook-id": message.alert_id,
            "webhook-timestamp": str(timestamp),
        }
        if self._secret:
            headers["webhook-signature"] = sign(self._secret, message.alert_id, timestamp, body)
        return headers, body

    def deliver(self, message: AlertMessage) -> None:
        headers, body = self.build_request(message)
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"POST {self.url} failed: {exc or type(exc).__name__}") from exc
        if response.is_success:
            return
        raise DeliveryError(
            f"POST {self.url} answered HTTP {response.status_code}",
            retryable=is_retryable_status(response.status_code),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def close(self) -> None:
        self._client.close()
