"""The unit of work of one pipeline step: state loaded from the store, changed in memory, committed once.

Stages read and change a ``WorkSet``; the store loads it and writes back only what is
marked dirty, in one transaction together with the intake entries it consumed. That is
what makes a crash between "processed" and "acknowledged" harmless: either all effects
of a batch are stored and its entries gone, or neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from daemon.models import AlertState, Incident, IncidentAlert, OutboxJob, TimelineEvent

# Group keys that correlation derives (topology entities, similarity bands, storms,
# inhibition): they point at an incident like a group key but are never cleared one
# by one; stores expire or sweep them.
DERIVED_GROUP_PREFIXES = ("topo:", "sim:", "storm:", "inhibit:")


@dataclass
class WorkSet:
    """Loaded state plus the set of keys each stage dirtied."""

    alerts: dict[str, AlertState] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    members: dict[tuple[str, str], IncidentAlert] = field(default_factory=dict)
    # group key -> id of the incident that is still open for it (absent: none).
    open_groups: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, TimelineEvent]] = field(default_factory=list)
    dirty_alerts: set[str] = field(default_factory=set)
    dirty_incidents: set[str] = field(default_factory=set)
    dirty_members: set[tuple[str, str]] = field(default_factory=set)
    dirty_groups: set[str] = field(default_factory=set)
    new_incidents: set[str] = field(default_factory=set)
    # Deliveries to enqueue with this commit; the store drops keys it already holds.
    outbox: list[OutboxJob] = field(default_factory=list)

    def put_alert(self, state: AlertState) -> None:
        """Record a changed alert state."""
        self.alerts[state.fingerprint] = state
        self.dirty_alerts.add(state.fingerprint)

    def touch_incident(self, incident: Incident) -> None:
        """Record a changed (or new) incident."""
        self.incidents[incident.id] = incident
        self.dirty_incidents.add(incident.id)

    def put_member(self, incident_id: str, member: IncidentAlert) -> None:
        """Record an alert's changed membership in an incident."""
        key = (incident_id, member.fingerprint)
        self.members[key] = member
        self.dirty_members.add(key)

    def set_open_group(self, group_key: str, incident_id: str | None) -> None:
        """Point a group at its open incident, or clear it when that incident resolves."""
        if incident_id is None:
            self.open_groups.pop(group_key, None)
        else:
            self.open_groups[group_key] = incident_id
        self.dirty_groups.add(group_key)

    def add_event(self, incident_id: str, event: TimelineEvent) -> None:
        """Append to an incident's timeline."""
        self.events.append((incident_id, event))

    def enqueue(self, job: OutboxJob) -> None:
        """Queue a tracker delivery, committed atomically with the rest of this work."""
        self.outbox.append(job)
