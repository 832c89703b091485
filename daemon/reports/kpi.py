"""Incident KPIs as pure functions over incidents and their timelines (no store, no clock).

Everything here is derived from what the store already keeps: the incident record,
its alerts (with the sender's ``starts_at``) and its timeline. ``docs/reports.md``
defines each figure; the definitions live here once so the report, the postmortem
draft and the ``triaged_kpi_*`` metrics cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from daemon.models import Incident, TimelineEvent
from daemon.store.base import IncidentDetail
from daemon.timeparse import parse_rfc3339

# Timeline kinds that close an incident; an auto-resolution is a resolution too.
RESOLVED_KINDS = frozenset({"resolved", "auto_resolved"})
# Any of these means the first responder did not fix it alone (first-time fix fails).
NOT_FIRST_TIME_KINDS = frozenset({"escalated", "reassigned", "reopened"})
# What a person (not triaged itself) does to an incident: the first one ends "response".
RESPONSE_KINDS = frozenset(
    {"acknowledged", "resolved", "note", "escalated", "reassigned", "priority_changed", "feedback"}
)
# Every kind ``TimelineFacts.fold`` looks at: a reader of new events asks for these only.
FOLDED_KINDS = RESPONSE_KINDS | RESOLVED_KINDS | NOT_FIRST_TIME_KINDS
SYSTEM_ACTOR = "triaged"
NONE_LABEL = "-"


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """The few numbers of one incident that every KPI is computed from (times in Unix seconds)."""

    id: str
    title: str
    priority: str
    team: str
    service: str
    status: str
    opened_at: float
    first_alert_at: float
    acknowledged_at: float | None
    responded_at: float | None
    resolved_at: float | None
    alerts: int
    notifications: int
    escalations: int
    reassignments: int
    reopens: int

    @property
    def resolved(self) -> bool:
        """Resolved now (a reopened and not yet re-resolved incident is not)."""
        return self.status == "resolved"

    @property
    def ever_resolved(self) -> bool:
        """Resolved now, or resolved once and then reopened."""
        return self.resolved or self.reopens > 0

    @property
    def first_time_fix(self) -> bool:
        """Resolved with no escalation, reassignment or reopen on the way."""
        return self.resolved and not (self.escalations or self.reassignments or self.reopens)

    @property
    def time_to_identify(self) -> float:
        """MTTI term: first alert start to incident opened."""
        return _span(self.first_alert_at, self.opened_at) or 0.0

    @property
    def time_to_acknowledge(self) -> float | None:
        """MTTA term: opened to first acknowledgement."""
        return _span(self.opened_at, self.acknowledged_at)

    @property
    def time_to_resolve(self) -> float | None:
        """MTTR term: opened to (final) resolution."""
        return _span(self.opened_at, self.resolved_at) if self.resolved else None

    @property
    def response_time(self) -> float | None:
        """Incident response time: first alert start to a person's first action."""
        return _span(self.first_alert_at, self.responded_at)

    def to_json(self) -> dict[str, Any]:
        """A plain mapping (the report's per-incident rows)."""
        return {
            "id": self.id,
            "title": self.title,
            "priority": self.priority,
            "team": self.team,
            "service": self.service,
            "status": self.status,
            "opened_at": self.opened_at,
            "alerts": self.alerts,
            "notifications": self.notifications,
            "time_to_identify": self.time_to_identify,
            "time_to_acknowledge": self.time_to_acknowledge,
            "time_to_resolve": self.time_to_resolve,
            "response_time": self.response_time,
            "escalations": self.escalations,
            "reassignments": self.reassignments,
            "reopens": self.reopens,
            "first_time_fix": self.first_time_fix,
        }


def _span(start: float | None, end: float | None) -> float | None:
    # Clocks of senders and replicas drift a little: a negative span means "at once".
    if start is None or end is None:
        return None
    return max(0.0, end - start)


@dataclass(slots=True)
class TimelineFacts:
    """What the KPIs take from a timeline, folded one event at a time, in any order: a
    reader that keeps it can fold only the events added since (``timeline_since``)."""

    acknowledged_at: float | None = None
    responded_at: float | None = None
    resolved_at: float | None = None
    escalations: int = 0
    reassignments: int = 0
    reopens: int = 0

    def fold(self, events: Iterable[TimelineEvent]) -> TimelineFacts:
        """Add ``events``; returns self."""
        for e in events:
            kind = e.kind
            if kind == "acknowledged":
                self.acknowledged_at = _earliest(self.acknowledged_at, e.at)
            if kind in RESPONSE_KINDS and e.actor != SYSTEM_ACTOR:
                self.responded_at = _earliest(self.responded_at, e.at)
            if kind in RESOLVED_KINDS and (self.resolved_at is None or e.at > self.resolved_at):
                self.resolved_at = e.at
            if kind == "escalated":
                self.escalations += 1
            elif kind == "reassigned":
                self.reassignments += 1
            elif kind == "reopened":
                self.reopens += 1
        return self


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What the KPIs take from an incident's alerts."""

    first_alert_at: float | None
    notifications: int
    service: str | None

    @classmethod
    def of_alerts(cls, alerts: Sequence[dict[str, Any]]) -> AlertFacts:
        """From the API view of every alert: each one read."""
        starts = [t for t in (_alert_start(a) for a in alerts) if t is not None]
        service = next((str(s) for a in alerts if (s := (a.get("labels") or {}).get("service"))), None)
        return cls(min(starts, default=None), sum(int(a.get("count", 1)) for a in alerts), service)

    @classmethod
    def of_record(cls, incident: Incident) -> AlertFacts | None:
        """From the figures correlation keeps on the record; None on records stored before
        them. The earliest start is the one each alert had when it joined."""
        if incident.notifications is None:
            return None
        return cls(incident.first_alert_at, incident.notifications, incident.service)


def facts(detail: IncidentDetail) -> IncidentFacts:
    """Reduce one incident with its alerts and timeline to the numbers the KPIs need."""
    timeline = TimelineFacts().fold(detail.timeline)
    return facts_of(detail.incident, timeline, AlertFacts.of_alerts(detail.alerts))


def facts_of(inc: Incident, timeline: TimelineFacts, alerts: AlertFacts) -> IncidentFacts:
    """The numbers the KPIs need, from the record and what its timeline and alerts give."""
    resolved_at = inc.resolved_at
    if inc.status.value == "resolved" and resolved_at is None:
        resolved_at = timeline.resolved_at
    starts = [] if alerts.first_alert_at is None else [alerts.first_alert_at]
    return IncidentFacts(
        id=inc.id,
        title=inc.title,
        priority=inc.priority,
        team=inc.team or inc.group_labels.get("team") or NONE_LABEL,
        service=inc.group_labels.get("service") or alerts.service or NONE_LABEL,
        status=inc.status.value,
        opened_at=inc.opened_at,
        first_alert_at=min([*starts, inc.opened_at]),
        acknowledged_at=timeline.acknowledged_at or inc.acknowledged_at,
        responded_at=timeline.responded_at,
        resolved_at=resolved_at,
        alerts=inc.alert_count,
        notifications=alerts.notifications or inc.alert_count,
        escalations=timeline.escalations,
        reassignments=timeline.reassignments,
        reopens=timeline.reopens,
    )


def _earliest(a: float | None, b: float) -> float:
    return b if a is None or b < a else a


def _alert_start(alert: dict[str, Any]) -> float | None:
    """The sender's start of an alert (the API view holds RFC 3339), else when triaged saw it."""
    for key in ("starts_at", "first_seen"):
        value = alert.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str) and value:
            try:
                return parse_rfc3339(value)
            except ValueError:
                continue
    return None


@dataclass(frozen=True, slots=True)
class Stats:
    """Mean, median and 90th percentile of a set of durations (None when there are none)."""

    n: int
    mean: float | None
    median: float | None
    p90: float | None

    def to_json(self) -> dict[str, Any]:
        """A plain mapping."""
        return {"n": self.n, "mean": self.mean, "median": self.median, "p90": self.p90}


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, Excel's PERCENTILE.INC).

    ``percentile(v, 0.5)`` equals ``statistics.median(v)``, including the mean of the
    two middle values for an even count.
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def stats(values: Iterable[float | None]) -> Stats:
    """Summary of the values that are known (None means "not applicable", e.g. never acknowledged)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return Stats(0, None, None, None)
    return Stats(len(known), math.fsum(known) / len(known), percentile(known, 0.5), percentile(known, 0.9))


@dataclass(frozen=True, slots=True)
class KpiSummary:
    """The KPIs of one set of incidents (a time range, or one priority, team or service of it)."""

    incidents: int
    resolved: int
    acknowledged: int
    ever_resolved: int
    reopened: int
    first_time_fixes: int
    alerts: int
    notifications: int
    mtti: Stats
    mtta: Stats
    mttr: Stats
    response: Stats

    @property
    def resolution_rate(self) -> float | None:
        """Resolved now / incidents."""
        return _ratio(self.resolved, self.incidents)

    @property
    def first_time_fix_rate(self) -> float | None:
        """Resolved without escalation, reassignment or reopen / resolved."""
        return _ratio(self.first_time_fixes, self.resolved)

    @property
    def reopen_rate(self) -> float | None:
        """Reopened at least once / ever resolved."""
        return _ratio(self.reopened, self.ever_resolved)

    @property
    def alerts_per_incident(self) -> float | None:
        """Distinct alerts per incident: how many pages one incident saved."""
        return _ratio(self.alerts, self.incidents)

    @property
    def noise_reduction(self) -> float | None:
        """1 - incidents / notifications: the share of notifications nobody had to read alone."""
        ratio = _ratio(self.incidents, self.notifications)
        return None if ratio is None else 1.0 - ratio

    def to_json(self) -> dict[str, Any]:
        """A plain mapping, rates included."""
        return {
            "incidents": self.incidents,
            "resolved": self.resolved,
            "acknowledged": self.acknowledged,
            "ever_resolved": self.ever_resolved,
            "reopened": self.reopened,
            "first_time_fixes": self.first_time_fixes,
            "alerts": self.alerts,
            "notifications": self.notifications,
            "resolution_rate": self.resolution_rate,
            "first_time_fix_rate": self.first_time_fix_rate,
            "reopen_rate": self.reopen_rate,
            "alerts_per_incident": self.alerts_per_incident,
            "noise_reduction": self.noise_reduction,
            "mtti_seconds": self.mtti.to_json(),
            "mtta_seconds": self.mtta.to_json(),
            "mttr_seconds": self.mttr.to_json(),
            "response_seconds": self.response.to_json(),
        }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summarize(items: Sequence[IncidentFacts]) -> KpiSummary:
    """The KPIs over ``items``."""
    return KpiSummary(
        incidents=len(items),
        resolved=sum(f.resolved for f in items),
        acknowledged=sum(f.acknowledged_at is not None for f in items),
        ever_resolved=sum(f.ever_resolved for f in items),
        reopened=sum(f.reopens > 0 for f in items),
        first_time_fixes=sum(f.first_time_fix for f in items),
        alerts=sum(f.alerts for f in items),
        notifications=sum(f.notifications for f in items),
        mtti=stats(f.time_to_identify for f in items),
        mtta=stats(f.time_to_acknowledge for f in items),
        mttr=stats(f.time_to_resolve for f in items),
        response=stats(f.response_time for f in items),
    )


def breakdown(items: Sequence[IncidentFacts], key: Callable[[IncidentFacts], str]) -> dict[str, KpiSummary]:
    """The KPIs per value of ``key`` (priority, team, service), in sorted order."""
    groups: dict[str, list[IncidentFacts]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return {name: summarize(groups[name]) for name in sorted(groups)}


DIMENSIONS: dict[str, Callable[[IncidentFacts], str]] = {
    "priority": lambda f: f.priority,
    "team": lambda f: f.team,
    "service": lambda f: f.service,
}
