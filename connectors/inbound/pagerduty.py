"""PagerDuty Webhooks v3 (webhook subscriptions) -> inbound events.

Documented by PagerDuty (developer.pagerduty.com, Webhooks v3 Overview, Verifying
Signatures, Behavior): one event per delivery, ``{"event": {"id", "event_type",
"occurred_at", "agent", "data"}}``; ``X-PagerDuty-Signature`` holds one or more
comma-separated ``v1=<hex HMAC-SHA256 of the body>`` (one per active secret, during a
rotation); ``event.id`` is unique per event and repeated on every retry.

Used: ``incident.acknowledged`` (acknowledge), ``incident.resolved`` (resolve),
``incident.reopened`` (reopen), ``incident.priority_updated`` (priority, from the
priority's name when it ends in P1..P5, as PagerDuty's default priorities are named),
``incident.reassigned`` (assign: first assignee), ``incident.delegated`` (assign: the
incident's first team, else its escalation policy), ``incident.annotated`` (note).

``ref``: triaged sends Events API v2 with ``dedup_key`` = its marker, which is what the
connector stores; the incident PagerDuty opens from that alert carries it as
``incident_key``, so incident events use ``data.incident_key`` (``data.id`` if absent).
An ``incident.annotated`` event only names the incident by PagerDuty id
(``data.incident.id``), which triaged never learned from the Events API: its ``ref`` is
that id, and the daemon can match it only if it remembers ids seen in earlier events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from connectors.inbound.base import Action, InboundEvent
from connectors.inbound.common import (
    check_signature,
    header,
    hmac_sha256_hex,
    iso_time,
    items,
    load_object,
    obj,
    priority_from_label,
    require_secret,
    required,
    text,
)

KIND = "pagerduty"
_STATES: dict[str, Action] = {
    "incident.acknowledged": "acknowledge",
    "incident.resolved": "resolve",
    "incident.reopened": "reopen",
}


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> list[InboundEvent]:
    """Verify one of the ``v1`` signatures, then map the delivery's single event."""
    key = require_secret(secret, KIND)
    signatures = [s.strip() for s in header(headers, "X-PagerDuty-Signature").split(",")]
    check_signature([s[3:] for s in signatures if s.startswith("v1=")], hmac_sha256_hex(key, body), KIND)
    event = obj(load_object(body, KIND), "event")
    kind = text(event, "event_type")
    data = obj(event, "data")
    if kind not in _STATES and kind not in _OTHERS and kind != "incident.annotated":
        return []  # incident.triggered (triaged caused it), service.*, responders, ...
    event_id = required(event, "id", "event")
    at = iso_time(required(event, "occurred_at", "event"), "event.occurred_at")
    actor = text(obj(event, "agent"), "summary")
    if kind == "incident.annotated":
        ref = required(obj(data, "incident"), "id", "data.incident")
        note = text(data, "content")
        return [InboundEvent(KIND, ref, "note", event_id, at, actor, text=note)] if note.strip() else []
    ref = text(data, "incident_key").strip() or required(data, "id", "data")
    base = InboundEvent(KIND, ref, "acknowledge", event_id, at, actor)
    if kind in _STATES:
        # resolve_reason is null, or an object when the incident was merged: never text we show.
        return [replace(base, action=_STATES[kind])]
    return _OTHERS[kind](base, data)


def _priority(base: InboundEvent, data: Mapping[str, Any]) -> list[InboundEvent]:
    level = priority_from_label(text(obj(data, "priority"), "summary"))
    return [replace(base, action="priority", priority=level)] if level else []


def _reassigned(base: InboundEvent, data: Mapping[str, Any]) -> list[InboundEvent]:
    names = [text(a, "summary") for a in items(data, "assignees") if isinstance(a, dict)]
    names = [n for n in names if n]
    return [replace(base, action="assign", assignee=names[0])] if names else []


def _delegated(base: InboundEvent, data: Mapping[str, Any]) -> list[InboundEvent]:
    teams = [text(t, "summary") for t in items(data, "teams") if isinstance(t, dict)]
    team = next((t for t in teams if t), "") or text(obj(data, "escalation_policy"), "summary")
    return [replace(base, action="assign", team=team)] if team else []


_OTHERS = {
    "incident.priority_updated": _priority,
    "incident.reassigned": _reassigned,
    "incident.delegated": _delegated,
}
