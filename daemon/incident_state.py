"""An incident's status transitions, one function each, whoever causes them.

The correlator (alerts resolved or re-fired), the upkeep (a delay ran out, a merge), a
person through the API, and a tracker's webhook all change status the same way: the
group pointer, the timestamps and the timeline entry stay consistent because there
is one place that writes them.
"""

from __future__ import annotations

from typing import Any

from daemon.models import Incident, IncidentStatus, TimelineEvent
from daemon.workset import WorkSet


def acknowledge(ws: WorkSet, incident: Incident, now: float, actor: str, detail: dict[str, Any]) -> None:
    """Someone is on it (escalation is the caller's to stop)."""
    incident.status = IncidentStatus.ACKNOWLEDGED
    incident.acknowledged_at = now
    ws.touch_incident(incident)
    ws.add_event(incident.id, TimelineEvent(now, "acknowledged", actor, detail))


def resolve(
    ws: WorkSet, incident: Incident, at: float, now: float, actor: str, detail: dict[str, Any]
) -> None:
    """Resolve an incident and free its group for the next outage.

    ``at`` is when it ended (a sender's end time may be long before ``now``, when we
    learned of it; the reopen window counts from ``now``).
    """
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = at
    incident.lifecycle["resolved_seen"] = now
    incident.correlation.pop("resolve_after", None)
    if ws.open_groups.get(incident.group_key) == incident.id:
        ws.set_open_group(incident.group_key, None)
    ws.touch_incident(incident)
    ws.add_event(incident.id, TimelineEvent(now, "resolved", actor, detail))


def reopen(ws: WorkSet, incident: Incident, now: float, actor: str, reason: str) -> None:
    """Open a resolved incident again (its group points at it again)."""
    incident.status = IncidentStatus.OPEN
    incident.resolved_at = None
    incident.acknowledged_at = None
    incident.lifecycle["reopened"] = int(incident.lifecycle.get("reopened", 0)) + 1
    if ws.open_groups.get(incident.group_key) is None:
        ws.set_open_group(incident.group_key, incident.id)
    ws.touch_incident(incident)
    ws.add_event(incident.id, TimelineEvent(now, "reopened", actor, {"reason": reason}))
