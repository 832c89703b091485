"""Route: decide which trackers hear about which incident changes, and enqueue those deliveries.

Runs after correlate/score on the same ``WorkSet``, so its outbox jobs commit in the
same transaction as the change that caused them (a crash can neither lose nor double
a delivery). One job per incident per tracker per batch: a storm of joining alerts
becomes one update, not hundreds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from connectors.base import AlertLine, IncidentRequest
from daemon.matchers import Matcher, matches_all
from daemon.models import Incident, IncidentStatus, OutboxJob, TimelineEvent
from daemon.settings import ConnectorSettings
from daemon.store.codec import request_to_json
from daemon.workset import WorkSet

# Timeline events worth telling a tracker about (a repeat is not).
_NEWS = {
    "alert_joined": "alert joined",
    "alert_refired": "alert fired again",
    "alert_resolved": "alert resolved",
    "priority_raised": "priority raised",
    "acknowledged": "acknowledged",
    "truncated": "sender truncated the group",
    "feedback": "feedback",
    "flapping": "alert is flapping (its changes no longer notify)",
    "merged": "merged",
    "suppressed": "alert inhibited by this incident",
    "escalated": "escalated",
    "reopened": "reopened",
    "note": "note",
    "priority_changed": "priority changed",
    "reassigned": "reassigned",
}


class Router:
    """Chooses trackers per incident and turns a batch's changes into outbox jobs."""

    def __init__(self, connectors: Mapping[str, ConnectorSettings], public_url: str = "") -> None:
        self._routes: list[tuple[str, tuple[Matcher, ...], str]] = [
            (name, c.parsed_matchers(), c.min_priority) for name, c in connectors.items() if c.enabled
        ]
        self.public_url = public_url.rstrip("/")

    def route(self, ws: WorkSet, labels_of: Mapping[str, Mapping[str, str]], skip: str | None = None) -> None:
        """Enqueue the deliveries for every incident this batch changed.

        ``labels_of`` gives, per incident, the labels to match connectors against;
        ``skip`` is a connector not to tell (the tracker the change came from).
        """
        if not self._routes:
            return
        events: dict[str, list[TimelineEvent]] = defaultdict(list)
        for incident_id, event in ws.events:
            events[incident_id].append(event)
        for incident_id, incident_events in events.items():
            incident = ws.incidents.get(incident_id)
            if incident is not None:
                self._route_one(ws, incident, incident_events, labels_of.get(incident_id, {}), skip)

    def _route_one(
        self,
        ws: WorkSet,
        incident: Incident,
        events: list[TimelineEvent],
        labels: Mapping[str, str],
        skip: str | None = None,
    ) -> None:
        news = [e for e in events if e.kind in _NEWS]
        resolved = any(e.kind == "resolved" for e in events)
        if not news and not resolved and incident.id not in ws.new_incidents:
            return
        incident.revision += 1
        ws.touch_incident(incident)
        note = _note(news, resolved)
        at = max(e.at for e in events)
        request = self.request(ws, incident, note)
        chosen = incident.lifecycle.get("connectors")  # from the routing tree, when it says
        notify = incident.lifecycle.get("notify", [])  # added by escalation steps
        for name, matchers, min_priority in self._routes:
            if name == skip:
                continue
            routed = name in incident.external
            if not routed:
                if incident.correlation.get("pending"):
                    continue  # below correlation.min_alerts: trackers hear of it once it is reached
                if name not in notify:
                    if chosen is not None:
                        wanted = name in chosen
                    else:
                        wanted = matches_all(matchers, {**incident.group_labels, **labels})
                    if not wanted or incident.priority > min_priority:
                        continue
                if incident.status is IncidentStatus.RESOLVED and incident.id not in ws.new_incidents:
                    continue  # never opened there and already over: nothing to tell
                incident.external[name] = {"state": "routed"}
                self._enqueue(ws, incident, name, "open", request, at)
                if incident.status is IncidentStatus.RESOLVED:
                    self._enqueue(ws, incident, name, "resolve", request, at)
                continue
            action = "resolve" if resolved else "update"
            self._enqueue(ws, incident, name, action, request, at)

    @staticmethod
    def _enqueue(
        ws: WorkSet,
        incident: Incident,
        connector: str,
        action: str,
        req: IncidentRequest,
        at: float,
    ) -> None:
        key = f"{incident.id}:{connector}:{action}:{incident.revision}"
        ws.enqueue(
            OutboxJob(
                key,
                incident.id,
                connector,
                action,
                at,
                request_to_json(req),
            )
        )

    def request(self, ws: WorkSet, incident: Incident, note: str = "") -> IncidentRequest:
        """The tracker-facing view of an incident, from what this batch knows of it."""
        alerts = []
        for (incident_id, fp), member in ws.members.items():
            if incident_id != incident.id:
                continue
            state = ws.alerts.get(fp)
            alerts.append(
                AlertLine(
                    fingerprint=fp,
                    alertname=member.alertname,
                    status=member.status.value,
                    summary=state.annotations.get("summary", "") if state else "",
                    labels=dict(state.labels) if state else {},
                    generator_url=state.generator_url if state else "",
                )
            )
        summary = f"{incident.firing_count} of {incident.alert_count} alerts firing" + (
            f" ({incident.truncated_alerts} more left out by the sender)" if incident.truncated_alerts else ""
        )
        return IncidentRequest(
            incident_id=incident.id,
            title=incident.title,
            priority=incident.priority,
            status=incident.status.value,
            summary=summary,
            alerts=tuple(alerts),
            group_labels=dict(incident.group_labels),
            team=incident.team,
            url=f"{self.public_url}/api/v1/incidents/{incident.id}" if self.public_url else "",
            note=note,
            reasons=tuple(incident.reasons),
        )


def _note(news: Iterable[TimelineEvent], resolved: bool) -> str:
    lines = []
    for e in news:
        what = _NEWS[e.kind]
        detail = (
            e.detail.get("alertname")
            or e.detail.get("note")
            or e.detail.get("to")
            or e.detail.get("into")
            or ""
        )
        by = f" by {e.actor}" if e.actor != "triaged" else ""
        lines.append(f"{what}{by}: {detail}" if detail else f"{what}{by}")
    if resolved:
        lines.append("resolved")
    return "\n".join(lines)
