"""Work the pipeline does on a clock rather than on an alert: delayed resolutions, storm
merges, and pruning of correlation pointers.

Each change goes through ``store.update_incident`` under the pipeline's lock, like a
person's action, so it commits with its timeline entry and tracker deliveries at once.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from connectors.base import IncidentRequest
from daemon.errors import NotFound
from daemon.incident_state import resolve
from daemon.models import Incident, IncidentStatus, OutboxJob, TimelineEvent
from daemon.store.codec import request_to_json
from daemon.workset import WorkSet

if TYPE_CHECKING:
    from daemon.pipeline import Pipeline

log = structlog.get_logger(__name__)
# Incidents deferred by another (or a dead) replica, or before a restart, are found by
# reading the store's deferral index this often (the soonest ``DEFERRED_READ``); this
# process's own deferrals are checked every upkeep.
FULL_SCAN_SECONDS = 60.0
DEFERRED_READ = 10_000
# The stakeholder summary lists at most this many incidents per status.
SCAN_LIMIT = 5000


async def run(pipeline: Pipeline) -> None:
    """One round: resolve what is due; now and then, scan for other replicas' deferrals."""
    now = pipeline.clock.now()
    due = pipeline.correlator.due
    escalations = pipeline.lifecycle.due
    if time.monotonic() >= pipeline.correlator.next_full_scan:
        pipeline.correlator.next_full_scan = time.monotonic() + FULL_SCAN_SECONDS
        # The soonest from an index: it used to decode every open incident (at most the 5,000
        # newest, missing the rest). No time bound: a clock that jumps must not hide a step.
        for kind, incident_id, at in await pipeline.store.deferred(math.inf, DEFERRED_READ):
            (due if kind == "resolve" else escalations)[incident_id] = at
        await pipeline.store.sweep_groups()
    await _run_due(pipeline, due, now, _resolve_if_still_due)
    await _run_due(pipeline, escalations, now, _escalate)
    await stakeholder_summary(pipeline, now)


async def _run_due(
    pipeline: Pipeline,
    due: dict[str, float],
    now: float,
    act: Callable[[Pipeline, str, float], Awaitable[None]],
) -> None:
    """Apply ``act`` to every incident whose time has come, oldest first; forget it then
    (``act`` re-reads the incident: if it changed meanwhile, nothing happens)."""
    for incident_id in [i for i, at in sorted(due.items(), key=lambda kv: kv[1]) if at <= now]:
        due.pop(incident_id, None)
        await act(pipeline, incident_id, now)


async def _escalate(pipeline: Pipeline, incident_id: str, now: float) -> None:
    """Apply a due escalation step; the re-read inside update_incident makes it run once."""

    def apply(ws: WorkSet) -> bool:
        incident = ws.incidents.get(incident_id)
        if incident is None or not pipeline.lifecycle.escalate(ws, incident, now):
            return False
        pipeline.router.route(ws, {})
        return True

    async with pipeline.lock:
        done = await pipeline.store.update_incident(incident_id, apply)
    if done:
        pipeline.metrics.incidents_escalated.inc()
        log.info("incident_escalated", incident=incident_id)


async def stakeholder_summary(pipeline: Pipeline, now: float) -> None:
    """Every ``stakeholders.every``, one summary of open incidents to the configured connector.

    The outbox key is the period's number, so replicas enqueue it once between them.
    """
    cfg = pipeline.settings.stakeholders
    if cfg.connector is None or now < pipeline.summary_due:
        return
    period = int(now // cfg.every)
    first = pipeline.summary_due == 0.0
    pipeline.summary_due = (period + 1) * cfg.every
    if first:
        return  # the first summary goes out at the next period boundary
    incidents = [
        i
        for status in (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)
        for i in await pipeline.store.list_incidents(status, SCAN_LIMIT)
        if i.priority <= cfg.min_priority
    ]
    request = summary_request(incidents, now, period, pipeline.router.public_url)
    key = f"summary:{period}:{cfg.connector}"
    job = OutboxJob(key, request.incident_id, cfg.connector, "open", now, request_to_json(request))

    def apply(ws: WorkSet) -> None:
        ws.enqueue(job)

    async with pipeline.lock:
        await pipeline.store.update_incident(request.incident_id, apply)
    log.info("stakeholder_summary", connector=cfg.connector, incidents=len(incidents))


def summary_request(incidents: list[Incident], now: float, period: int, public_url: str) -> IncidentRequest:
    """The summary as a message: counts per priority, then each incident's age and owner."""
    by_priority = Counter(i.priority for i in incidents)
    counts = ", ".join(f"{p}: {by_priority[p]}" for p in sorted(by_priority)) or "none"
    lines = []
    for i in sorted(incidents, key=lambda x: (x.priority, x.opened_at))[:50]:
        age = (now - i.opened_at) / 3600
        owner = i.team or "unassigned"
        lines.append(f"{i.priority} {i.status.value:12} {age:6.1f} h  {owner:14} {i.title}")
    return IncidentRequest(
        incident_id=f"summary-{period}",
        title=f"triaged: {len(incidents)} open incidents ({counts})",
        priority=min(by_priority) if by_priority else "P5",
        status="open",
        summary="\n".join(lines) or "No open incidents.",
        alerts=(),
        group_labels={},
        team=None,
        url=f"{public_url}/api/v1/incidents?status=open" if public_url else "",
        note="",
        reasons=(),
    )


async def _resolve_if_still_due(pipeline: Pipeline, incident_id: str, now: float) -> None:
    def apply(ws: WorkSet) -> bool:
        incident = ws.incidents.get(incident_id)
        if incident is None or incident.status is IncidentStatus.RESOLVED:
            return False
        after = incident.correlation.get("resolve_after")
        if after is None or float(after) > now or incident.firing_count > 0:
            return False  # re-fired meanwhile, or another replica got there first
        flapping = bool(incident.correlation.get("flapping"))
        reason = f"all {incident.alert_count} alerts resolved and stayed resolved" + (
            " (flapping alerts quiet for a flap window)" if flapping else ""
        )
        resolve(ws, incident, float(after), now, "triaged", {"reason": reason})
        pipeline.router.route(ws, {})
        return True

    async with pipeline.lock:
        done = await pipeline.store.update_incident(incident_id, apply)
    if done:
        pipeline.metrics.incidents_resolved.labels(by="alerts").inc()
        log.info("incident_resolved_after_delay", incident=incident_id)


async def _final(pipeline: Pipeline, incident_id: str) -> str:
    """Follow ``merged_into`` (a target may itself have been merged since)."""
    for _ in range(8):
        # limit=1: only the incident's document is wanted, not a storm's 100,000 members.
        detail = await pipeline.store.get_incident(incident_id, limit=1)
        nxt = detail.incident.correlation.get("merged_into") if detail else None
        if not nxt:
            break
        incident_id = str(nxt)
    return incident_id


async def merge_into(pipeline: Pipeline, target_id: str, ids: list[str], why: str) -> None:
    """Fold incidents into one: those opened just before a storm was declared, or those
    an alert revealed to be one outage (services that all depend on the failing database).

    Each is resolved as ``merged`` (its trackers are told where it went), and its group
    now points at the target, so its later alerts join it.
    """
    target_id = await _final(pipeline, target_id)
    merged: list[str] = []
    alerts = 0
    for incident_id in ids:
        if incident_id == target_id:
            continue

        def apply(ws: WorkSet, incident_id: str = incident_id) -> int:
            incident = ws.incidents.get(incident_id)
            if incident is None or incident.status is IncidentStatus.RESOLVED:
                return -1
            now = time.time()
            incident.correlation["merged_into"] = target_id
            resolve(
                ws, incident, now, now, "triaged", {"reason": f"merged into incident {target_id} ({why})"}
            )
            ws.set_open_group(incident.group_key, target_id)
            ws.add_event(
                incident.id,
                TimelineEvent(now, "merged", "triaged", {"into": target_id, "reason": why}),
            )
            pipeline.router.route(ws, {})
            return incident.alert_count

        try:
            async with pipeline.lock:
                n = await pipeline.store.update_incident(incident_id, apply)
        except NotFound:
            continue
        if n >= 0:
            merged.append(incident_id)
            alerts += n
            pipeline.metrics.incidents_merged.labels(into="storm" if "storm" in why else "topology").inc()
    if not merged:
        return

    def note(ws: WorkSet) -> None:
        target = ws.incidents.get(target_id)
        if target is None:
            return
        if "storm" in target.correlation:
            summary = target.correlation["storm"]
            summary["merged"] = [*summary.get("merged", []), *merged][-100:]
        target.correlation["merged"] = [*target.correlation.get("merged", []), *merged][-100:]
        target.alert_count += alerts
        ws.touch_incident(target)
        ws.add_event(
            target_id,
            TimelineEvent(
                time.time(),
                "merged",
                "triaged",
                {"incidents": merged, "alerts": alerts, "reason": why},
            ),
        )

    async with pipeline.lock:
        await pipeline.store.update_incident(target_id, note)
    log.info("incidents_merged", into=target_id, incidents=len(merged), alerts=alerts)
