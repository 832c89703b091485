"""Correlate: put each alert into the incident of its group, opening one when none is open.

Grouping is Alertmanager's: the first route whose matchers fit picks ``group_by``,
and the group key is those labels' values. An incident accepts alerts of its group
while it is open; once resolved, the next firing alert of the group opens a new
incident, so a new outage is never hidden inside an old, closed one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from daemon.matchers import Matcher, matches_all
from daemon.models import (
    Alert,
    AlertState,
    AlertStatus,
    Incident,
    IncidentAlert,
    IncidentStatus,
    TimelineEvent,
    new_incident_id,
)
from daemon.settings import CorrelationSettings
from daemon.stages.dedupe import Transition
from daemon.stages.score import higher
from daemon.workset import WorkSet

ALL_LABELS = "..."
ACTOR = "triaged"


@dataclass(frozen=True, slots=True)
class Grouping:
    """Which group an alert belongs to, and the labels that define it."""

    key: str
    labels: dict[str, str]
    all_labels: bool


class Grouper:
    """Maps labels to a group; built once from config."""

    def __init__(self, settings: CorrelationSettings) -> None:
        self._routes: list[tuple[str, tuple[Matcher, ...], tuple[str, ...]]] = [
            (f"route{i}", r.parsed_matchers(), tuple(r.group_by)) for i, r in enumerate(settings.routes)
        ]
        self._default = tuple(settings.group_by)

    def group_of(self, labels: Mapping[str, str]) -> Grouping:
        """The grouping of an alert with these labels."""
        name, group_by = "default", self._default
        for route_name, matchers, route_group_by in self._routes:
            if matches_all(matchers, labels):
                name, group_by = route_name, route_group_by
                break
        all_labels = ALL_LABELS in group_by
        keys = sorted(labels) if all_labels else group_by
        chosen = {k: labels.get(k, "") for k in keys}
        inner = ",".join(f'{k}="{v}"' for k, v in chosen.items())
        return Grouping(f"{name}:{{{inner}}}", chosen, all_labels)


@dataclass(slots=True)
class Correlator:
    """Applies one alert's transition to the incidents in a ``WorkSet``."""

    settings: CorrelationSettings

    def apply(
        self,
        ws: WorkSet,
        alert: Alert,
        state: AlertState,
        transition: Transition,
        grouping: Grouping,
        priority: tuple[str, str] | None,
    ) -> Incident | None:
        """Returns the incident the alert now belongs to (None when it belongs to none).

        ``priority`` (with its reasons) is required for the transitions that open or
        join an incident (first, refire), and only scored for those.
        """
        if transition in (Transition.FIRST, Transition.REFIRE):
            assert priority is not None, "a firing transition needs a priority"
            return self._fire(ws, alert, state, transition, grouping, priority)
        incident = ws.incidents.get(state.incident_id) if state.incident_id else None
        if incident is None:
            return None
        member = ws.members.get((incident.id, alert.fingerprint))
        if member is None:  # should not happen: loaded with the alert; heal rather than crash
            return incident
        member.count += 1
        member.last_seen = alert.received_at
        incident.last_seen = max(incident.last_seen, alert.received_at)
        if transition is Transition.RESOLVE:
            member.status = AlertStatus.RESOLVED
            incident.firing_count = max(0, incident.firing_count - 1)
            _event(ws, incident, alert.received_at, "alert_resolved", alert)
            if incident.firing_count == 0 and incident.status is not IncidentStatus.RESOLVED:
                _resolve(ws, incident, alert)
        ws.put_member(incident.id, member)
        ws.touch_incident(incident)
        return incident

    def _fire(
        self,
        ws: WorkSet,
        alert: Alert,
        state: AlertState,
        transition: Transition,
        grouping: Grouping,
        priority: tuple[str, str],
    ) -> Incident:
        now = alert.received_at
        incident = self._joinable(ws, state, grouping, now)
        opened = incident is None
        if incident is None:
            incident = _open(ws, alert, grouping, priority)
        member = ws.members.get((incident.id, alert.fingerprint))
        if member is None:
            member = IncidentAlert(
                fingerprint=alert.fingerprint,
                status=AlertStatus.FIRING,
                count=1,
                first_seen=now,
                last_seen=now,
                alertname=alert.labels.get("alertname", ""),
            )
            incident.alert_count += 1
            incident.firing_count += 1
            if not opened:
                _event(ws, incident, now, "alert_joined", alert)
        else:
            member.count += 1
            member.last_seen = now
            if member.status is not AlertStatus.FIRING:
                member.status = AlertStatus.FIRING
                incident.firing_count += 1
            _event(ws, incident, now, "alert_refired", alert)
        incident.last_seen = max(incident.last_seen, now)
        if not opened and higher(priority[0], incident.priority):
            old = incident.priority
            incident.priority = priority[0]
            incident.reasons = [*incident.reasons, f"{alert.fingerprint}: {priority[1]}"]
            ws.add_event(
                incident.id,
                TimelineEvent(
                    now,
                    "priority_raised",
                    ACTOR,
                    {
                        "from": old,
                        "to": priority[0],
                        "reason": priority[1],
                        "fingerprint": alert.fingerprint,
                    },
                ),
            )
        state.incident_id = incident.id
        ws.put_member(incident.id, member)
        ws.touch_incident(incident)
        return incident

    def _joinable(self, ws: WorkSet, state: AlertState, grouping: Grouping, now: float) -> Incident | None:
        """The open incident this alert should join, if any."""
        candidates = []
        if state.incident_id is not None:
            candidates.append(state.incident_id)
        open_id = ws.open_groups.get(grouping.key)
        if open_id is not None:
            candidates.append(open_id)
        for incident_id in candidates:
            incident = ws.incidents.get(incident_id)
            if incident is None or incident.status is IncidentStatus.RESOLVED:
                continue
            # An incident whose alerts all went quiet long ago is not the same outage.
            if incident.firing_count > 0 or now - incident.last_seen <= self.settings.group_window:
                return incident
        return None


def _open(ws: WorkSet, alert: Alert, grouping: Grouping, priority: tuple[str, str]) -> Incident:
    now = alert.received_at
    incident = Incident(
        id=new_incident_id(now),
        group_key=grouping.key,
        title=_title(alert, grouping),
        status=IncidentStatus.OPEN,
        priority=priority[0],
        reasons=[f"{alert.fingerprint}: {priority[1]}"],
        opened_at=now,
        last_seen=now,
        alert_count=0,
        firing_count=0,
        group_labels=grouping.labels,
    )
    ws.new_incidents.add(incident.id)
    ws.set_open_group(grouping.key, incident.id)
    ws.add_event(
        incident.id,
        TimelineEvent(
            now,
            "opened",
            ACTOR,
            {
                "group_key": grouping.key,
                "fingerprint": alert.fingerprint,
                "alertname": alert.labels.get("alertname", ""),
                "priority": priority[0],
                "reason": priority[1],
            },
        ),
    )
    return incident


def _title(alert: Alert, grouping: Grouping) -> str:
    name = alert.labels.get("alertname", "") or "alert"
    summary = alert.annotations.get("summary", "")
    if grouping.all_labels:
        return f"{name}: {summary}" if summary else name
    scope = ", ".join(f"{k}={v}" for k, v in grouping.labels.items() if k != "alertname" and v)
    return f"{name} ({scope})" if scope else name


def _resolve(ws: WorkSet, incident: Incident, alert: Alert) -> None:
    at = alert.ends_at if alert.ends_at is not None else alert.received_at
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = at
    if ws.open_groups.get(incident.group_key) == incident.id:
        ws.set_open_group(incident.group_key, None)
    ws.add_event(
        incident.id,
        TimelineEvent(
            alert.received_at,
            "resolved",
            ACTOR,
            {
                "reason": f"all {incident.alert_count} alerts resolved",
            },
        ),
    )


def _event(ws: WorkSet, incident: Incident, at: float, kind: str, alert: Alert) -> None:
    ws.add_event(
        incident.id,
        TimelineEvent(
            at,
            kind,
            ACTOR,
            {
                "fingerprint": alert.fingerprint,
                "alertname": alert.labels.get("alertname", ""),
            },
        ),
    )
