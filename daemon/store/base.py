"""The narrow protocol every store implements, and the records it hands out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from connectors.base import IncidentRef
from connectors.delivery import DeliveryJob
from daemon.models import AlertState, Incident, IncidentStatus, Notification, OutboxJob, TimelineEvent
from daemon.workset import WorkSet

T = TypeVar("T")
# A coroutine so that a long batch can let the event loop run between slices of its work.
BatchFn = Callable[[WorkSet, Sequence["IntakeEntry"]], Awaitable[T]]
# The group keys a batch needs given the alerts' loaded states: correlation's pointers
# (topology, similarity, storm, inhibition) matter only to alerts that may open or join
# an incident, and a storm's alerts are mostly repeats that need none of them. Awaited:
# naming them may compute correlation keys (~20 us per new alert), in slices.
MoreKeys = Callable[[Mapping[str, AlertState]], Awaitable[Iterable[str]]]


@dataclass(frozen=True, slots=True)
class IntakeEntry:
    """A durably accepted notification waiting for the pipeline."""

    entry_id: str
    notification: Notification

    @property
    def size(self) -> int:
        """Alerts in the entry (what the backlog counts)."""
        return len(self.notification.alerts)


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    """An incident with its alerts (membership plus last-known alert state) and timeline."""

    incident: Incident
    alerts: list[dict[str, Any]]
    timeline: list[TimelineEvent]
    # How many there are in all, when a limit kept only some (None: all are here).
    alerts_total: int | None = None
    timeline_total: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The detail shape of the API."""
        body = self.incident.summary_json()
        body["fingerprints"] = [a["fingerprint"] for a in self.alerts]
        body["alerts"] = self.alerts
        body["alerts_total"] = len(self.alerts) if self.alerts_total is None else self.alerts_total
        body["timeline"] = [e.view() for e in self.timeline]
        body["timeline_total"] = len(self.timeline) if self.timeline_total is None else self.timeline_total
        return body


class Store(Protocol):
    """Durable state. Every method is safe to call from the event loop (none blocks it)."""

    async def open(self) -> None:
        """Connect, create the schema if needed, and recover pending intake."""

    async def close(self) -> None:
        """Flush and release everything."""

    async def ping(self) -> bool:
        """Whether the store can take writes now (``/readyz``)."""

    async def append(self, notification: Notification) -> None:
        """Store a notification durably; returns only once it would survive a crash."""

    def backlog(self) -> int:
        """Alerts accepted but not yet processed (cheap: read on every ingest)."""

    async def backlog_now(self) -> int:
        """The exact backlog (may ask the server); for /readyz and tests, not the hot path."""

    async def take(self, max_alerts: int) -> list[IntakeEntry]:
        """Pending entries not yet handed out, oldest first, about ``max_alerts`` alerts."""

    async def wait_for_intake(self, timeout: float) -> None:
        """Return when new entries may be pending, or after ``timeout`` seconds."""

    def turn(self) -> AbstractAsyncContextManager[None]:
        """The pipeline's turn among the processes sharing this store, held around one
        step (take, process, commit). Advisory: correctness never depends on it, the
        batch's transaction does. It keeps replicas from computing batches that another
        replica's commit would make them throw away and compute again."""

    async def process_batch(
        self,
        entries: Sequence[IntakeEntry],
        fingerprints: Iterable[str],
        group_keys: Iterable[str],
        fn: BatchFn[T],
        more_keys: MoreKeys | None = None,
    ) -> T:
        """Load the state for these alerts and groups, let ``fn`` change it, commit atomically.

        ``more_keys``, when given, is awaited on the event loop with the loaded alert states
        and names more group keys to load (as ``group_keys``, before any incident is read).

        ``fn`` is pure (no I/O; it awaits only to let the event loop run) and may be
        called more than once: a store with
        concurrent writers retries it on fresh state when another writer got there
        first. It receives only the entries no writer has committed yet. The commit
        writes the dirty part of the ``WorkSet`` and acknowledges the entries in one
        transaction.
        """

    async def list_incidents(self, status: IncidentStatus | None, limit: int) -> list[Incident]:
        """Newest first, optionally of one status."""

    async def get_incident(self, incident_id: str, limit: int | None = None) -> IncidentDetail | None:
        """One incident with its alerts and timeline, or None. With ``limit`` (at least 1), at
        most that many alerts (the first to join) and timeline events (the latest), and the totals:
        an incident may hold 10,000 alerts, and reading them all for one API view took
        0.45 s of the process's one Python thread."""

    async def timeline_since(
        self, incident_id: str, cursor: int, kinds: Container[str] | None = None
    ) -> tuple[list[TimelineEvent], int]:
        """The incident's timeline events added after ``cursor`` (0: from the start), in
        order, and the cursor to pass next time. Timelines only grow, so a reader that
        keeps the cursor reads each event once. With ``kinds``, only events of those kinds
        are decoded and returned; the cursor still moves past the others."""

    async def list_outbox(self, limit: int) -> list[OutboxJob]:
        """Enqueued deliveries, oldest first."""

    async def deferred(self, until: float, limit: int) -> list[tuple[str, str, float]]:
        """``(kind, incident id, at)`` of the deferrals (``Incident.deferrals``) due at or
        before ``until``, soonest first, at most ``limit``: an index written with each
        incident, so that finding what is due does not read every open incident."""

    async def claim_deliveries(self, limit: int, lease: float) -> list[DeliveryJob]:
        """Due outbox jobs, at most the oldest pending one per (incident, connector), leased."""

    async def wait_for_deliveries(self, timeout: float) -> None:
        """Return when this process committed deliveries since the last call, or after
        ``timeout``; the delivery worker claims at once instead of at its next poll
        (an incident's first tracker call waited up to ``idle_poll`` for it)."""

    async def finish_delivery(self, job: DeliveryJob, ref: IncidentRef | None) -> None:
        """Mark a job done; an ``open`` records ``ref`` as the incident's ticket."""

    async def incident_of_ticket(self, connector: str, key: str) -> str | None:
        """The incident whose ticket in ``connector`` has ``key`` (``IncidentRef.key``, what
        a tracker's inbound webhook names), or None. An index, not a scan: a tracker sends
        webhooks for every ticket of a project, most of them not ours."""

    async def retry_delivery(self, job: DeliveryJob, delay: float, error: str) -> None:
        """Count an attempt and make the job due again after ``delay`` seconds."""

    async def dead_letter(self, job: DeliveryJob, error: str) -> None:
        """Park a job: no more automatic attempts."""

    async def list_deliveries(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Outbox jobs for the API, newest first."""

    async def retry_dead_letter(self, job_id: str) -> bool:
        """Make a dead letter pending again; False when there is no such dead letter."""

    async def put_silence(self, silence: dict[str, Any]) -> None:
        """Create or replace a silence (by its ``id``)."""

    async def list_silences(self) -> list[dict[str, Any]]:
        """Every stored silence, expired ones included (the caller filters)."""

    async def sweep_groups(self) -> int:
        """Drop group pointers to incidents that are resolved; returns how many went."""

    async def update_incident(self, incident_id: str, fn: Callable[[WorkSet], T]) -> T:
        """Load one incident (and its group's open pointer), let ``fn`` change it, commit.

        ``fn`` raises ``NotFound``/``Conflict`` to abort without writing; like
        ``process_batch`` it may run more than once.
        """
