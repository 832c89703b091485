"""Opsgenie outgoing Webhook integration -> inbound events.

Documented by Atlassian (Opsgenie docs, "Webhook integration"): Opsgenie posts
``{"action", "alert": {"alertId", "alias", "tinyId", "message", "username", "userId",
"createdAt", "updatedAt", "priority", "note", ...}, "source": {"name", "type"},
"integrationName", "integrationId", "integrationType"}`` for the alert actions the
integration is set to forward. It signs nothing; the integration's *custom headers* are
sent as configured, so triaged expects ``Authorization: Bearer <inbound_secret>``.

Used: ``Acknowledge`` (acknowledge), ``Close`` (resolve), ``AddNote`` (note,
``alert.note``), ``UpdatePriority`` (priority, ``alert.priority`` P1..P5). ``ref`` is the
alert's ``alias``, what ``OpsgenieConnector`` stores as ``IncidentRef.key`` (the marker).
Opsgenie sends no delivery id: the event id is ``<alertId>:<action>:<updatedAt>``
(a retry repeats the same alert state), or a digest of the body without ``updatedAt``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from connectors.inbound.base import Action, InboundEvent
from connectors.inbound.common import (
    bearer,
    body_digest,
    check_token,
    epoch,
    load_object,
    obj,
    priority_from_label,
    require_secret,
    required,
    text,
)

KIND = "opsgenie"
_ACTIONS: dict[str, Action] = {
    "Acknowledge": "acknowledge",
    "Close": "resolve",
    "AddNote": "note",
    "UpdatePriority": "priority",
}


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> list[InboundEvent]:
    """Check the bearer token, then map one alert action."""
    check_token(bearer(headers), require_secret(secret, KIND), KIND)
    payload = load_object(body, KIND)
    name = text(payload, "action")
    action = _ACTIONS.get(name)
    if action is None:
        return []  # Create (triaged's own), Delete, AddTag, custom actions, ...
    alert = obj(payload, "alert")
    ref = required(alert, "alias", "alert")
    stamp = alert.get("updatedAt") if alert.get("updatedAt") is not None else alert.get("createdAt")
    at = epoch(stamp, "alert.updatedAt")
    updated = text(alert, "updatedAt")
    event_id = f"{text(alert, 'alertId')}:{name}:{updated}" if updated else body_digest(body)
    event = InboundEvent(KIND, ref, action, event_id, at, text(alert, "username"))
    if action == "note":
        note = text(alert, "note")
        return [replace(event, text=note)] if note.strip() else []
    if action == "priority":
        level = priority_from_label(text(alert, "priority"))
        return [replace(event, priority=level)] if level else []
    return [event]
