"""Microsoft Teams, through a Workflows (Power Automate) webhook: one Adaptive Card per change.

Documented call: ``POST <workflow URL>`` with ``{"type": "message", "attachments":
[{"contentType": "application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard 1.4>}]}``,
the body the "Send webhook alerts to a channel" template (trigger "When a Teams webhook
request is received") posts to the channel. The URL is a Logic Apps request trigger
(``https://<region>.logic.azure.com:443/workflows/<id>/triggers/manual/paths/invoke?...&sig=<SAS>``
or ``https://<env>.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/...``);
its ``sig`` is a shared-access signature, so the whole URL is a secret. The trigger answers
202 Accepted with an empty body: the flow then posts the card asynchronously, so a card the
flow fails to post is not reported back. Errors are ``{"error": {"code", "message"}}``: 401
``DirectApiAuthorizationRequired`` without a valid ``sig``, 404 when the flow is gone, 400 for
a request the trigger refuses, 429 with ``Retry-After`` when throttled (all via ``http.send``).

Notifications only, like Slack: ``open`` posts the incident, ``update`` a follow-up card with
the note and current priority, ``resolve`` a resolved card; the reference key is the marker,
shown in every card's facts. Not ``Findable``: a post that timed out after the trigger
accepted it is retried and the card shows twice (visible, harmless; a lost one would not be).

Config: ``webhook_url`` is a ``SecretStr``; ``endpoint`` (base type ``HttpUrl``) holds only its
origin, derived from the URL when omitted, and the URL must be on it (see ``slack.py``).
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import aiohttp

from connectors.base import IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected
from connectors.http import send
from connectors.webhook_url import SecretUrlConfig

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
TEXT_LIMIT = 2000
MAX_ALERTS = 15
COLOR = {"open": "Attention", "update": "Warning", "resolve": "Good"}


class TeamsConfig(SecretUrlConfig):
    """The workflow's HTTP URL (secret) and, optionally, its origin as ``endpoint``."""

    kind: Literal["teams"] = "teams"


class TeamsConnector:
    """Posts open, follow-up and resolved Adaptive Cards to one Teams channel."""

    name = "teams"
    Config = TeamsConfig

    def __init__(self, config: TeamsConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Post the incident card; its marker is the reference (the trigger returns no id)."""
        await self._post(message("open", req), "teams open")
        return IncidentRef(key=req.marker, url=req.url)

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Post a follow-up card with the note and the current priority."""
        await self._post(message("update", req), "teams update")

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Post the resolved card."""
        await self._post(message("resolve", req), "teams resolve")

    async def healthcheck(self) -> None:
        """Check the URL's shape (a workflow trigger with ``sig``), then GET it, which posts nothing.

        Workflows have no read call. The trigger only runs on POST: a GET with a valid
        signature is refused (400/405) without running the flow, a bad one answers 401/403,
        a deleted flow 404. Any other refusal passes: this check prefers a false "healthy"
        over failing a working webhook. Should a trigger accept GET, the flow runs on an
        empty body and its "for each attachment" step fails before posting anything.
        """
        parts = urlsplit(self.config.webhook_url.get_secret_value())
        if "/workflows/" not in parts.path:
            raise ConnectorRejected("teams check: webhook_url is not a Workflows trigger URL (/workflows/…)")
        if not parse_qs(parts.query).get("sig"):
            raise ConnectorAuthError("teams check: webhook_url has no sig= signature; copy the full URL")
        try:
            await send(
                self.session,
                "GET",
                self.config.webhook_url.get_secret_value(),
                what="teams check",
                timeout=self.config.timeout,
            )
        except ConnectorAuthError:
            raise
        except ConnectorRejected as err:
            if err.status == 404:
                raise ConnectorAuthError(
                    f"teams check: workflow unknown or deleted ({err})", status=404
                ) from None

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
    """The Teams message (one Adaptive Card 1.4 attachment) for one action."""
    verb = {"open": "", "update": "Update: ", "resolve": "Resolved: "}[action]
    label = {"open": "Note", "update": "Update", "resolve": "Resolved"}[action]
    title = " ".join(req.title.split())
    body: list[dict[str, Any]] = [
        _text(f"{verb}{req.priority} {title}", size="Large", weight="Bolder", color=COLOR[action])
    ]
    if action != "open" and req.note:
        body.append({**_text(f"**{label}:** {req.note}"), "id": "note"})
    if action == "open" or not req.note:
        if req.summary:
            body.append(_text(req.summary))
        if req.reasons:
            body.append(_text(f"Why {req.priority}: {'; '.join(req.reasons)}", isSubtle=True))
    facts = [("Priority", req.priority), ("Status", req.status), ("Alerts", str(len(req.alerts)))]
    if req.team:
        facts.append(("Team", req.team))
    facts.append(("Incident", req.marker))
    body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]})
    if req.alerts and action != "resolve":
        lines = [
            f"- [{a.status}] **{a.alertname}**" + (f": {a.summary}" if a.summary else "") for a in req.alerts
        ]
        if len(lines) > MAX_ALERTS:
            lines = [*lines[:MAX_ALERTS], f"- …and {len(lines) - MAX_ALERTS} more"]
        body.append(_text("\n".join(lines)))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if req.url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in triaged", "url": req.url}]
    attachment = {"contentType": CARD_TYPE, "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def _text(text: str, **style: Any) -> dict[str, Any]:
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - 1] + "…"
    return {"type": "TextBlock", "text": text, "wrap": True, **style}
