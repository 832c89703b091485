"""The postmortem draft on an incident with the newer timeline kinds (escalations, reopen, auto-resolve)."""

from __future__ import annotations

from daemon.models import Incident, IncidentStatus, TimelineEvent
from daemon.reports.postmortem import render_postmortem
from daemon.store.base import IncidentDetail
from daemon.timeparse import iso

T0 = 1_800_000_000.0


def test_milestones_routing_and_tickets() -> None:
    """Milestones timed from the first alert and from opening; routing lists escalations; tickets show."""
    incident = Incident(
        id="inc_X",
        group_key="g",
        title="DiskFull | node-1",
        status=IncidentStatus.RESOLVED,
        priority="P2",
        reasons=["abc: severity=warning -> urgency medium", "rule disk: raise to P2"],
        opened_at=T0,
        last_seen=T0,
        alert_count=1,
        firing_count=0,
        resolved_at=T0 + 7200,
        team="storage",
        external={"jira": {"key": "OPS-7", "url": "https://jira/OPS-7", "state": "delivered"}},
    )
    alerts = [{"fingerprint": "abc", "alertname": "DiskFull", "count": 3, "starts_at": iso(T0 - 300)}]
    timeline = [
        TimelineEvent(T0, "opened", "triaged", {"priority": "P2"}),
        TimelineEvent(T0 + 60, "escalated", "triaged", {"to": "level 2"}),
        TimelineEvent(T0 + 600, "acknowledged", "bob", {}),
        TimelineEvent(T0 + 900, "reassigned", "bob", {"team": "db"}),
        TimelineEvent(T0 + 3600, "resolved", "bob", {}),
        TimelineEvent(T0 + 4000, "reopened", "carol", {"note": "back"}),
        TimelineEvent(T0 + 7200, "auto_resolved", "triaged", {}),
    ]
    draft = render_postmortem(IncidentDetail(incident, alerts, timeline), T0 + 9000)
    assert draft.startswith("# Post-incident report: DiskFull | node-1")
    assert f"| first alert started | {iso(T0 - 300)} | +0s | -5m |" in draft
    assert f"| acknowledged | {iso(T0 + 600)} | +15m | +10m |" in draft
    assert f"| first escalation | {iso(T0 + 60)} | +6m | +60s |" in draft
    assert f"| reopened | {iso(T0 + 4000)} | +72m | +67m |" in draft
    assert f"| resolved | {iso(T0 + 7200)} | +2.1h | +2.0h |" in draft
    assert "- " + iso(T0 + 900) + " (+15m) reassigned by bob: team=db" in draft
    assert "1. rule disk: raise to P2" in draft
    assert "| jira | OPS-7 | https://jira/OPS-7 | delivered |  |" in draft
    assert "| DiskFull | `abc` |" in draft
    assert "| team | storage |" in draft
