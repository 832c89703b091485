"""KPI definitions on hand-built incidents whose every figure can be checked by hand."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from daemon.models import Incident, IncidentStatus, TimelineEvent
from daemon.reports.kpi import IncidentFacts, breakdown, facts, percentile, stats, summarize
from daemon.store.base import IncidentDetail
from daemon.timeparse import iso

T0 = 1_800_000_000.0  # any fixed instant; all times below are offsets from it


def incident(
    events: list[tuple[float, str, str]],
    *,
    status: str = "resolved",
    priority: str = "P2",
    alert_starts: tuple[float, ...] = (-120.0,),
    counts: tuple[int, ...] = (1,),
    team: str | None = None,
    service: str | None = None,
    resolved_at: float | None = None,
    ident: str = "inc_1",
) -> IncidentDetail:
    """An incident opened at T0 with alerts starting at the given offsets and this timeline."""
    record = Incident(
        id=ident,
        group_key='{}:{alertname="X"}',
        title="X",
        status=IncidentStatus(status),
        priority=priority,
        reasons=["r"],
        opened_at=T0,
        last_seen=T0,
        alert_count=len(alert_starts),
        firing_count=0,
        resolved_at=None if resolved_at is None else T0 + resolved_at,
        team=team,
        group_labels={"service": service} if service else {},
    )
    alerts: list[dict[str, Any]] = [
        {"fingerprint": f"f{i}", "count": c, "starts_at": iso(T0 + s), "first_seen": iso(T0)}
        for i, (s, c) in enumerate(zip(alert_starts, counts, strict=True))
    ]
    timeline = [TimelineEvent(T0, "opened", "triaged", {})]
    timeline += [TimelineEvent(T0 + at, kind, actor, {}) for at, kind, actor in events]
    return IncidentDetail(record, alerts, timeline)


def test_durations_come_from_the_timeline() -> None:
    """MTTI from the earliest alert start, MTTA to first ack, MTTR to resolution, response to a person."""
    f = facts(
        incident(
            [(300, "acknowledged", "alice"), (400, "acknowledged", "bob"), (3600, "resolved", "triaged")],
            alert_starts=(-120.0, -600.0),
            counts=(3, 2),
            resolved_at=3600,
        )
    )
    assert f.time_to_identify == 600
    assert f.time_to_acknowledge == 300
    assert f.time_to_resolve == 3600
    assert f.response_time == 600 + 300
    assert (f.alerts, f.notifications) == (2, 5)
    assert f.first_time_fix


def test_system_events_are_not_a_response_and_open_incidents_have_no_mttr() -> None:
    """Triaged's own events do not end response time; an open incident has no time to resolve."""
    f = facts(incident([(60, "alert_joined", "triaged"), (90, "note", "carol")], status="open"))
    assert f.response_time == 120 + 90
    assert f.time_to_resolve is None
    assert f.time_to_acknowledge is None
    assert not f.first_time_fix


@pytest.mark.parametrize("kind", ["escalated", "reassigned", "reopened"])
def test_escalation_reassignment_or_reopen_breaks_first_time_fix(kind: str) -> None:
    """Any of the three on the way to resolution means it was not fixed first time."""
    f = facts(incident([(100, kind, "alice"), (200, "resolved", "alice")], resolved_at=200))
    assert f.resolved
    assert not f.first_time_fix


def test_auto_resolved_counts_as_resolved() -> None:
    """An incident closed by auto-resolution has its resolution time from that event."""
    f = facts(incident([(900, "auto_resolved", "triaged")]))
    assert f.resolved
    assert f.time_to_resolve == 900


def test_rates_over_a_set() -> None:
    """Resolution, first-time fix, reopen rates and noise figures over four incidents."""
    items = [
        facts(incident([(60, "resolved", "a")], ident="a", resolved_at=60, counts=(4,))),
        facts(incident([(60, "reopened", "a"), (99, "resolved", "a")], ident="b", resolved_at=99)),
        facts(incident([(60, "resolved", "a"), (70, "reopened", "b")], ident="c", status="open")),
        facts(incident([], ident="d", status="open", alert_starts=(-1, -2, -3), counts=(1, 1, 2))),
    ]
    s = summarize(items)
    assert (s.incidents, s.resolved, s.ever_resolved, s.reopened, s.first_time_fixes) == (4, 2, 3, 2, 1)
    assert s.resolution_rate == 0.5
    assert s.first_time_fix_rate == 0.5
    assert s.reopen_rate == pytest.approx(2 / 3)
    assert s.alerts_per_incident == 6 / 4
    assert s.notifications == 4 + 1 + 1 + 4
    assert s.noise_reduction == pytest.approx(1 - 4 / 10)
    assert s.mttr.n == 2
    assert s.mttr.mean == pytest.approx((60 + 99) / 2)


def test_percentiles_match_the_standard_library() -> None:
    """Median is statistics.median (even and odd counts); p90 interpolates between ranks."""
    for values in ([5.0], [1.0, 2.0], [3.0, 1.0, 2.0], [float(v) for v in range(1, 11)]):
        s = stats(values)
        assert s.median == statistics.median(values)
        assert s.mean == statistics.fmean(values)
    assert percentile([float(v) for v in range(1, 11)], 0.9) == pytest.approx(9.1)
    assert stats([None, None]).mean is None


def test_breakdown_by_priority_team_and_service() -> None:
    """Incidents split by priority, team and service; missing team or service is '-'."""
    items: list[IncidentFacts] = [
        facts(incident([], ident="a", priority="P1", team="db", service="orders")),
        facts(incident([], ident="b", priority="P1")),
        facts(incident([], ident="c", priority="P3", team="db")),
    ]
    assert {k: v.incidents for k, v in breakdown(items, lambda f: f.priority).items()} == {"P1": 2, "P3": 1}
    assert list(breakdown(items, lambda f: f.team)) == ["-", "db"]
    assert {k: v.incidents for k, v in breakdown(items, lambda f: f.service).items()} == {"-": 2, "orders": 1}
