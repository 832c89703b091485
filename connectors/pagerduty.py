"""PagerDuty, Events API v2: one alert per triaged incident, keyed by ``dedup_key``.

Documented call used (developer.pagerduty.com, Events API v2 -> Send an Alert Event;
Overview -> Response Codes & Retry Logic; Events API Rate Limits):

- ``POST https://events.pagerduty.com/v2/enqueue`` (``endpoint``, configurable for a
  regional or proxy URL) with ``routing_key`` (the 32-character integration key: a
  secret, carried in the body, never in a header), ``event_action``
  (``trigger``/``acknowledge``/``resolve``), ``dedup_key`` = the marker, and for
  triggers ``payload.summary``/``source``/``severity`` (+ ``custom_details``, ``links``).
  Answers: 202 ``{"status": "success", "message": "Event processed", "dedup_key": ..}``;
  400 ``{"status": "invalid event", "message": .., "errors": [..]}``; 429 when over the
  rate limit (about 120 events/min per integration key; no Retry-After is documented, so
  delivery's backoff applies); 5xx. PagerDuty has no 401 here: an unknown or malformed
  routing key is a 400 naming the routing key, which this connector reports as
  ``ConnectorAuthError`` (a config problem, like a bad token).

Severity: PagerDuty has four levels, so ``DEFAULT_SEVERITIES`` maps P1 critical, P2 error,
P3 warning, P4 and P5 info (``severities`` overrides it). Status: ``open`` -> trigger,
``acknowledged`` -> trigger then acknowledge, ``resolved`` -> resolve.

Updates: the Events API cannot comment. An update is a new ``trigger`` with the same
``dedup_key``: PagerDuty appends it to the open alert's log (the note travels in
``custom_details.note``) and does not notify again. If someone resolved the alert in
PagerDuty meanwhile, that trigger opens a *new* alert (and pages): the incident is
still open in triaged.

Idempotency: PagerDuty deduplicates on ``dedup_key`` (deterministic: the marker) while the
alert is open. A create that timed out after PagerDuty accepted it is retried as the same
trigger and merges into the same alert, so no ``find_incident`` is needed, and none is
offered: the Events API has no read endpoint, and answering "found" without looking
would make a lost event look delivered (the ``Findable`` contract is "the ticket that
exists, or None"). A retried acknowledge/resolve is harmless; events for a resolved or
unknown ``dedup_key`` are dropped. The API is asynchronous: a 202 means accepted, not
processed (event rules may still suppress or drop the alert).

Healthcheck: there is nothing to read. It checks the routing key's format locally, then
sends a ``resolve`` for a probe ``dedup_key`` that never had an alert: PagerDuty drops it
without creating anything, but it still rejects a wrong key (400) or endpoint. It prefers
false positives: a 202 does not prove that the key's service routes anyone.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import aiohttp
from pydantic import Field, HttpUrl, SecretStr, field_validator

from connectors.base import PRIORITIES, ConnectorConfig, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected
from connectors.http import send

Severity = Literal["critical", "error", "warning", "info"]
DEFAULT_SEVERITIES: dict[str, Severity] = {
    "P1": "critical",
    "P2": "error",
    "P3": "warning",
    "P4": "info",
    "P5": "info",
}
EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_LIMIT = 1024
DEDUP_LIMIT = 255
ALERTS_IN_DETAILS = 50  # keeps the event far below the 512 KB payload limit
PROBE_DEDUP_KEY = "triaged-healthcheck-probe-no-such-alert"
_ROUTING_KEY = re.compile(r"[A-Za-z0-9]{32}")


class PagerDutyConfig(ConnectorConfig):
    """The Events API URL, the integration's routing key, and how events are labelled."""

    kind: Literal["pagerduty"] = "pagerduty"
    endpoint: HttpUrl = HttpUrl(EVENTS_URL)  # override for a proxy; the key is in the body
    routing_key: SecretStr
    source: str = Field(default="triaged", min_length=1)  # payload.source when no label names one
    source_label: str | None = "cluster"  # group label used as payload.source when present
    severities: dict[str, Severity] = DEFAULT_SEVERITIES

    @field_validator("severities")
    @classmethod
    def _known(cls, severities: dict[str, Severity]) -> dict[str, Severity]:
        """Every priority needs a severity: an event without one is invalid."""
        if set(severities) != set(PRIORITIES):
            raise ValueError("severities must map each of P1..P5")
        return severities


class PagerDutyConnector:
    """Triggers, acknowledges and resolves one PagerDuty alert per incident."""

    name = "pagerduty"
    Config = PagerDutyConfig

    def __init__(self, config: PagerDutyConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Trigger with ``dedup_key`` = marker; the key PagerDuty echoes is the reference."""
        answer = await self._event("open", self._trigger(req, req.marker[:DEDUP_LIMIT]))
        key = answer.get("dedup_key") if isinstance(answer, dict) else None
        return IncidentRef(key=str(key or req.marker[:DEDUP_LIMIT]))

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Trigger again (new severity, summary, note in the log); then acknowledge if asked."""
        await self._event("update", self._trigger(req, ref.key))
        if req.status == "acknowledged":
            await self._event("update", self._action("acknowledge", ref.key))

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Resolve the alert of ``ref.key``."""
        await self._event("resolve", self._action("resolve", ref.key))

    async def healthcheck(self) -> None:
        """Key format, then a resolve for a probe key with no alert (dropped by PagerDuty)."""
        if not _ROUTING_KEY.fullmatch(self.config.routing_key.get_secret_value()):
            raise ConnectorAuthError("pagerduty check: the routing key is not 32 letters and digits")
        await self._event("check", self._action("resolve", PROBE_DEDUP_KEY))

    def _trigger(self, req: IncidentRequest, dedup_key: str) -> dict[str, Any]:
        details: dict[str, Any] = {
            "priority": req.priority,
            "status": req.status,
            "summary": req.summary,
            "reasons": list(req.reasons),
            "incident_id": req.incident_id,
            "alert_count": len(req.alerts),
            "alerts": [
                {"alertname": a.alertname, "status": a.status, "summary": a.summary, "labels": a.labels}
                for a in req.alerts[:ALERTS_IN_DETAILS]
            ],
            "group_labels": req.group_labels,
        }
        if req.note:
            details["note"] = req.note
        payload: dict[str, Any] = {
            "summary": req.title[:SUMMARY_LIMIT],
            "source": self._source(req),
            "severity": self.config.severities[req.priority],
            "custom_details": details,
        }
        if req.team:
            payload["group"] = req.team
        if req.alerts:
            payload["class"] = req.alerts[0].alertname
        event = {**self._action("trigger", dedup_key), "payload": payload, "client": "triaged"}
        if req.url:
            event["client_url"] = req.url
            event["links"] = [{"href": req.url, "text": "Incident in triaged"}]
        return event

    def _action(self, action: str, dedup_key: str) -> dict[str, Any]:
        return {
            "routing_key": self.config.routing_key.get_secret_value(),
            "event_action": action,
            "dedup_key": dedup_key,
        }

    def _source(self, req: IncidentRequest) -> str:
        label = self.config.source_label
        return (req.group_labels.get(label) if label else None) or self.config.source

    async def _event(self, what: str, event: dict[str, Any]) -> Any:
        try:
            answer = await send(
                self.session,
                "POST",
                str(self.config.endpoint),
                what=f"pagerduty {what}",
                timeout=self.config.timeout,
                json=event,
            )
        except ConnectorRejected as err:
            # PagerDuty answers 400, not 401, to a wrong routing key: a credentials problem.
            text = str(err).lower()
            if err.status == 400 and ("routing_key" in text or "routing key" in text):
                raise ConnectorAuthError(str(err), status=400) from None
            raise
        body = answer.body
        if isinstance(body, dict) and body.get("status") not in (None, "success"):
            raise ConnectorRejected(f"pagerduty {what}: {body.get('status')}: {body.get('message', '')}")
        return body
