"""The domain model every stage and store speaks: alerts, incidents, timeline events."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from daemon.timeparse import iso

# Incident priorities, most urgent first (ITIL P1..P5): what config, API and rules accept.
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")


def check_priority(value: str) -> str:
    """A priority from config (pydantic validators call this)."""
    if value not in PRIORITIES:
        raise ValueError(f"expected one of {', '.join(PRIORITIES)}, got {value!r}")
    return value


class AlertStatus(StrEnum):
    """What the sender says of the alert."""

    FIRING = "firing"
    RESOLVED = "resolved"


class IncidentStatus(StrEnum):
    """An incident's lifecycle state."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# Stored value -> member by dictionary: calling the Enum costs ~0.5 us, on every decoded record.
ALERT_STATUS: dict[str, AlertStatus] = {s.value: s for s in AlertStatus}
INCIDENT_STATUS: dict[str, IncidentStatus] = {s.value: s for s in IncidentStatus}


@dataclass(slots=True, frozen=True)
class Alert:
    """One alert as one sender reported it once; immutable so stages cannot corrupt each other.

    Times are Unix seconds (floats): cheaper to compare and store than datetimes, and
    Alertmanager's zero time ("0001-01-01T00:00:00Z") maps to ``None``.
    """

    fingerprint: str
    source: str
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float | None
    ends_at: float | None
    generator_url: str
    received_at: float

    def to_json(self) -> dict[str, Any]:
        """A plain mapping for storage and the API."""
        return {
            "fingerprint": self.fingerprint,
            "source": self.source,
            "status": self.status.value,
            "labels": self.labels,
            "annotations": self.annotations,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "generator_url": self.generator_url,
            "received_at": self.received_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        """The inverse of ``to_json``: intake entries are stored in that shape."""
        # Positional: the pipeline decodes every intake entry the intake memo no longer holds.
        return cls(
            data["fingerprint"],
            data["source"],
            ALERT_STATUS[data["status"]],
            data["labels"],
            data["annotations"],
            data["starts_at"],
            data["ends_at"],
            data["generator_url"],
            data["received_at"],
        )


@dataclass(slots=True, frozen=True)
class Notification:
    """One accepted webhook: its alerts plus what the sender said of the group as a whole.

    ``truncated_alerts`` is Alertmanager's count of alerts it left out (``max_alerts``);
    keeping it lets an SRE see that the incident holds fewer alerts than really fire.
    """

    source: str
    received_at: float
    alerts: tuple[Alert, ...]
    group_key: str = ""
    truncated_alerts: int = 0
    receiver: str = ""

    def to_json(self) -> dict[str, Any]:
        """The shape stored in the intake."""
        return {
            "source": self.source,
            "received_at": self.received_at,
            "alerts": [a.to_json() for a in self.alerts],
            "group_key": self.group_key,
            "truncated_alerts": self.truncated_alerts,
            "receiver": self.receiver,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        """The inverse of ``to_json``."""
        return cls(
            source=data["source"],
            received_at=data["received_at"],
            alerts=tuple([Alert.from_json(a) for a in data["alerts"]]),
            group_key=data.get("group_key", ""),
            truncated_alerts=data.get("truncated_alerts", 0),
            receiver=data.get("receiver", ""),
        )


@dataclass(slots=True)
class AlertState:
    """What triaged remembers of one fingerprint between notifications."""

    fingerprint: str
    source: str
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float | None
    ends_at: float | None
    generator_url: str
    first_seen: float
    last_seen: float
    receive_count: int
    fire_count: int
    incident_id: str | None
    # Times of its recent fire/resolve changes (bounded): flapping is judged on these.
    flips: list[float] = field(default_factory=list)
    # Why it opened no incident (silence, maintenance window, inhibition), if it didn't.
    suppressed: str | None = None


class AlertCounters(NamedTuple):
    """What a repeat changes: an alert's counters and those of its membership in its incident.

    Kept apart by the embedded store, so that a repeat rewrites a short row instead of
    the alert's and the membership's whole documents.
    """

    fingerprint: str
    last_seen: float
    receive_count: int
    incident_id: str | None  # None: no membership counters
    member_count: int | None
    member_last_seen: float | None

    def apply_to_alert(self, state: AlertState) -> None:
        """These counters are the latest: they replace the document's."""
        state.last_seen = self.last_seen
        state.receive_count = self.receive_count

    def apply_to_member(self, incident_id: str, member: IncidentAlert) -> None:
        """Replace the membership's counters when these are of that membership."""
        if self.incident_id == incident_id and self.member_count is not None:
            member.count = self.member_count
            if self.member_last_seen is not None:
                member.last_seen = self.member_last_seen


@dataclass(slots=True)
class TimelineEvent:
    """One line of an incident's history: what happened, when, who did it, and why."""

    at: float
    kind: str
    actor: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored shape (times as Unix seconds)."""
        return {"at": self.at, "kind": self.kind, "actor": self.actor, "detail": self.detail}

    def view(self) -> dict[str, Any]:
        """The API shape (time as RFC 3339)."""
        return {"at": iso(self.at), "kind": self.kind, "actor": self.actor, "detail": self.detail}


@dataclass(slots=True)
class IncidentAlert:
    """An alert's membership in an incident, with its state as last reported."""

    fingerprint: str
    status: AlertStatus
    count: int
    first_seen: float
    last_seen: float
    alertname: str


@dataclass(slots=True)
class Incident:
    """A group of related alerts that SREs handle as one piece of work."""

    id: str
    group_key: str
    title: str
    status: IncidentStatus
    priority: str
    reasons: list[str]
    opened_at: float
    last_seen: float
    alert_count: int
    firing_count: int
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    truncated_alerts: int = 0
    group_labels: dict[str, str] = field(default_factory=dict)
    team: str | None = None
    external: dict[str, Any] = field(default_factory=dict)
    # Bumped each time trackers are told of a change: part of outbox idempotency keys.
    revision: int = 0
    # What correlation knows of it: likely cause, entities, flapping alerts, storm
    # summary, merged-into; small and bounded (see daemon/stages/correlate.py).
    correlation: dict[str, Any] = field(default_factory=dict)
    # Routing and escalation state: connectors, policy, next step and when it is due,
    # assignee, tracker events already applied (bounded).
    lifecycle: dict[str, Any] = field(default_factory=dict)
    # Kept by correlation as alerts join and report, so that the KPIs read the record, not
    # every alert (``daemon/reports/kpi_metrics.py``): reports received (the sum of its
    # alerts' counts), the earliest start of an alert when it joined, the first service
    # label seen. None on incidents stored before they existed (the KPIs then read alerts).
    notifications: int | None = None
    first_alert_at: float | None = None
    service: str | None = None

    def deferrals(self) -> list[tuple[str, float]]:
        """When the upkeep must look at it again, by kind: a delayed resolution
        (``resolve``), the next escalation step of an unacknowledged one (``escalate``).
        The stores index these with the document, so the upkeep reads what is due rather
        than every open incident."""
        if self.status is IncidentStatus.RESOLVED:
            return []
        found = []
        if (after := self.correlation.get("resolve_after")) is not None:
            found.append(("resolve", float(after)))
        if self.status is IncidentStatus.OPEN and (at := self.lifecycle.get("escalate_at")) is not None:
            found.append(("escalate", float(at)))
        return found

    def summary_json(self) -> dict[str, Any]:
        """The list-view shape of the API: times as RFC 3339 strings."""
        body = self.to_record()
        for key in ("opened_at", "last_seen", "acknowledged_at", "resolved_at", "first_alert_at"):
            body[key] = iso(body[key])
        return body

    def to_record(self) -> dict[str, Any]:
        """Every field, times as Unix seconds: the stored shape (``Incident(**record)``)."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "priority": self.priority,
            "reasons": self.reasons,
            "group_key": self.group_key,
            "group_labels": self.group_labels,
            "alert_count": self.alert_count,
            "firing_count": self.firing_count,
            "truncated_alerts": self.truncated_alerts,
            "opened_at": self.opened_at,
            "last_seen": self.last_seen,
            "acknowledged_at": self.acknowledged_at,
            "resolved_at": self.resolved_at,
            "team": self.team,
            "external": self.external,
            "revision": self.revision,
            "correlation": self.correlation,
            "lifecycle": self.lifecycle,
            "notifications": self.notifications,
            "first_alert_at": self.first_alert_at,
            "service": self.service,
        }


_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as ULIDs use


def new_incident_id(now: float | None = None) -> str:
    """A ULID-style id: sortable by creation time, unique across replicas without coordination."""
    ms = int((time.time() if now is None else now) * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ID_ALPHABET[value & 31])
        value >>= 5
    return "inc_" + "".join(reversed(chars))


@dataclass(slots=True, frozen=True)
class OutboxJob:
    """One delivery to a tracker, enqueued in the same commit as the change that caused it.

    ``idempotency_key`` is (incident, connector, action[, revision]): enqueuing the same
    key twice, from a retry or a second replica, stores one job.
    """

    idempotency_key: str
    incident_id: str
    connector: str
    action: str
    created_at: float
    payload: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored shape."""
        return {
            "idempotency_key": self.idempotency_key,
            "incident_id": self.incident_id,
            "connector": self.connector,
            "action": self.action,
            "created_at": self.created_at,
            "payload": self.payload,
        }
