"""The aiohttp application factory: routes, middleware, and the lifecycle of store and workers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import os
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import ProcessCollector
from prometheus_client.aiohttp import make_aiohttp_handler

from daemon import api, api_actions, api_silences, gc_schedule, ingest, reports_intake
from daemon.api_auth import build_api_auth
from daemon.clock import Clock
from daemon.deliveries import delivery_ctx
from daemon.http_errors import Handler, error_middleware
from daemon.keys import METRICS, PIPELINE, SETTINGS, STOPPING, STORE, WORKER
from daemon.metrics import ConflictsCollector, Metrics, build_metrics
from daemon.model_watch import model_watch_ctx
from daemon.openapi import openapi_handler
from daemon.pipeline import Pipeline
from daemon.reports.kpi_metrics import kpi_metrics_ctx
from daemon.settings import Settings
from daemon.store import Store, build_store

log = structlog.get_logger(__name__)
# Slack over the body limit so that aiohttp's own check never fires first: ours answers in JSON.
_BODY_SLACK = 1024


# Request ids: a random prefix per process (replicas differ) and a counter. uuid4 per
# webhook cost ~5% of the CPU of a batch-1 load (a system call for 16 random bytes).
_ID_PREFIX = os.urandom(3).hex()
_ID_COUNTER = itertools.count()


def _request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFF:010x}"


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id to every log line of this request, and echo it to the caller."""
    structlog.contextvars.clear_contextvars()
    request_id = request.headers.get("X-Request-Id") or _request_id()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    return response


def create_app(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    store: Store | None = None,
    clock: Clock | None = None,
) -> web.Application:
    """Build the app; the store opens and the pipeline starts when the app starts."""
    app = web.Application(
        middlewares=[context_middleware, error_middleware, *_api_auth(settings)],
        client_max_size=settings.intake.max_body_bytes + _BODY_SLACK,
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics if metrics is not None else build_metrics()
    app[STORE] = store if store is not None else build_store(settings.store)
    app[PIPELINE] = Pipeline(app[STORE], settings, app[METRICS], clock, models=settings.pipeline.enabled)
    app[STOPPING] = asyncio.Event()
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_worker_ctx)
    app.cleanup_ctx.append(delivery_ctx)
    app.cleanup_ctx.append(model_watch_ctx)
    app.cleanup_ctx.append(kpi_metrics_ctx)  # after the store: it reads incidents
    app.cleanup_ctx.append(_gc_ctx)  # last: everything loaded at start is in place
    app.on_shutdown.append(_mark_stopping)
    _routes(app)
    return app


def _api_auth(settings: Settings) -> list[Middleware]:
    """The API token middleware, when tokens are configured (``daemon/api_auth.py``)."""
    middleware = build_api_auth(settings.api, settings.sources)
    return [middleware] if middleware is not None else []


def _routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/alerts/{source}", ingest.ingest)
    app.router.add_put("/api/v1/alerts/{source}", ingest.ingest)  # Grafana's "HTTP Method: PUT"
    app.router.add_post("/api/v1/alerts/generic/{name}", ingest.ingest_generic)
    app.router.add_post("/api/v1/reports", reports_intake.submit_report)
    app.router.add_get("/api/v1/incidents", api.list_incidents)
    app.router.add_get("/api/v1/incidents/{id}", api.get_incident)
    app.router.add_post("/api/v1/incidents/{id}/ack", api.acknowledge)
    app.router.add_post("/api/v1/incidents/{id}/resolve", api.resolve)
    app.router.add_post("/api/v1/incidents/{id}/feedback", api.feedback)
    app.router.add_post("/api/v1/incidents/{id}/reopen", api_actions.reopen)
    app.router.add_post("/api/v1/incidents/{id}/note", api_actions.note)
    app.router.add_post("/api/v1/incidents/{id}/priority", api_actions.priority)
    app.router.add_post("/api/v1/incidents/{id}/assign", api_actions.assign)
    app.router.add_post("/api/v1/inbound/{connector}", api_actions.inbound)
    app.router.add_post("/api/v1/model/reload", api.reload_model)
    app.router.add_post("/api/v1/silences", api_silences.create)
    app.router.add_get("/api/v1/silences", api_silences.list_silences)
    app.router.add_delete("/api/v1/silences/{id}", api_silences.expire)
    app.router.add_get("/api/v1/deliveries", api.list_deliveries)
    app.router.add_post("/api/v1/deliveries/{id}/retry", api.retry_delivery)
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/readyz", api.readyz)
    app.router.add_get("/metrics", make_aiohttp_handler(app[METRICS].registry))
    app.router.add_get("/api/v1/openapi.json", openapi_handler)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE]
    await store.open()
    metrics = app[METRICS]
    metrics.intake_backlog.set(store.backlog())
    # ValueError: already registered on this registry (an app rebuilt in one process).
    with contextlib.suppress(ValueError):
        ProcessCollector(namespace="triaged", registry=metrics.registry)
    with contextlib.suppress(ValueError):
        metrics.registry.register(ConflictsCollector(lambda: getattr(store, "conflicts", {})))
    yield
    await store.close()


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.pipeline.enabled:
        # An ingest replica: what it accepts waits in the shared intake for the others.
        log.info("pipeline_disabled", backlog=app[STORE].backlog(), store=settings.store.kind)
        if settings.store.kind == "sqlite":
            log.warning(
                "pipeline_disabled_on_sqlite",
                note="nothing processes this intake until triaged starts on this file with the pipeline",
            )
        yield
        return
    stop = asyncio.Event()
    worker = asyncio.create_task(app[PIPELINE].run(stop), name="pipeline")
    app[WORKER] = worker
    log.info("pipeline_started", backlog=app[STORE].backlog())
    yield
    # Shutdown: in-flight requests have finished (aiohttp waits for them first);
    # the worker drains the intake within pipeline.shutdown_timeout, then stops.
    stop.set()
    try:
        await worker
    except Exception:
        log.exception("pipeline_crashed")
    log.info("pipeline_stopped", backlog=app[STORE].backlog())


async def _gc_ctx(app: web.Application) -> AsyncIterator[None]:
    """Move what start-up loaded (the model's vocabularies, modules, settings) out of the
    garbage collector's sight, and schedule the older generations' collections
    (``daemon/gc_schedule.py``).

    Why: a full collection walks every tracked object; with the model loaded that took
    40-160 ms on the event loop, every few seconds under load, and it was the whole
    p99 of webhook latency at a steady rate. Reference counting still frees everything
    at once; only reference cycles wait for the collector.
    """
    gc.collect()
    gc.freeze()
    previous = gc_schedule.tune()
    callback = gc_schedule.observe_pauses(app[METRICS].gc_pauses)
    full = asyncio.create_task(gc_schedule.run_collections(app[PIPELINE].lock), name="gc")
    yield
    full.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await full
    gc.callbacks.remove(callback)
    gc.set_threshold(*previous)
    gc.unfreeze()


async def _mark_stopping(app: web.Application) -> None:
    app[STOPPING].set()
