"""The unit of work of one pipeline step: state loaded from the store, changed in memory, committed once.

Stages read and change a ``WorkSet``; the store loads it and writes back only what is
marked dirty, in one transaction together with the intake entries it consumed. That is
what makes a crash between "processed" and "acknowledged" harmless: either all effects
of a batch are stored and its entries gone, or neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from daemon.models import AlertCounters, AlertState, Incident, IncidentAlert, OutboxJob, TimelineEvent

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
    # Repeats, most of the traffic, change only counters: an alert's last_seen and
    # receive_count, its membership's count and last_seen. A store may write just those
    # (``counters``) instead of the whole documents.
    seen_alerts: set[str] = field(default_factory=set)
    counted_members: set[tuple[str, str]] = field(default_factory=set)
    # Deliveries to enqueue with this commit; the store drops keys it already holds.
    outbox: list[OutboxJob] = field(default_factory=list)

    def put_alert(self, state: AlertState) -> None:
        """Record a changed alert state."""
        self.alerts[state.fingerprint] = state
        self.dirty_alerts.add(state.fingerprint)

    def see_alert(self, state: AlertState) -> None:
        """Record an alert state whose counters alone changed (a repeat)."""
        self.alerts[state.fingerprint] = state
        self.seen_alerts.add(state.fingerprint)

    def touch_incident(self, incident: Incident) -> None:
        """Record a changed (or new) incident."""
        self.incidents[incident.id] = incident
        self.dirty_incidents.add(incident.id)

    def put_member(self, incident_id: str, member: IncidentAlert) -> None:
        """Record an alert's changed membership in an incident."""
        key = (incident_id, member.fingerprint)
        self.members[key] = member
        self.dirty_members.add(key)

    def count_member(self, incident_id: str, member: IncidentAlert) -> None:
        """Record a membership whose counters alone changed (a repeat)."""
        key = (incident_id, member.fingerprint)
        self.members[key] = member
        self.counted_members.add(key)

    def changed_alerts(self) -> set[str]:
        """Every alert state to write, for a store that writes whole documents only."""
        return self.dirty_alerts | self.seen_alerts

    def changed_members(self) -> set[tuple[str, str]]:
        """Every membership to write, for a store that writes whole documents only."""
        return self.dirty_members | self.counted_members

    def counters(self) -> list[AlertCounters]:
        """The counters of every changed alert and of its membership in its incident.

        A store that keeps these apart writes them for every changed alert, so that they
        are always the latest; it then writes whole only ``dirty_alerts`` and
        ``whole_members()``.
        """
        out = []
        for fp in self.changed_alerts():
            state = self.alerts[fp]
            member = self.members.get((state.incident_id, fp)) if state.incident_id else None
            out.append(
                AlertCounters(
                    fp,
                    state.last_seen,
                    state.receive_count,
                    state.incident_id if member is not None else None,
                    member.count if member is not None else None,
                    member.last_seen if member is not None else None,
                )
            )
        return out

    def whole_members(self) -> set[tuple[str, str]]:
        """Memberships to write whole beside ``counters()``: the dirty ones, and counted
        ones that the counters of their alert do not cover (not its current incident)."""
        changed = self.changed_alerts()
        stray = {
            (incident_id, fp)
            for incident_id, fp in self.counted_members
            if fp not in changed or self.alerts[fp].incident_id != incident_id
        }
        return self.dirty_members | stray

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
