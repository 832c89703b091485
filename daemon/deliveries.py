"""Wiring of the delivery worker: connectors built from config, started and stopped with the app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from connectors import CONNECTORS
from connectors.base import Connector
from connectors.delivery import DeliveryMetrics, DeliveryPolicy, DeliveryWorker
from connectors.errors import ConnectorError
from daemon.keys import DELIVERY, METRICS, SETTINGS, STORE
from daemon.outbound_sessions import OutboundSessions
from daemon.settings import DeliverySettings, Settings
from daemon.tls import target_policy

log = structlog.get_logger(__name__)
HEALTHCHECK_TIMEOUT = 15.0


def build_connectors(settings: Settings, sessions: OutboundSessions) -> dict[str, Connector]:
    """One connector instance per enabled tracker in the config (no I/O happens here)."""
    built: dict[str, Connector] = {}
    for name, entry in settings.connectors.items():
        if entry.enabled:
            cls = CONNECTORS[entry.kind]
            built[name] = cls(cls.Config.model_validate(entry.options()), sessions.for_connector(entry))
    return built


def policy_of(d: DeliverySettings) -> DeliveryPolicy:
    """The worker's policy from config."""
    return DeliveryPolicy(
        base_delay=d.base_delay,
        max_delay=d.max_delay,
        max_attempts=d.max_attempts,
        breaker_failures=d.breaker_failures,
        breaker_cooldown=d.breaker_cooldown,
        lease=d.lease,
    )


async def healthchecks(connectors: dict[str, Connector]) -> dict[str, str | None]:
    """Run every connector's healthcheck concurrently: name -> None (ok) or what is wrong."""

    async def one(connector: Connector) -> str | None:
        try:
            await asyncio.wait_for(connector.healthcheck(), HEALTHCHECK_TIMEOUT)
        except ConnectorError as err:
            return f"{type(err).__name__}: {err}"
        except TimeoutError:
            return f"no answer within {HEALTHCHECK_TIMEOUT:g}s"
        return None

    names = list(connectors)
    results = await asyncio.gather(*(one(connectors[n]) for n in names))
    return dict(zip(names, results, strict=True))


async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the delivery worker (when trackers are configured); stop it on shutdown."""
    settings = app[SETTINGS]
    if not any(c.enabled for c in settings.connectors.values()):
        yield
        return
    # Every address DNS returns is checked at connect time (SSRF guard, docs/security.md).
    sessions = OutboundSessions(target_policy(settings))
    connectors = build_connectors(settings, sessions)
    worker = DeliveryWorker(
        app[STORE],
        connectors,
        DeliveryMetrics.build(app[METRICS].registry),
        policy_of(settings.delivery),
    )
    app[DELIVERY] = worker
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="delivery")
    checks = asyncio.create_task(_log_healthchecks(connectors), name="healthchecks")
    yield
    stop.set()
    checks.cancel()
    await asyncio.gather(task, checks, return_exceptions=True)
    await sessions.close()


async def _log_healthchecks(connectors: dict[str, Connector]) -> None:
    """At startup: say clearly which tracker is misconfigured (delivery runs regardless)."""
    for name, problem in (await healthchecks(connectors)).items():
        if problem is None:
            log.info("connector_healthy", connector=name)
        else:
            log.error("connector_unhealthy", connector=name, problem=problem)
