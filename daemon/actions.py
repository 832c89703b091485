"""A person's actions on an incident beyond ack/resolve: reopen, note, priority, reassign,
and the same actions arriving from a tracker's webhook (two-way sync).

Each is one ``store.update_incident`` under the pipeline's lock: the change, its
timeline entry (actor and time) and the deliveries that tell the trackers commit
together. A tracker's own change is not echoed back to that tracker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from daemon.errors import Conflict, NotFound, PayloadError
from daemon.incident_state import acknowledge as acknowledge_incident
from daemon.incident_state import reopen as reopen_incident
from daemon.incident_state import resolve as resolve_incident
from daemon.models import PRIORITIES, Incident, IncidentStatus, TimelineEvent
from daemon.workset import WorkSet

if TYPE_CHECKING:
    from daemon.pipeline import Pipeline

log = structlog.get_logger(__name__)
MAX_REMEMBERED_EVENTS = 50


async def _act(
    pipeline: Pipeline,
    incident_id: str,
    change: Callable[[WorkSet, Incident, float], bool],
    origin: str | None = None,
) -> Incident:
    def apply(ws: WorkSet) -> Incident:
        incident = ws.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id}")
        if change(ws, incident, time.time()):
            ws.touch_incident(incident)
            pipeline.router.route(ws, {}, skip=origin)
        return incident

    async with pipeline.lock:
        return await pipeline.store.update_incident(incident_id, apply)


async def reopen(
    pipeline: Pipeline, incident_id: str, actor: str, note: str = "", origin: str | None = None
) -> Incident:
    """Open a resolved incident again; escalation starts over."""

    def change(ws: WorkSet, incident: Incident, now: float) -> bool:
        if incident.status is not IncidentStatus.RESOLVED:
            return False
        if incident.correlation.get("merged_into"):
            raise Conflict(f"incident {incident_id} was merged into {incident.correlation['merged_into']}")
        reopen_incident(ws, incident, now, actor, note or f"reopened by {actor}")
        pipeline.lifecycle.restart(incident, now)
        return True

    incident = await _act(pipeline, incident_id, change, origin)
    log.info("incident_reopened", incident=incident_id, actor=actor)
    return incident


async def add_note(
    pipeline: Pipeline, incident_id: str, actor: str, note: str, origin: str | None = None
) -> Incident:
    """A comment on the incident, passed to its trackers."""
    if not note.strip():
        raise PayloadError("a note needs text")

    def change(ws: WorkSet, incident: Incident, now: float) -> bool:
        ws.add_event(incident.id, TimelineEvent(now, "note", actor, {"note": note[:10_000]}))
        return True

    return await _act(pipeline, incident_id, change, origin)


async def set_priority(
    pipeline: Pipeline, incident_id: str, actor: str, priority: str, note: str = "", origin: str | None = None
) -> Incident:
    """A person's priority wins over the model and the rules, and says so."""
    if priority not in PRIORITIES:
        raise PayloadError(f"priority must be one of {', '.join(PRIORITIES)}, got {priority!r}")

    def change(ws: WorkSet, incident: Incident, now: float) -> bool:
        if incident.priority == priority:
            return False
        old = incident.priority
        incident.priority = priority
        incident.reasons = [
            *incident.reasons,
            f"set to {priority} by {actor}" + (f": {note}" if note else ""),
        ]
        detail = {"from": old, "to": priority, **({"note": note} if note else {})}
        ws.add_event(incident.id, TimelineEvent(now, "priority_changed", actor, detail))
        return True

    return await _act(pipeline, incident_id, change, origin)


async def assign(
    pipeline: Pipeline,
    incident_id: str,
    actor: str,
    team: str | None,
    assignee: str | None,
    note: str = "",
    origin: str | None = None,
) -> Incident:
    """Hand the incident to a team and/or a person."""
    if not team and not assignee:
        raise PayloadError("give a team, an assignee, or both")

    def change(ws: WorkSet, incident: Incident, now: float) -> bool:
        before = {"team": incident.team, "assignee": incident.lifecycle.get("assignee")}
        after = {"team": team or incident.team, "assignee": assignee or before["assignee"]}
        if after == before:
            return False
        incident.team = after["team"]
        if assignee:
            incident.lifecycle["assignee"] = assignee
        detail: dict[str, Any] = {"from": before, "to": after, **({"note": note} if note else {})}
        ws.add_event(incident.id, TimelineEvent(now, "reassigned", actor, detail))
        return True

    return await _act(pipeline, incident_id, change, origin)


async def apply_inbound(pipeline: Pipeline, incident_id: str, connector: str, event: Any) -> None:
    """A tracker's change (``connectors.inbound.InboundEvent``), applied once per event id."""
    actor = f"{connector}:{event.actor}" if getattr(event, "actor", "") else connector
    event_id = str(getattr(event, "event_id", "") or "")
    handler = _INBOUND.get(event.action)
    if handler is None:
        return

    def change(ws: WorkSet, incident: Incident, now: float) -> bool:
        remembered: list[str] = incident.lifecycle.setdefault("inbound_events", [])
        if event_id and event_id in remembered:
            return False  # a redelivered webhook: already applied
        if event_id:
            remembered.append(event_id)
            del remembered[:-MAX_REMEMBERED_EVENTS]
        handler(pipeline, ws, incident, now, actor, connector, event)
        return True

    await _act(pipeline, incident_id, change, origin=connector)


_Handler = Callable[["Pipeline", WorkSet, Incident, float, str, str, Any], None]


def _in_ack(p: Pipeline, ws: WorkSet, incident: Incident, now: float, actor: str, via: str, e: Any) -> None:
    if incident.status is IncidentStatus.OPEN:
        p.lifecycle.stop(incident)
        acknowledge_incident(ws, incident, now, actor, {"via": via})


def _in_resolve(
    p: Pipeline, ws: WorkSet, incident: Incident, now: float, actor: str, via: str, e: Any
) -> None:
    if incident.status is not IncidentStatus.RESOLVED:
        p.lifecycle.stop(incident)
        resolve_incident(ws, incident, now, now, actor, {"via": via})


def _in_reopen(
    p: Pipeline, ws: WorkSet, incident: Incident, now: float, actor: str, via: str, e: Any
) -> None:
    if incident.status is IncidentStatus.RESOLVED and not incident.correlation.get("merged_into"):
        reopen_incident(ws, incident, now, actor, f"reopened in {via}")
        p.lifecycle.restart(incident, now)


def _in_note(p: Pipeline, ws: WorkSet, incident: Incident, now: float, actor: str, via: str, e: Any) -> None:
    text = str(getattr(e, "text", "") or "")
    if text:
        ws.add_event(incident.id, TimelineEvent(now, "note", actor, {"note": text[:10_000], "via": via}))


def _in_priority(
    p: Pipeline, ws: WorkSet, incident: Incident, now: float, actor: str, via: str, e: Any
) -> None:
    new = getattr(e, "priority", None)
    if new in PRIORITIES and new != incident.priority:
        detail = {"from": incident.priority, "to": new, "via": via}
        incident.priority = str(new)
        incident.reasons = [*incident.reasons, f"set to {new} in {via} by {actor}"]
        ws.add_event(incident.id, TimelineEvent(now, "priority_changed", actor, detail))


def _in_assign(
    p: Pipeline, ws: WorkSet, incident: Incident, now: float, actor: str, via: str, e: Any
) -> None:
    team, assignee = getattr(e, "team", None), getattr(e, "assignee", None)
    if team:
        incident.team = team
    if assignee:
        incident.lifecycle["assignee"] = assignee
    if team or assignee:
        detail = {"to": {"team": team, "assignee": assignee}, "via": via}
        ws.add_event(incident.id, TimelineEvent(now, "reassigned", actor, detail))


_INBOUND: dict[str, _Handler] = {
    "acknowledge": _in_ack,
    "resolve": _in_resolve,
    "reopen": _in_reopen,
    "note": _in_note,
    "priority": _in_priority,
    "assign": _in_assign,
}
