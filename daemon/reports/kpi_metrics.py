"""The incident KPIs as Prometheus gauges (``triaged_kpi_*``), recomputed in the background.

A scrape never touches the store: a task recomputes a snapshot at most every
``REFRESH_EVERY`` seconds over incidents opened in the last ``WINDOW`` (at most
``MAX_INCIDENTS`` of them, the newest: past that the gauges say how far back they really
look, rather than claim the whole window), and the collector only reads that snapshot. Incidents that
are resolved and unchanged since the last pass are not read again, and the others cost
the timeline events added since the last pass (their alerts are not read: correlation
keeps the figures the KPIs need on the record).

With several replicas on one Redis store each replica computes the same figures from
the shared store: aggregate them with ``max``/``avg`` across instances, never ``sum``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from daemon.keys import METRICS, STORE
from daemon.models import Incident
from daemon.reports.kpi import (
    FOLDED_KINDS,
    AlertFacts,
    IncidentFacts,
    KpiSummary,
    Stats,
    TimelineFacts,
    breakdown,
    facts,
    facts_of,
    summarize,
)
from daemon.store.base import Store

log = structlog.get_logger(__name__)

REFRESH_EVERY = 60.0
# Startup is busy (model load, intake recovery); the first KPI pass can wait a little.
FIRST_REFRESH_AFTER = 5.0
WINDOW = 7 * 86400.0
MAX_INCIDENTS = 5000
ALL = "all"
STATS = ("mean", "median", "p90")
DURATIONS = (
    ("mtti", "Time from the first alert's start to the incident opening"),
    ("mtta", "Time from incident opened to first acknowledgement"),
    ("mttr", "Time from incident opened to resolution"),
    ("response", "Time from the first alert's start to a person's first action"),
)
RATIOS = (
    ("resolution_ratio", "Share of incidents resolved", "resolution_rate"),
    (
        "first_time_fix_ratio",
        "Share of resolved incidents with no escalation, reassignment or reopen",
        "first_time_fix_rate",
    ),
    ("reopen_ratio", "Share of ever-resolved incidents that were reopened", "reopen_rate"),
    ("alerts_per_incident", "Distinct alerts per incident", "alerts_per_incident"),
    ("noise_reduction_ratio", "1 - incidents / alert notifications", "noise_reduction"),
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """KPIs per priority (plus ``all``) over the window, as of ``at``."""

    at: float
    # How far back the figures look: ``WINDOW``, or less when ``truncated``.
    window: float
    by_priority: dict[str, KpiSummary]
    # Wall time of the pass that made it: the pass shares the process with the webhooks,
    # so an operator whose webhook tail grows every minute can see what it costs.
    took: float = 0.0
    # More than ``max_incidents`` were opened within the window: only the newest count.
    truncated: bool = False


def _signature(incident: Incident) -> tuple[Any, ...]:
    """What changes when an incident's KPI facts can change."""
    return (
        incident.status,
        incident.priority,
        incident.team,
        incident.last_seen,
        incident.acknowledged_at,
        incident.resolved_at,
        incident.alert_count,
        incident.revision,
    )


@dataclass
class KpiRefresher:
    """Keeps the snapshot fresh; a failed pass keeps the previous snapshot and is counted.

    An incident whose record carries its report figures (``Incident.notifications``) costs
    a pass only the timeline events added since the previous pass; older records are read
    whole (every alert), as before. Reading every alert of every open incident each pass
    took 9.9 s of the reader thread's time on 40 incidents of ~1,100 alerts, and the
    webhooks' p99 went from ~25 ms to 142 ms while it ran.
    """

    store: Store
    window: float = WINDOW
    max_incidents: int = MAX_INCIDENTS
    snapshot: Snapshot | None = None
    failures: int = 0
    _cache: dict[str, tuple[tuple[Any, ...], IncidentFacts]] = field(default_factory=dict)
    _timelines: dict[str, tuple[int, TimelineFacts]] = field(default_factory=dict)

    async def refresh(self, now: float | None = None) -> Snapshot:
        """One pass: list the window's incidents, re-read what changed, summarize."""
        now = time.time() if now is None else now
        started = time.perf_counter()
        # One more than counted: whether the cap hid an incident opened within the window.
        listed = await self.store.list_incidents(None, self.max_incidents + 1)
        window, truncated = self._reach(listed, now)
        listed = listed[: self.max_incidents]
        items: list[IncidentFacts] = []
        cache: dict[str, tuple[tuple[Any, ...], IncidentFacts]] = {}
        timelines: dict[str, tuple[int, TimelineFacts]] = {}
        for incident in listed:
            if incident.opened_at < now - self.window:
                continue
            sig = _signature(incident)
            cached = self._cache.get(incident.id)
            # Open incidents are re-read every pass: a person's note changes response time
            # without touching the record.
            if cached is not None and cached[0] == sig and incident.status.value == "resolved":
                item = cached[1]
            elif (alerts := AlertFacts.of_record(incident)) is not None:
                cursor, timeline = self._timelines.get(incident.id, (0, TimelineFacts()))
                # Only the kinds the fold reads: not one event per joining alert.
                events, cursor = await self.store.timeline_since(incident.id, cursor, FOLDED_KINDS)
                # A copy: a pass that fails half-way must not have folded into the kept one.
                timeline = replace(timeline).fold(events)
                timelines[incident.id] = (cursor, timeline)
                item = facts_of(incident, timeline, alerts)
            else:
                detail = await self.store.get_incident(incident.id)
                if detail is None:
                    continue
                item = facts(detail)
            cache[incident.id] = (sig, item)
            items.append(item)
        self._cache = cache
        self._timelines = {**{i: t for i, t in self._timelines.items() if i in cache}, **timelines}
        by_priority = {**breakdown(items, lambda f: f.priority), ALL: summarize(items)}
        self.snapshot = Snapshot(now, window, by_priority, time.perf_counter() - started, truncated)
        return self.snapshot

    def _reach(self, listed: list[Incident], now: float) -> tuple[float, bool]:
        """How far back the counted incidents reach: the window, unless the cap cut it short.

        ``listed`` is newest first, one past the cap: when that one was opened within the
        window, the cap left it (and maybe more) out, and the figures reach back only to
        the oldest incident counted.
        """
        cap = self.max_incidents
        truncated = len(listed) > cap and listed[cap].opened_at >= now - self.window
        was = self.snapshot is not None and self.snapshot.truncated
        if truncated != was:
            # Once per change, not every pass: the gauge carries it between the two.
            (log.warning if truncated else log.info)(
                "kpi_window_truncated" if truncated else "kpi_window_whole",
                max_incidents=self.max_incidents,
                window_seconds=self.window,
            )
        return (now - listed[cap - 1].opened_at if truncated else self.window), truncated

    async def run(
        self, stop: asyncio.Event, every: float = REFRESH_EVERY, first: float = FIRST_REFRESH_AFTER
    ) -> None:
        """Refresh after ``first`` seconds, then every ``every`` seconds, until ``stop``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), first)
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception as err:  # the store may be down; metrics must not take the daemon with it
                self.failures += 1
                log.warning("kpi_refresh_failed", error=str(err))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


class KpiCollector(Collector):
    """Exposes the refresher's latest snapshot; cheap, never blocks a scrape on the store."""

    def __init__(self, refresher: KpiRefresher) -> None:
        self.refresher = refresher

    def describe(self) -> Iterator[Metric]:
        """The families without samples (so registration checks names without a store read)."""
        return self._families(None)

    def collect(self) -> Iterator[Metric]:
        """The families with the latest snapshot's samples (none before the first pass)."""
        return self._families(self.refresher.snapshot)

    def _families(self, snap: Snapshot | None) -> Iterator[Metric]:
        incidents = GaugeMetricFamily(
            "triaged_kpi_incidents", "Incidents opened within the KPI window.", labels=["priority"]
        )
        durations = {
            name: GaugeMetricFamily(
                f"triaged_kpi_{name}_seconds",
                f"{text} (mean, median, p90), over incidents opened within the KPI window.",
                labels=["priority", "stat"],
            )
            for name, text in DURATIONS
        }
        ratios = {
            name: GaugeMetricFamily(
                f"triaged_kpi_{name}", f"{text}, within the KPI window.", labels=["priority"]
            )
            for name, text, _ in RATIOS
        }
        window = GaugeMetricFamily("triaged_kpi_window_seconds", "How far back the KPI gauges look.")
        truncated = GaugeMetricFamily(
            "triaged_kpi_window_truncated",
            f"1 when more than {self.refresher.max_incidents} incidents were opened within the KPI"
            f" window: the gauges then cover the newest {self.refresher.max_incidents} only, back as"
            " far as triaged_kpi_window_seconds says.",
        )
        refreshed = GaugeMetricFamily(
            "triaged_kpi_last_refresh_timestamp_seconds", "When the KPI gauges were last recomputed."
        )
        took = GaugeMetricFamily(
            "triaged_kpi_last_refresh_duration_seconds", "Wall time the last KPI recomputation took."
        )
        failures = CounterMetricFamily("triaged_kpi_refresh_failures", "KPI recomputations that failed.")
        failures.add_metric([], self.refresher.failures)
        if snap is not None:
            window.add_metric([], snap.window)
            truncated.add_metric([], float(snap.truncated))
            refreshed.add_metric([], snap.at)
            took.add_metric([], snap.took)
            for priority, summary in snap.by_priority.items():
                incidents.add_metric([priority], summary.incidents)
                for name, _ in DURATIONS:
                    _add_stats(durations[name], priority, getattr(summary, name))
                for name, _, attr in RATIOS:
                    value = getattr(summary, attr)
                    if value is not None:
                        ratios[name].add_metric([priority], value)
        yield incidents
        yield from durations.values()
        yield from ratios.values()
        yield window
        yield truncated
        yield refreshed
        yield took
        yield failures


def _add_stats(family: GaugeMetricFamily, priority: str, s: Stats) -> None:
    for stat in STATS:
        value = getattr(s, stat)
        if value is not None:
            family.add_metric([priority, stat], value)


KPI_REFRESHER = web.AppKey("kpi_refresher", KpiRefresher)


async def kpi_metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Register the KPI collector on the app's registry and keep it fresh while the app runs."""
    registry = app[METRICS].registry
    refresher = KpiRefresher(app[STORE])
    collector = KpiCollector(refresher)
    app[KPI_REFRESHER] = refresher
    try:
        registry.register(collector)
        registered = True
    except ValueError:  # already registered on this registry (an app rebuilt in one process)
        registered = False
    stop = asyncio.Event()
    task = asyncio.create_task(refresher.run(stop), name="kpi-metrics")
    yield
    stop.set()
    await task
    if registered:
        registry.unregister(collector)
