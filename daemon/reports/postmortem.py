"""``triaged postmortem INCIDENT_ID``: a Markdown draft of the post-incident report.

Everything triaged knows is filled in (timeline, alerts, priority and why, routing and
escalations, tickets, time to each milestone); what only people know (root cause,
actions, lessons) is left as empty sections with prompts, so the draft is a start and
never pretends to be the analysis.
"""

from __future__ import annotations

from typing import Any

from daemon.models import TimelineEvent
from daemon.reports.kpi import facts
from daemon.reports.report import fmt_duration
from daemon.store.base import IncidentDetail
from daemon.timeparse import iso

# Timeline kinds that belong under "Routing and escalations" (besides being in the timeline).
ROUTING_KINDS = frozenset(
    {"escalated", "reassigned", "priority_changed", "priority_raised", "merged", "reopened"}
)


def _cell(value: Any) -> str:
    """A table cell: one line, pipes escaped (alert text is sender-controlled)."""
    text = "" if value is None else str(value)
    return text.replace("\n", " ").replace("|", "\\|")


def _detail(event: TimelineEvent) -> str:
    return ", ".join(f"{k}={v}" for k, v in event.detail.items())


def _offset(at: float, opened: float) -> str:
    sign = "-" if at < opened else "+"
    return sign + fmt_duration(abs(at - opened))


def render_postmortem(detail: IncidentDetail, generated_at: float) -> str:
    """The draft for one incident."""
    inc = detail.incident
    f = facts(detail)
    timeline = sorted(detail.timeline, key=lambda e: e.at)
    out = [
        f"# Post-incident report: {inc.title}",
        "",
        f"Draft generated {iso(generated_at)} by `triaged postmortem {inc.id}`. "
        "Sections marked _to fill_ need a person.",
        "",
        "## Summary",
        "",
        "| field | value |",
        "| --- | --- |",
        f"| incident | `{inc.id}` |",
        f"| status | {inc.status.value} |",
        f"| priority | {inc.priority} |",
        f"| team | {_cell(f.team)} |",
        f"| service | {_cell(f.service)} |",
        f"| group | `{_cell(inc.group_key)}` |",
        f"| alerts | {inc.alert_count} distinct, {f.notifications} notifications"
        + (f", {inc.truncated_alerts} left out by the sender" if inc.truncated_alerts else "")
        + " |",
        "",
        "_Impact (who was affected, how, for how long): to fill._",
        "",
        "## Time to each milestone",
        "",
        *_milestones(detail, timeline),
        "",
        "## Priority and why",
        "",
        f"Priority **{inc.priority}**. Each line is one step of the decision, in order:",
        "",
        *[f"1. {_cell(r)}" for r in inc.reasons],
        "",
        "## Routing and escalations",
        "",
        f"Team: {_cell(f.team)}.",
        "",
        *_routing(timeline, inc.opened_at),
        "",
        "## Tickets",
        "",
        *_tickets(inc.external),
        "",
        "## Alerts",
        "",
        *_alerts(detail.alerts),
        "",
        "## Timeline",
        "",
        "| time (UTC) | since opened | event | by | detail |",
        "| --- | --- | --- | --- | --- |",
        *[
            f"| {iso(e.at)} | {_offset(e.at, inc.opened_at)} | {e.kind} | {_cell(e.actor)} "
            f"| {_cell(_detail(e))} |"
            for e in timeline
        ],
        "",
        "## Root cause",
        "",
        "_To fill: what failed, and why it could fail._",
        "",
        "## Contributing factors",
        "",
        "_To fill._",
        "",
        "## What went well, what did not",
        "",
        "_To fill._",
        "",
        "## Actions",
        "",
        "| action | owner | ticket | due |",
        "| --- | --- | --- | --- |",
        "|  |  |  |  |",
        "",
    ]
    return "\n".join(out)


def _milestones(detail: IncidentDetail, timeline: list[TimelineEvent]) -> list[str]:
    f = facts(detail)
    opened = detail.incident.opened_at
    first_of: dict[str, float] = {}
    for e in timeline:
        first_of.setdefault(e.kind, e.at)
    rows = [
        ("first alert started", f.first_alert_at),
        ("incident opened", opened),
        ("first response by a person", f.responded_at),
        ("acknowledged", f.acknowledged_at),
        ("first escalation", first_of.get("escalated")),
        ("first reassignment", first_of.get("reassigned")),
        ("reopened", first_of.get("reopened")),
        ("resolved", f.resolved_at if f.resolved else None),
    ]
    lines = ["| milestone | time (UTC) | since first alert | since opened |", "| --- | --- | --- | --- |"]
    for name, at in rows:
        if at is None:
            lines.append(f"| {name} | - | - | - |")
        else:
            lines.append(f"| {name} | {iso(at)} | {_offset(at, f.first_alert_at)} | {_offset(at, opened)} |")
    return lines


def _routing(timeline: list[TimelineEvent], opened: float) -> list[str]:
    events = [e for e in timeline if e.kind in ROUTING_KINDS]
    if not events:
        return ["No escalation, reassignment or priority change was recorded."]
    return [
        f"- {iso(e.at)} ({_offset(e.at, opened)}) {e.kind} by {_cell(e.actor)}: {_cell(_detail(e))}"
        for e in events
    ]


def _tickets(external: dict[str, Any]) -> list[str]:
    if not external:
        return ["No tracker was configured for this incident."]
    lines = ["| tracker | key | url | state | last error |", "| --- | --- | --- | --- | --- |"]
    for name in sorted(external):
        ref = external[name] if isinstance(external[name], dict) else {}
        lines.append(
            f"| {_cell(name)} | {_cell(ref.get('key'))} | {_cell(ref.get('url'))} | "
            f"{_cell(ref.get('state'))} | {_cell(ref.get('last_error'))} |"
        )
    return lines


def _alerts(alerts: list[dict[str, Any]]) -> list[str]:
    if not alerts:
        return ["No alerts recorded."]
    lines = [
        "| alert | fingerprint | status | notifications | started | first seen | last seen | summary |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for a in alerts:
        summary = (a.get("annotations") or {}).get("summary", "")
        lines.append(
            f"| {_cell(a.get('alertname'))} | `{_cell(a.get('fingerprint'))}` | {_cell(a.get('status'))} | "
            f"{_cell(a.get('count'))} | {_cell(a.get('starts_at'))} | {_cell(a.get('first_seen'))} | "
            f"{_cell(a.get('last_seen'))} | {_cell(summary)} |"
        )
    return lines
