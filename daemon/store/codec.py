"""Bytes <-> domain objects for every store: one encoding, so stores stay interchangeable."""

from __future__ import annotations

from typing import Any

import orjson

from daemon.models import (
    AlertState,
    AlertStatus,
    Incident,
    IncidentAlert,
    IncidentStatus,
    Notification,
    OutboxJob,
    TimelineEvent,
)
from daemon.timeparse import iso


def dump(value: Any) -> bytes:
    """orjson, because the intake encodes every accepted alert on the hot path."""
    return orjson.dumps(value)


def encode_notification(n: Notification) -> bytes:
    """An intake entry's body."""
    return dump(n.to_json())


def decode_notification(raw: bytes) -> Notification:
    """The inverse of ``encode_notification``."""
    return Notification.from_json(orjson.loads(raw))


def encode_alert_state(s: AlertState) -> bytes:
    """An alert's remembered state."""
    return dump(
        {
            "fingerprint": s.fingerprint,
            "source": s.source,
            "status": s.status.value,
            "labels": s.labels,
            "annotations": s.annotations,
            "starts_at": s.starts_at,
            "ends_at": s.ends_at,
            "generator_url": s.generator_url,
            "first_seen": s.first_seen,
            "last_seen": s.last_seen,
            "receive_count": s.receive_count,
            "fire_count": s.fire_count,
            "incident_id": s.incident_id,
        }
    )


def decode_alert_state(raw: bytes) -> AlertState:
    """The inverse of ``encode_alert_state``."""
    d = orjson.loads(raw)
    d["status"] = AlertStatus(d["status"])
    return AlertState(**d)


def encode_incident(i: Incident) -> bytes:
    """An incident's fields (members and timeline are stored apart, to grow linearly)."""
    return dump(i.to_record())


def decode_incident(raw: bytes) -> Incident:
    """The inverse of ``encode_incident``."""
    d = orjson.loads(raw)
    d["status"] = IncidentStatus(d["status"])
    return Incident(**d)


def encode_member(m: IncidentAlert) -> bytes:
    """An alert's membership in an incident."""
    return dump(
        {
            "fingerprint": m.fingerprint,
            "status": m.status.value,
            "count": m.count,
            "first_seen": m.first_seen,
            "last_seen": m.last_seen,
            "alertname": m.alertname,
        }
    )


def decode_member(raw: bytes) -> IncidentAlert:
    """The inverse of ``encode_member``."""
    d = orjson.loads(raw)
    d["status"] = AlertStatus(d["status"])
    return IncidentAlert(**d)


def encode_event(e: TimelineEvent) -> bytes:
    """One timeline event."""
    return dump(e.to_json())


def decode_event(raw: bytes) -> TimelineEvent:
    """The inverse of ``encode_event``."""
    d = orjson.loads(raw)
    return TimelineEvent(at=d["at"], kind=d["kind"], actor=d["actor"], detail=d["detail"])


def alert_view(member: IncidentAlert, state: AlertState | None) -> dict[str, Any]:
    """An incident's alert as the API shows it: membership plus the alert's last report."""
    view: dict[str, Any] = {
        "fingerprint": member.fingerprint,
        "status": member.status.value,
        "count": member.count,
        "first_seen": iso(member.first_seen),
        "last_seen": iso(member.last_seen),
        "alertname": member.alertname,
    }
    if state is not None:
        view.update(
            {
                "labels": state.labels,
                "annotations": state.annotations,
                "starts_at": iso(state.starts_at),
                "ends_at": iso(state.ends_at),
                "generator_url": state.generator_url,
                "source": state.source,
            }
        )
    return view


def decode_outbox(raw: bytes) -> OutboxJob:
    """A stored delivery job."""
    return OutboxJob(**orjson.loads(raw))
