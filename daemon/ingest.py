"""``POST /api/v1/alerts/{source}``: authenticate, bound, parse, store durably, then answer 202.

The handler does nothing after the store returns: dedup and correlation run in the
pipeline, so a sender is never kept waiting on them (Alertmanager gives up and
re-sends after 10 s, producing duplicates).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import orjson
import structlog
from aiohttp import web

from daemon.auth import authorized, needs_body
from daemon.errors import AuthError, NotFound, PayloadError, PayloadTooLarge, StoreUnavailable
from daemon.keys import METRICS, SETTINGS, STORE
from daemon.settings import CloudwatchSourceSettings, SourceSettings
from daemon.sources import BODY_PARSERS, SOURCES, BodyParser, Parser, ParseResult, sns
from daemon.sources.generic import GenericParser
from daemon.sources.limits import check_depth, enforce

log = structlog.get_logger(__name__)


async def ingest(request: web.Request) -> web.Response:
    """Accept one webhook (POST, or PUT as Grafana may send); 202 only after the alerts are durable."""
    name = request.match_info["source"]
    sources = request.app[SETTINGS].sources
    source_settings: SourceSettings | None = getattr(sources, name, None)
    parser = SOURCES.get(name)
    if parser is None or source_settings is None or not source_settings.enabled:
        raise NotFound(f"no source {name!r}; enabled sources: {', '.join(_enabled(request))}")
    return await accept(request, name, parser, source_settings, BODY_PARSERS.get(name))


async def ingest_generic(request: web.Request) -> web.Response:
    """``/api/v1/alerts/generic/{name}``: a JSON body read through the named mapping."""
    mapping_name = request.match_info["name"]
    generic = request.app[SETTINGS].sources.generic
    mapping = generic.mappings.get(mapping_name)
    if not generic.enabled or mapping is None:
        names = ", ".join(sorted(generic.mappings)) if generic.enabled else ""
        raise NotFound(f"no generic mapping {mapping_name!r}; configured: {names or 'none'}")
    return await accept(request, "generic", GenericParser(mapping_name, mapping), generic)


async def accept(
    request: web.Request,
    name: str,
    parser: Parser,
    source: SourceSettings,
    body_parser: BodyParser | None = None,
) -> web.Response:
    """The edge every sender shares: auth, limits, parse, one durable append, then the answer."""
    t0 = time.perf_counter()
    app = request.app
    settings, metrics = app[SETTINGS], app[METRICS]
    structlog.contextvars.bind_contextvars(source=name)
    refused = metrics.requests_rejected
    raw = await read_body(request, name) if needs_body(source) else None
    if not authorized(name, source, request.headers, raw or b"", request.remote):
        refused.labels(source=name, reason="unauthorized").inc()
        raise AuthError()
    store = app[STORE]
    if store.backlog() >= settings.intake.max_backlog:
        # Shedding here keeps memory and latency bounded; senders retry on 503.
        refused.labels(source=name, reason="overloaded").inc()
        raise StoreUnavailable("intake backlog is full")
    if raw is None:
        raw = await read_body(request, name)
    received_at = time.time()
    result = body_parser(raw, received_at, settings.intake) if body_parser is not None else None
    if not isinstance(result, ParseResult):
        if result is not None:
            metrics.webhooks_general_path.labels(source=name, reason=result).inc()
        parsed = await _parse(request, name, parser, source, raw, received_at)
        if isinstance(parsed, web.Response):
            return parsed
        result = parsed
    alerts = result.notification.alerts
    n_bad = len(result.rejected)
    metrics.alerts_received.labels(source=name).inc(len(alerts) + n_bad)
    if n_bad:
        metrics.alerts_rejected.labels(source=name, reason="invalid_alert").inc(n_bad)
        log.warning("alerts_rejected", count=n_bad, first=result.rejected[0].message[:300])
    body: dict[str, object] = {"accepted": len(alerts)}
    if n_bad:
        body["rejected"] = [r.to_json() for r in result.rejected]
    if not alerts:
        if n_bad:
            refused.labels(source=name, reason="no_valid_alert").inc()
            return web.json_response({"error": "no valid alert in the body", **body}, status=400)
        return web.json_response(body, status=202)
    try:
        await store.append(result.notification)
    except StoreUnavailable:
        refused.labels(source=name, reason="store_unavailable").inc()
        raise
    metrics.alerts_accepted.labels(source=name).inc(len(alerts))
    metrics.ingest_seconds.labels(source=name).observe(time.perf_counter() - t0)
    return web.json_response(body, status=202, dumps=_dumps)


async def _parse(
    request: web.Request, name: str, parser: Parser, source: SourceSettings, raw: bytes, received_at: float
) -> ParseResult | web.Response:
    """The general path: decode, check depth, parse, enforce limits, each refusal counted
    and worded; an SNS subscription message is answered here (the response)."""
    refused = request.app[METRICS].requests_rejected
    payload = decode(raw, name, request)
    if isinstance(source, CloudwatchSourceSettings):
        early = await _sns_envelope(payload, source)
        if early is not None:
            return early
    try:
        return enforce(parser(payload, received_at), request.app[SETTINGS].intake)
    except PayloadTooLarge:
        refused.labels(source=name, reason="too_many_alerts").inc()
        raise
    except PayloadError:
        refused.labels(source=name, reason="invalid_payload").inc()
        raise


async def _sns_envelope(payload: object, source: CloudwatchSourceSettings) -> web.Response | None:
    """Verify an SNS message; answer subscription messages here (``None``: a notification to parse)."""
    if not isinstance(payload, Mapping):
        raise PayloadError("expected a JSON object (an SNS message)")
    if source.verify_signature:
        await sns.verify(payload, source)
    topic = payload.get("TopicArn")
    if source.topic_arns and topic not in source.topic_arns:
        raise AuthError()
    kind = payload.get("Type")
    if kind == "SubscriptionConfirmation":
        confirmed = await sns.confirm(payload, source)
        return web.json_response({"accepted": 0, "subscription_confirmed": confirmed}, status=200)
    if kind == "UnsubscribeConfirmation":
        return web.json_response({"accepted": 0}, status=200)
    return None


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def _enabled(request: web.Request) -> list[str]:
    sources = request.app[SETTINGS].sources
    return [n for n in SOURCES if getattr(sources, n).enabled]


async def read_body(request: web.Request, name: str) -> bytes:
    """The whole body, refused with 413 past ``intake.max_body_bytes`` (by header or by count)."""
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
    return raw


def decode(raw: bytes, name: str, request: web.Request) -> object:
    """JSON, nested no deeper than ``intake.max_depth``; anything else is a counted 400."""
    metrics = request.app[METRICS]
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        metrics.requests_rejected.labels(source=name, reason="invalid_json").inc()
        raise PayloadError(f"body is not valid JSON: {err}") from None
    try:
        check_depth(payload, request.app[SETTINGS].intake.max_depth)
    except PayloadError:
        metrics.requests_rejected.labels(source=name, reason="too_deep").inc()
        raise
    return payload
