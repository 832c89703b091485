"""The one delivery mechanism: outbox jobs to trackers, with retries, breakers and dead letters.

Connectors only translate; every policy lives here, once:

- **Order**: the outbox hands out at most the oldest pending job per (incident,
  connector), so a ticket is opened before it is updated and resolved.
- **Retries**: ``ConnectorUnavailable`` reschedules with exponential backoff and full
  jitter, never sooner than the tracker's ``Retry-After``/rate-limit reset.
- **Circuit breaker** per connector: after ``breaker_failures`` consecutive
  unavailable answers, jobs for it wait ``breaker_cooldown`` without calling it; then
  one probe goes through (half-open).
- **Dead letters**: ``ConnectorRejected``/``ConnectorAuthError``, or more than
  ``max_attempts`` tries, park the job as dead: visible in the API and metrics, and
  retried by hand.
- **Idempotency**: an ``open`` for an incident that already has a reference completes
  without a call; an ``open`` retried after an attempt that may have reached the
  tracker first asks a ``Findable`` connector for the ticket by its marker.

``connectors`` does not import ``daemon``: the store's outbox is reached through the
``Outbox`` protocol below.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from connectors.base import Connector, Findable, IncidentRef, IncidentRequest
from connectors.errors import ConnectorError, ConnectorRejected, ConnectorUnavailable
from connectors.http import MaybeCommitted

log = structlog.get_logger(__name__)
ACTIONS = ("open", "update", "resolve")
CIRCUIT_OPEN = "circuit open"  # the error text of a job held back without a call


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """One claimed outbox job: what to do, for which incident, in which tracker."""

    job_id: str
    incident_id: str
    connector: str
    action: str
    request: IncidentRequest
    attempts: int
    ref: IncidentRef | None  # the incident's ticket in this tracker, once opened


class Outbox(Protocol):
    """What delivery needs from the store."""

    async def claim_deliveries(self, limit: int, lease: float) -> list[DeliveryJob]:
        """Due jobs, at most the oldest pending one per (incident, connector), leased."""

    async def wait_for_deliveries(self, timeout: float) -> None:
        """Return when new jobs were enqueued here, or after ``timeout`` (jobs retried or
        enqueued elsewhere come due without a signal)."""

    async def finish_delivery(self, job: DeliveryJob, ref: IncidentRef | None) -> None:
        """Mark done; for an ``open``, remember ``ref`` as the incident's ticket."""

    async def retry_delivery(self, job: DeliveryJob, delay: float, error: str) -> None:
        """Count the attempt and make the job due again after ``delay`` seconds."""

    async def dead_letter(self, job: DeliveryJob, error: str) -> None:
        """Park the job: no more automatic attempts."""


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retry and breaker settings (the daemon fills them from config)."""

    base_delay: float = 1.0
    max_delay: float = 300.0
    max_attempts: int = 50
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0
    lease: float = 60.0
    batch: int = 50
    idle_poll: float = 0.2


@dataclass
class CircuitBreaker:
    """Closed -> open after N consecutive failures -> half-open after a cooldown."""

    failures_to_open: int
    cooldown: float
    failures: int = 0
    opened_at: float | None = None

    def allows(self, now: float) -> bool:
        """Whether a call may go out now (one probe after the cooldown)."""
        return self.opened_at is None or now - self.opened_at >= self.cooldown

    def wait(self, now: float) -> float:
        """Seconds until the next probe."""
        return 0.0 if self.opened_at is None else max(0.0, self.cooldown - (now - self.opened_at))

    def success(self) -> None:
        """A call succeeded: close."""
        self.failures, self.opened_at = 0, None

    def failure(self, now: float) -> None:
        """A call failed as unavailable: open at the threshold (or re-open after a failed probe)."""
        self.failures += 1
        if self.failures >= self.failures_to_open:
            self.opened_at = now

    @property
    def state(self) -> int:
        """0 closed, 1 open (the metric's value)."""
        return 0 if self.opened_at is None else 1


@dataclass
class DeliveryMetrics:
    """Per-connector metrics on an injected registry."""

    requests: Counter
    seconds: Histogram
    retries: Counter
    dead_letters: Counter
    circuit: Gauge

    @classmethod
    def build(cls, registry: CollectorRegistry) -> DeliveryMetrics:
        """Create the metrics on ``registry``."""
        return cls(
            requests=Counter(
                "triaged_connector_requests",
                "Tracker calls by outcome.",
                ["connector", "action", "outcome"],
                registry=registry,
            ),
            seconds=Histogram(
                "triaged_connector_request_seconds",
                "Tracker call latency.",
                ["connector", "action"],
                registry=registry,
            ),
            retries=Counter(
                "triaged_connector_retries",
                "Deliveries rescheduled.",
                ["connector", "error_type"],
                registry=registry,
            ),
            dead_letters=Counter(
                "triaged_connector_dead_letters",
                "Deliveries parked as dead letters.",
                ["connector", "error_type"],
                registry=registry,
            ),
            circuit=Gauge(
                "triaged_connector_circuit_open",
                "1 while a connector's circuit breaker is open.",
                ["connector"],
                registry=registry,
            ),
        )


@dataclass
class DeliveryWorker:
    """Takes due jobs from the outbox and performs them, concurrently across incidents."""

    outbox: Outbox
    connectors: Mapping[str, Connector]
    metrics: DeliveryMetrics
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    def breaker(self, name: str) -> CircuitBreaker:
        """The breaker of one connector."""
        if name not in self.breakers:
            self.breakers[name] = CircuitBreaker(self.policy.breaker_failures, self.policy.breaker_cooldown)
        return self.breakers[name]

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop``; store outages only pause it."""
        while not stop.is_set():
            try:
                done = await self.step()
            except Exception:
                log.exception("delivery_step_failed")
                done = 0
            if done == 0:
                await _idle(stop, self.outbox.wait_for_deliveries(self.policy.idle_poll))

    async def step(self) -> int:
        """Claim a batch of due jobs and perform them; returns how many were claimed."""
        jobs = await self.outbox.claim_deliveries(self.policy.batch, self.policy.lease)
        if jobs:
            await asyncio.gather(*(self.perform(job) for job in jobs))
        return len(jobs)

    async def perform(self, job: DeliveryJob) -> None:
        """One job: call the tracker, then record the outcome in the outbox."""
        connector = self.connectors.get(job.connector)
        if connector is None:
            await self._dead(job, "unknown_connector", f"no connector {job.connector!r} configured")
            return
        breaker = self.breaker(job.connector)
        now = time.monotonic()
        if not breaker.allows(now):
            await self.outbox.retry_delivery(job, breaker.wait(now), CIRCUIT_OPEN)
            return
        t0 = time.perf_counter()
        try:
            ref = await self._call(connector, job)
        except ConnectorUnavailable as err:
            breaker.failure(time.monotonic())
            self._observe(job, t0, "unavailable", breaker)
            await self._retry(job, err, _in_flight_grace(connector, err))
        except ConnectorRejected as err:
            self._observe(job, t0, "rejected", breaker)
            await self._dead(job, type(err).__name__, str(err))
        except ConnectorError as err:  # pragma: no cover - the tree has no other leaves
            await self._dead(job, type(err).__name__, str(err))
        else:
            breaker.success()
            self._observe(job, t0, "ok", breaker)
            await self.outbox.finish_delivery(job, ref)
            log.info(
                "delivered",
                connector=job.connector,
                action=job.action,
                incident=job.incident_id,
                attempts=job.attempts + 1,
                remote=ref.key if ref else None,
            )

    async def _call(self, connector: Connector, job: DeliveryJob) -> IncidentRef | None:
        if job.action == "open":
            if job.ref is not None:
                return job.ref  # opened before (a retried or duplicated job): nothing to do
            if job.attempts > 0 and isinstance(connector, Findable):
                found = await connector.find_incident(job.request)
                if found is not None:
                    log.info(
                        "delivery_found_existing",
                        connector=job.connector,
                        incident=job.incident_id,
                        remote=found.key,
                    )
                    return found
            return await connector.open_incident(job.request)
        if job.ref is None:
            raise ConnectorRejected(f"{job.action}: the incident has no ticket in {job.connector}")
        if job.action == "resolve":
            await connector.resolve_incident(job.ref, job.request)
        else:
            await connector.update_incident(job.ref, job.request)
        return None

    async def _retry(self, job: DeliveryJob, err: ConnectorUnavailable, floor: float = 0.0) -> None:
        if job.attempts + 1 >= self.policy.max_attempts:
            await self._dead(job, "too_many_attempts", f"gave up after {job.attempts + 1}: {err}")
            return
        delay = max(floor, backoff(job.attempts, self.policy.base_delay, self.policy.max_delay))
        if err.retry_after is not None:
            delay = max(delay, err.retry_after)
        self.metrics.retries.labels(connector=job.connector, error_type=type(err).__name__).inc()
        log.warning(
            "delivery_retry",
            connector=job.connector,
            action=job.action,
            incident=job.incident_id,
            error=str(err),
            retry_in=round(delay, 3),
        )
        await self.outbox.retry_delivery(job, delay, str(err))

    async def _dead(self, job: DeliveryJob, error_type: str, message: str) -> None:
        self.metrics.dead_letters.labels(connector=job.connector, error_type=error_type).inc()
        log.error(
            "delivery_dead_letter",
            connector=job.connector,
            action=job.action,
            incident=job.incident_id,
            error=message,
        )
        await self.outbox.dead_letter(job, message)

    def _observe(self, job: DeliveryJob, t0: float, outcome: str, breaker: CircuitBreaker) -> None:
        m = self.metrics
        m.requests.labels(connector=job.connector, action=job.action, outcome=outcome).inc()
        m.seconds.labels(connector=job.connector, action=job.action).observe(time.perf_counter() - t0)
        m.circuit.labels(connector=job.connector).set(breaker.state)


async def _idle(stop: asyncio.Event, wake: Coroutine[Any, Any, None]) -> None:
    """Until ``stop`` is set or ``wake`` returns (new jobs, or the poll interval passed)."""
    waiter = asyncio.ensure_future(wake)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in (waiter, stopper):
        task.cancel()


def _in_flight_grace(connector: Connector, err: ConnectorUnavailable) -> float:
    """After a request that may still be in flight, wait one more timeout before retrying.

    A tracker can still be working on a request we gave up on (a queued or slow
    server); looking the ticket up too early would miss it and create a second one.
    """
    if not isinstance(err, MaybeCommitted):
        return 0.0
    config = getattr(connector, "config", None)
    return float(getattr(config, "timeout", 0.0))


def backoff(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (AWS' recommendation): uniform in [base, min(cap, base*2^n)]."""
    ceiling = min(cap, base * 2 ** min(attempts, 30))
    return random.uniform(min(base, ceiling), ceiling)
