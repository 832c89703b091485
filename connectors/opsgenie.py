"""Opsgenie, Alert API v2: one alert per triaged incident, addressed by its ``alias``.

Documented calls used (docs.opsgenie.com, Alert API and Alert API (continued); every
call takes ``Authorization: GenieKey <key>``, ``endpoint`` is ``https://api.opsgenie.com``
or ``https://api.eu.opsgenie.com`` for EU accounts):

- ``POST /v2/alerts``: ``message`` (130 chars), ``alias`` = the marker (512),
  ``description`` (15000), ``priority`` P1..P5, ``tags``, ``details``, ``source``,
  ``user``, optional ``responders``.
- ``PUT /v2/alerts/{alias}/priority?identifierType=alias``.
- ``GET /v2/alerts/{alias}/notes?identifierType=alias&order=desc&limit=1`` and
  ``POST /v2/alerts/{alias}/notes?identifierType=alias`` (``note``, ``user``, ``source``).
- ``POST /v2/alerts/{alias}/acknowledge?identifierType=alias`` and
  ``POST /v2/alerts/{alias}/close?identifierType=alias``.
- ``GET /v2/alerts/requests/{requestId}``: the outcome of an accepted request.
- ``GET /v2/alerts/{alias}?identifierType=alias`` for ``find_incident`` (404: none).
- Healthcheck: ``GET /v2/alerts?limit=1``.

Asynchronous processing: create, note, priority, acknowledge and close answer 202
``{"result": "Request will be processed", "requestId": ...}``; the work happens later and
can still fail (e.g. "Alert does not exist"). So ``open_incident`` and
``resolve_incident`` poll the request status (404 until processed) for up to
``confirm_timeout`` seconds: a create that Opsgenie then refuses is reported, and later
calls addressed by alias do not race a create still in the queue. When the outcome does
not arrive in time the 202 is trusted. Update requests are not polled (documented gap).

Priority: Opsgenie uses the same P1..P5 scale, so ``DEFAULT_PRIORITIES`` is the identity
(overridable). Status: ``acknowledged`` -> acknowledge, ``resolved`` -> close.
Rate limits: 429 per request domain (alert, search), with ``X-RateLimit-*`` state headers
but no ``Retry-After``, so delivery's own backoff applies.

The key needs an API integration with read and create-and-update access: ``find`` and
the note check read, so the healthcheck's list call proves the key and read access; the
write rights cannot be proven without writing (false positives preferred).

Idempotency:

- **Create**: ``alias`` is the marker and Opsgenie keeps at most one *open* alert per
  alias: a repeated create while it is open only raises its count. After a timeout the
  delivery worker's retry calls ``find_incident`` (get by alias), so no second alert.
  Once someone closed the alert, a new create with the alias would open a new one.
- **Update**: the priority is an absolute value and acknowledging twice is harmless; the
  note is added only if the latest note is not that same text.
- **Resolve**: closing a closed alert is harmless; an alert deleted meanwhile counts as
  resolved.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, field_validator

from connectors.base import PRIORITIES, ConnectorConfig, IncidentRef, IncidentRequest
from connectors.errors import ConnectorRejected, ConnectorUnavailable
from connectors.http import Api

OpsgeniePriority = Literal["P1", "P2", "P3", "P4", "P5"]
DEFAULT_PRIORITIES: dict[str, OpsgeniePriority] = {p: p for p in ("P1", "P2", "P3", "P4", "P5")}
API_URL = "https://api.opsgenie.com"
MESSAGE_LIMIT = 130
ALIAS_LIMIT = 512
DESCRIPTION_LIMIT = 15000
NOTE_LIMIT = 25000
ALERT = "/v2/alerts"
BY_ALIAS = {"identifierType": "alias"}


class Responder(BaseModel):
    """A team, user, escalation or schedule to notify, by ``name`` (or ``id``/``username``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["team", "user", "escalation", "schedule"]
    name: str | None = None
    id: str | None = None
    username: str | None = None


class OpsgenieConfig(ConnectorConfig):
    """API region, integration key, and how alerts are routed and labelled."""

    kind: Literal["opsgenie"] = "opsgenie"
    endpoint: HttpUrl = HttpUrl(API_URL)  # https://api.eu.opsgenie.com for EU accounts
    api_key: SecretStr
    responders: list[Responder] = []  # empty: the integration's own team and rules route it
    tags: list[str] = ["triaged"]
    source: str = Field(default="triaged", max_length=100)
    user: str = Field(default="triaged", max_length=100)
    priorities: dict[str, OpsgeniePriority] = DEFAULT_PRIORITIES
    confirm_timeout: float = Field(default=5.0, ge=0, le=60)  # 0: trust every 202
    confirm_interval: float = Field(default=0.5, gt=0, le=10)
    web_url: HttpUrl | None = None  # e.g. https://acme.app.opsgenie.com, for ticket links

    @field_validator("priorities")
    @classmethod
    def _known(cls, priorities: dict[str, OpsgeniePriority]) -> dict[str, OpsgeniePriority]:
        """Only P1..P5 can be mapped; an unmapped one leaves Opsgenie's default (P3)."""
        if set(priorities) - set(PRIORITIES):
            raise ValueError(f"unknown priorities {sorted(set(priorities) - set(PRIORITIES))}")
        return priorities


class OpsgenieConnector:
    """Creates, updates and closes one Opsgenie alert per incident."""

    name = "opsgenie"
    Config = OpsgenieConfig

    def __init__(self, config: OpsgenieConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session
        self._base = str(config.endpoint).rstrip("/")
        self._client = Api(
            session,
            self._base,
            {"Authorization": f"GenieKey {config.api_key.get_secret_value()}"},
            config.timeout,
        )

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Create the alert with ``alias`` = marker; wait (bounded) for Opsgenie's verdict."""
        alias = req.marker[:ALIAS_LIMIT]
        alert: dict[str, Any] = {
            "message": req.title[:MESSAGE_LIMIT],
            "alias": alias,
            "description": req.description()[:DESCRIPTION_LIMIT],
            "tags": self.config.tags,
            "details": {"triaged_incident": req.incident_id, "alert_count": str(len(req.alerts))},
            "source": self.config.source,
            "user": self.config.user,
            **self._priority(req),
        }
        if req.url:
            alert["details"]["triaged_url"] = req.url
        if self.config.responders:
            alert["responders"] = [r.model_dump(exclude_none=True) for r in self.config.responders]
        request_id = await self._accepted("open", "POST", ALERT, alert)
        outcome = await self._confirm(request_id)
        if outcome is not None and not outcome.get("isSuccess", outcome.get("success")):
            raise ConnectorRejected(f"opsgenie open: refused after acceptance: {outcome.get('status', '?')}")
        return self._ref(alias, (outcome or {}).get("alertId"))

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Priority, then the note (once), then acknowledge when asked."""
        path = f"{ALERT}/{_quote(ref.key)}"
        priority = self._priority(req)
        if priority:
            await self._accepted("update", "PUT", f"{path}/priority", priority)
        if req.note and not await self._noted(path, req.note):
            await self._accepted("update", "POST", f"{path}/notes", self._action(req.note))
        if req.status == "acknowledged":
            await self._accepted("update", "POST", f"{path}/acknowledge", self._action(""))

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Close the alert (with the note); a failure is checked against the alert itself."""
        path = f"{ALERT}/{_quote(ref.key)}"
        note = req.note or "Resolved in triaged: every alert of the incident resolved."
        try:
            request_id = await self._accepted("resolve", "POST", f"{path}/close", self._action(note))
        except ConnectorRejected as err:
            if err.status == 404:  # deleted: nothing to close
                return
            raise
        outcome = await self._confirm(request_id)
        if outcome is None or outcome.get("isSuccess", outcome.get("success")):
            return
        alert = await self._get_alert(ref.key, "resolve")
        if alert is not None and alert.get("status") != "closed":
            raise ConnectorRejected(f"opsgenie resolve: close refused: {outcome.get('status', '?')}")

    async def find_incident(self, req: IncidentRequest) -> IncidentRef | None:
        """The alert whose alias is the marker (Opsgenie returns the current one)."""
        alias = req.marker[:ALIAS_LIMIT]
        alert = await self._get_alert(alias, "find")
        if alert is None or alert.get("alias") != alias:
            return None
        return self._ref(alias, alert.get("id"))

    async def healthcheck(self) -> None:
        """The key is valid and may read alerts (list one); write access is not provable."""
        await self._send("check", "GET", ALERT, params={"limit": "1"})

    async def _get_alert(self, alias: str, what: str) -> dict[str, Any] | None:
        try:
            body = await self._send(what, "GET", f"{ALERT}/{_quote(alias)}", params=BY_ALIAS)
        except ConnectorRejected as err:
            if err.status == 404:
                return None
            raise
        data = body.get("data") if isinstance(body, dict) else None
        return data if isinstance(data, dict) else None

    async def _noted(self, path: str, note: str) -> bool:
        """Whether the latest note of the alert already is this note."""
        params = {**BY_ALIAS, "order": "desc", "limit": "1"}
        try:
            body = await self._send("update", "GET", f"{path}/notes", params=params)
        except ConnectorRejected as err:
            if err.status == 404:
                return False
            raise
        notes = body.get("data") if isinstance(body, dict) else None
        if not isinstance(notes, list) or not notes or not isinstance(notes[0], dict):
            return False
        return str(notes[0].get("note", "")).strip() == note[:NOTE_LIMIT].strip()

    async def _accepted(self, what: str, method: str, path: str, body: dict[str, Any]) -> str | None:
        """Send an asynchronous request; its ``requestId`` (for ``_confirm``)."""
        params = None if path == ALERT else BY_ALIAS
        answer = await self._send(what, method, path, json=body, params=params)
        request_id = answer.get("requestId") if isinstance(answer, dict) else None
        return str(request_id) if request_id else None

    async def _confirm(self, request_id: str | None) -> dict[str, Any] | None:
        """The processed request's status, or None if it is not known in time.

        The 202 already means accepted, so a status we cannot fetch (404 until processed,
        a timeout, a rate limit) is not an error: the caller trusts the 202.
        """
        if not request_id or self.config.confirm_timeout <= 0:
            return None
        deadline = time.monotonic() + self.config.confirm_timeout
        while True:
            try:
                body = await self._send("confirm", "GET", f"{ALERT}/requests/{request_id}")
            except ConnectorUnavailable:
                return None
            except ConnectorRejected as err:
                if err.status != 404:
                    raise
            else:
                data = body.get("data") if isinstance(body, dict) else None
                if isinstance(data, dict):
                    return data
            if time.monotonic() + self.config.confirm_interval > deadline:
                return None
            await asyncio.sleep(self.config.confirm_interval)

    async def _send(
        self,
        what: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        answer = await self._client.call(method, path, f"opsgenie {what}", json=json, params=params)
        return answer.body

    def _action(self, note: str) -> dict[str, str]:
        body = {"user": self.config.user, "source": self.config.source}
        return {**body, "note": note[:NOTE_LIMIT]} if note else body

    def _priority(self, req: IncidentRequest) -> dict[str, str]:
        priority = self.config.priorities.get(req.priority)
        return {"priority": priority} if priority else {}

    def _ref(self, alias: str, alert_id: Any) -> IncidentRef:
        extra = {"alert_id": str(alert_id)} if alert_id else {}
        url = ""
        if alert_id and self.config.web_url is not None:
            url = f"{str(self.config.web_url).rstrip('/')}/alert/detail/{alert_id}/details"
        return IncidentRef(key=alias, url=url, extra=extra)


def _quote(identifier: str) -> str:
    """An alias in a URL path: every reserved character escaped (aliases are free text)."""
    return quote(identifier, safe="")
