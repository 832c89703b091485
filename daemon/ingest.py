"""``POST /api/v1/alerts/{source}``: authenticate, bound, parse, store durably, then answer 202.

The handler does nothing after the store returns: dedup and correlation run in the
pipeline, so a sender is never kept waiting on them (Alertmanager gives up and
re-sends after 10 s, producing duplicates).
"""

from __future__ import annotations

import hmac
import time

import orjson
import structlog
from aiohttp import web

from daemon.errors import AuthError, NotFound, PayloadError, PayloadTooLarge, StoreUnavailable
from daemon.keys import METRICS, SETTINGS, STORE
from daemon.settings import SourceSettings
from daemon.sources import SOURCES

log = structlog.get_logger(__name__)


async def ingest(request: web.Request) -> web.Response:
    """Accept one webhook; 202 ``{"accepted": N}`` only after the alerts are durable."""
    t0 = time.perf_counter()
    name = request.match_info["source"]
    settings = request.app[SETTINGS]
    metrics = request.app[METRICS]
    source_settings: SourceSettings | None = getattr(settings.sources, name, None)
    parser = SOURCES.get(name)
    if parser is None or source_settings is None or not source_settings.enabled:
        raise NotFound(f"no source {name!r}; enabled sources: {', '.join(_enabled(request))}")
    structlog.contextvars.bind_contextvars(source=name)
    rejected = metrics.requests_rejected
    if not _authorized(request, source_settings):
        rejected.labels(source=name, reason="unauthorized").inc()
        raise AuthError()
    store = request.app[STORE]
    if store.backlog() >= settings.intake.max_backlog:
        # Shedding here keeps memory and latency bounded; senders retry on 503.
        rejected.labels(source=name, reason="overloaded").inc()
        raise StoreUnavailable("intake backlog is full")
    payload = await _read_json(request, name)
    try:
        result = parser(payload, time.time())
    except PayloadError:
        rejected.labels(source=name, reason="invalid_payload").inc()
        raise
    alerts = result.notification.alerts
    n_bad = len(result.rejected)
    metrics.alerts_received.labels(source=name).inc(len(alerts) + n_bad)
    if n_bad:
        metrics.alerts_rejected.labels(source=name, reason="invalid_alert").inc(n_bad)
        log.warning("alerts_rejected", count=n_bad, first=result.rejected[0].message)
    body: dict[str, object] = {"accepted": len(alerts)}
    if n_bad:
        body["rejected"] = [r.to_json() for r in result.rejected]
    if not alerts:
        if n_bad:
            rejected.labels(source=name, reason="no_valid_alert").inc()
            return web.json_response({"error": "no valid alert in the body", **body}, status=400)
        return web.json_response(body, status=202)
    try:
        await store.append(result.notification)
    except StoreUnavailable:
        rejected.labels(source=name, reason="store_unavailable").inc()
        raise
    metrics.alerts_accepted.labels(source=name).inc(len(alerts))
    metrics.ingest_seconds.labels(source=name).observe(time.perf_counter() - t0)
    return web.json_response(body, status=202, dumps=_dumps)


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def _enabled(request: web.Request) -> list[str]:
    sources = request.app[SETTINGS].sources
    return [n for n in SOURCES if getattr(sources, n).enabled]


def _authorized(request: web.Request, source: SourceSettings) -> bool:
    if source.token is None:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    expected = source.token.get_secret_value()
    # compare_digest on both branches so timing says nothing about which part was wrong.
    ok_scheme = hmac.compare_digest(scheme.lower().encode(), b"bearer")
    ok_token = hmac.compare_digest(given.strip().encode(), expected.encode())
    return ok_scheme and ok_token


async def _read_json(request: web.Request, name: str) -> object:
    metrics = request.app[METRICS]
    limit = request.app[SETTINGS].intake.max_body_bytes
    too_large = PayloadTooLarge(f"body exceeds the limit of {limit} bytes (intake.max_body_bytes)")
    if request.content_length is not None and request.content_length > limit:
        metrics.requests_rejected.labels(source=name, reason="too_large").inc()
        raise too_large
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        metrics.requests_rejected.labels(source=name, reason="too_large").inc()
        raise too_large from None
    if len(raw) > limit:
        metrics.requests_rejected.labels(source=name, reason="too_large").inc()
        raise too_large
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        metrics.requests_rejected.labels(source=name, reason="invalid_json").inc()
        raise PayloadError(f"body is not valid JSON: {err}") from None
