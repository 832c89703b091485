"""Slack, through an Incoming Webhook: one Block Kit message per incident change.

Documented call: ``POST <webhook URL>`` with ``{"text", "blocks"}`` (Slack "Sending messages
using incoming webhooks"); Slack answers 200 with the body ``ok``. Errors (Slack changelog
2016-05-17 "Improving error conditions for Incoming Webhooks") are plain-text codes: 400
``invalid_payload``/``no_text``/``invalid_blocks``, 403 ``action_prohibited``/``invalid_token``,
404 ``channel_not_found``/``no_service``, 410 ``channel_is_archived``, 500 ``rollup_error``;
beyond about one message per second Slack answers 429 with ``Retry-After`` (all translated by
``http.send``). ``text`` is the notification fallback; ``blocks`` respect Block Kit limits
(header 150 characters, section text 3000, at most 10 fields and 50 blocks).

Notifications only: ``open`` posts the incident, ``update`` posts a follow-up with the note and
the current priority, ``resolve`` posts a resolved message. A webhook cannot edit or read
messages, so the reference key is the incident's marker, which every message shows.

Idempotency: none on Slack's side and no lookup (not ``Findable``): a post that timed out
after Slack accepted it is retried and shows twice in the channel. Duplicates are visible but
harmless; a lost notification would not be.

Config: the webhook URL is a secret (``webhook_url``, ``SecretStr``), so it never shows in
reprs, logs or errors. ``endpoint`` keeps the base class's type (an ``HttpUrl`` that anything
may print) and holds only the webhook's origin, ``https://hooks.slack.com/``, derived from
``webhook_url`` when not given; the URL must be on that origin, so a typo cannot send the
secret elsewhere. (Making ``endpoint`` itself a ``SecretStr`` would change the base type every
other reader of ``ConnectorConfig`` relies on.)
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp

from connectors.base import IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected
from connectors.http import send
from connectors.webhook_url import SecretUrlConfig

HEADER_LIMIT = 150
TEXT_LIMIT = 3000
MAX_ALERTS = 15
EMOJI = {"open": ":rotating_light:", "update": ":arrows_counterclockwise:", "resolve": ":white_check_mark:"}


class SlackConfig(SecretUrlConfig):
    """The Incoming Webhook URL (secret) and, optionally, its origin as ``endpoint``."""

    kind: Literal["slack"] = "slack"


class SlackConnector:
    """Posts open, follow-up and resolved messages to one Slack channel."""

    name = "slack"
    Config = SlackConfig

    def __init__(self, config: SlackConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Post the incident; its marker is the reference (webhooks return no message id)."""
        await self._post(message("open", req), "slack open")
        return IncidentRef(key=req.marker, url=req.url)

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Post a follow-up carrying the note and the current priority."""
        await self._post(message("update", req), "slack update")

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Post the resolved message."""
        await self._post(message("resolve", req), "slack resolve")

    async def healthcheck(self) -> None:
        """Check the URL's shape, then POST an empty text, which Slack refuses without posting.

        Webhooks have no read call. A live webhook answers 400 ``no_text`` to ``{"text": ""}``
        (the check secret scanners use); a revoked one 403 ``invalid_token`` or 404
        ``no_service``; an archived channel 410. Any other 400 passes: this check prefers a
        false "healthy" over failing a working webhook.
        """
        path = urlsplit(self.config.webhook_url.get_secret_value()).path.strip("/").split("/")
        if len(path) < 4 or path[0] not in ("services", "workflows", "triggers"):
            raise ConnectorRejected("slack check: webhook_url is not a Slack webhook URL (/services/T…/B…/…)")
        try:
            await self._post({"text": ""}, "slack check")
        except ConnectorAuthError:
            raise
        except ConnectorRejected as err:
            if err.status == 404:
                raise ConnectorAuthError(
                    f"slack check: webhook unknown or revoked ({err})", status=404
                ) from None
            if err.status != 400:
                raise

    async def _post(self, payload: dict[str, Any], what: str) -> None:
        await send(
            self.session,
            "POST",
            self.config.webhook_url.get_secret_value(),
            what=what,
            timeout=self.config.timeout,
            json=payload,
        )


def message(action: str, req: IncidentRequest) -> dict[str, Any]:
    """The Block Kit message for one action (``open``, ``update``, ``resolve``)."""
    verb = {"open": "", "update": "Update: ", "resolve": "Resolved: "}[action]
    label = {"open": "Note", "update": "Update", "resolve": "Resolved"}[action]
    title = " ".join(req.title.split())
    header = f"{EMOJI[action]} {verb}{req.priority} {title}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(header, HEADER_LIMIT), "emoji": True}}
    ]
    if action != "open" and req.note:
        blocks.append(_section(f"*{label}:* {escape(req.note)}"))
    if action == "open" or not req.note:
        lines = [escape(req.summary)] if req.summary else []
        if req.reasons:
            lines.append("_Why " + req.priority + ":_ " + escape("; ".join(req.reasons)))
        if lines:
            blocks.append(_section("\n".join(lines)))
    fields = [("Priority", req.priority), ("Status", req.status), ("Alerts", str(len(req.alerts)))]
    if req.team:
        fields.append(("Team", req.team))
    blocks.append(
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{escape(v)}"} for k, v in fields]}
    )
    if req.alerts and action != "resolve":
        blocks.append(_section(_alert_lines(req)))
    context = f"`{req.marker}`"
    if req.url:
        context += f" · <{escape(req.url)}|Open in triaged>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": f"{verb}[{req.priority}] {title} ({req.marker})", "blocks": blocks}


def escape(text: str) -> str:
    """Slack mrkdwn control characters (Slack's "Escaping text" rules)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _alert_lines(req: IncidentRequest) -> str:
    lines = []
    for a in req.alerts[:MAX_ALERTS]:
        line = f"• [{escape(a.status)}] *{escape(a.alertname)}*"
        lines.append(f"{line}: {escape(a.summary)}" if a.summary else line)
    if len(req.alerts) > MAX_ALERTS:
        lines.append(f"…and {len(req.alerts) - MAX_ALERTS} more")
    return "\n".join(lines)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, TEXT_LIMIT)}}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
