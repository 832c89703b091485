"""Bytes <-> domain objects for every store: one encoding, so stores stay interchangeable."""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping
from typing import Any

import msgspec
import orjson

from connectors.base import AlertLine, IncidentRef, IncidentRequest
from daemon.models import (
    ALERT_STATUS,
    INCIDENT_STATUS,
    AlertCounters,
    AlertState,
    Incident,
    IncidentAlert,
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


# Straight into the dataclasses, fields checked in C: 0.82 us an alert against 1.68 for
# orjson then ``from_json``. The pipeline decodes every intake entry the intake memo no
# longer holds: at 150,000 alerts a run that was 2.6-2.9 us of its ~50 us an alert.
_NOTIFICATION = msgspec.json.Decoder(Notification)


def decode_notification(raw: bytes) -> Notification:
    """The inverse of ``encode_notification``."""
    try:
        return _NOTIFICATION.decode(raw)
    except msgspec.DecodeError:
        # Types msgspec would not take (none triaged writes): the lenient reader, which
        # raises as it always did on bytes that are not an entry at all.
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
            "flips": s.flips,
            "suppressed": s.suppressed,
        }
    )


def decode_alert_state(raw: bytes) -> AlertState:
    """The inverse of ``encode_alert_state``."""
    d = orjson.loads(raw)
    d["status"] = ALERT_STATUS[d["status"]]
    return AlertState(**d)


def decode_alert_states(
    raws: Iterable[bytes | None], counters: Mapping[str, AlertCounters]
) -> Iterator[AlertState]:
    """The stored states (an absent one skipped), each with its stored counters applied:
    a store that keeps counters apart writes them on every change, the state not."""
    for raw in raws:
        if raw:
            state = decode_alert_state(raw)
            if (c := counters.get(state.fingerprint)) is not None:
                c.apply_to_alert(state)
            yield state


def encode_counters(c: AlertCounters) -> bytes:
    """What a repeat changes, kept apart from the alert's document (the Redis store)."""
    return dump([c.last_seen, c.receive_count, c.incident_id, c.member_count, c.member_last_seen])


def decode_counters(fingerprint: str, raw: bytes) -> AlertCounters:
    """The inverse of ``encode_counters``."""
    last_seen, receive_count, incident_id, member_count, member_last_seen = orjson.loads(raw)
    return AlertCounters(fingerprint, last_seen, receive_count, incident_id, member_count, member_last_seen)


def encode_incident(i: Incident) -> bytes:
    """An incident's fields (members and timeline are stored apart, to grow linearly)."""
    return dump(i.to_record())


def decode_incident(raw: bytes) -> Incident:
    """The inverse of ``encode_incident``."""
    d = orjson.loads(raw)
    d["status"] = INCIDENT_STATUS[d["status"]]
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
    d["status"] = ALERT_STATUS[d["status"]]
    return IncidentAlert(**d)


def encode_event(e: TimelineEvent) -> bytes:
    """One timeline event."""
    return dump(e.to_json())


def decode_event(raw: bytes) -> TimelineEvent:
    """The inverse of ``encode_event``."""
    d = orjson.loads(raw)
    return TimelineEvent(at=d["at"], kind=d["kind"], actor=d["actor"], detail=d["detail"])


_KIND = b',"kind":"'


def event_kind(raw: bytes) -> str:
    """An encoded event's kind, without decoding it: a storm incident's timeline holds one
    event per joining alert, and a reader that wants a few kinds should not decode them all.
    ``encode_event`` writes ``at`` (a number) first and ``kind`` second, so the first
    ``,"kind":"`` is the event's own; anything else (or an escaped kind) is decoded."""
    start = raw.find(_KIND, 0, 64)
    if start < 0 or not raw.startswith(b'{"at":'):
        return decode_event(raw).kind
    start += len(_KIND)
    kind = raw[start : raw.index(b'"', start)]
    return decode_event(raw).kind if b"\\" in kind else kind.decode()


def decode_events(raws: Iterable[bytes], kinds: Container[str] | None) -> list[TimelineEvent]:
    """The events of ``kinds`` (None: all) among ``raws``, in order."""
    if kinds is None:
        return [decode_event(r) for r in raws]
    return [decode_event(r) for r in raws if event_kind(r) in kinds]


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


def request_to_json(req: IncidentRequest) -> dict[str, Any]:
    """An outbox job's payload: the request as it was when the change happened."""
    return {
        "incident_id": req.incident_id,
        "title": req.title,
        "priority": req.priority,
        "status": req.status,
        "summary": req.summary,
        "alerts": [
            {
                "fingerprint": a.fingerprint,
                "alertname": a.alertname,
                "status": a.status,
                "summary": a.summary,
                "labels": a.labels,
                "generator_url": a.generator_url,
            }
            for a in req.alerts
        ],
        "group_labels": req.group_labels,
        "team": req.team,
        "url": req.url,
        "note": req.note,
        "reasons": list(req.reasons),
    }


def request_from_json(d: dict[str, Any]) -> IncidentRequest:
    """The inverse of ``request_to_json``."""
    return IncidentRequest(
        incident_id=d["incident_id"],
        title=d["title"],
        priority=d["priority"],
        status=d["status"],
        summary=d["summary"],
        alerts=tuple(AlertLine(**a) for a in d["alerts"]),
        group_labels=d["group_labels"],
        team=d["team"],
        url=d["url"],
        note=d["note"],
        reasons=tuple(d["reasons"]),
    )


def ref_to_json(ref: IncidentRef) -> dict[str, Any]:
    """A stored ticket reference."""
    return {"key": ref.key, "url": ref.url, "extra": ref.extra}


def ref_from_json(d: dict[str, Any]) -> IncidentRef:
    """The inverse of ``ref_to_json``."""
    return IncidentRef(key=d["key"], url=d.get("url", ""), extra=d.get("extra", {}))
