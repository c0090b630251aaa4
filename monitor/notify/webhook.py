"""Webhooks signed per the Standard Webhooks specification.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, HMAC-SHA256
with the base64-decoded part of a ``whsec_`` secret, sent as
``webhook-signature: v1,<base64 digest>``. The webhook-id is the alert id (a
digest's id for several alerts in one POST), so a receiver can drop a re-send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx

from monitor.config import Throttle
from monitor.errors import DeliveryError
from monitor.http import parse_retry_after
from monitor.notify.base import AlertMessage, digest_id, group_by_leader_and_rule

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


def digest_payload(messages: Sequence[AlertMessage], period: datetime) -> dict[str, Any]:
    """Several alerts in one POST (a digest's period, or what a throttle held back)."""
    return {
        "type": "statements.digest",
        "digest_id": digest_id(messages, period),
        "period": period.isoformat(),
        "count": len(messages),
        "alerts": [message.to_payload() for message in messages],
    }


SLACK_MAX_BLOCKS = 48  # Slack refuses a message of more than 50 blocks


def slack_digest_payload(messages: Sequence[AlertMessage], period: datetime) -> dict[str, Any]:
    """One Slack message listing the alerts, grouped by leader and rule."""
    plural = "s" if len(messages) != 1 else ""
    headline = f"{len(messages)} alert{plural} ({period:%Y-%m-%d %H:%M} UTC)"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}}
    ]
    for who, rules in group_by_leader_and_rule(messages):
        for rule_id, group in rules:
            lines = []
            for message in group:
                statement = message.statement
                first_line = _slack_escape(statement.text.strip().split("\n", 1)[0][:200])
                link = f" <{statement.url}|post>" if statement.url else ""
                lines.append(
                    f"• [{message.severity.upper()}] {statement.published_at:%H:%M} "
                    f"{first_line}{link}"
                )
            text = f"*{_slack_escape(who)}* · rule {rule_id}\n" + "\n".join(lines)
            if len(text) > 2900:
                text = text[:2900] + "…"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if len(blocks) > SLACK_MAX_BLOCKS:
        left = len(blocks) - SLACK_MAX_BLOCKS + 1
        blocks = blocks[: SLACK_MAX_BLOCKS - 1]
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"… and {left} more groups: monitor alerts list"}
                ],
            }
        )
    return {"text": headline, "blocks": blocks}


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
        digest: str | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.url = url
        self.digest = digest  # a cron expression: alerts are batched, sent when it fires
        self.throttle = throttle
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
        return self._signed(message.alert_id, payload, now)

    def _signed(
        self, message_id: str, payload: dict[str, Any], now: float | None = None
    ) -> tuple[dict[str, str], bytes]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        timestamp = int(now if now is not None else time.time())
        headers = {
            **self._extra_headers,
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
        }
        if self._secret:
            headers["webhook-signature"] = sign(self._secret, message_id, timestamp, body)
        return headers, body

    def deliver(self, message: AlertMessage) -> None:
        self._post(*self.build_request(message))

    def deliver_digest(self, messages: Sequence[AlertMessage], period: datetime) -> None:
        payload = (
            slack_digest_payload(messages, period)
            if self.slack
            else digest_payload(messages, period)
        )
        self._post(*self._signed(digest_id(messages, period), payload))

    def _post(self, headers: dict[str, str], body: bytes) -> None:
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
