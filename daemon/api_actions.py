"""``POST /api/v1/incidents/{id}/reopen|note|priority|assign`` and the trackers' inbound webhooks.

Thin handlers: validation here, the change in ``daemon/actions.py``.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from daemon import actions
from daemon.errors import AuthError, NotFound, PayloadError, PayloadTooLarge
from daemon.keys import PIPELINE, SETTINGS, STORE
from daemon.models import Incident

MAX_BODY = 64 * 1024
INBOUND_MAX_BODY = 1024 * 1024
# Incidents scanned to find a ticket's incident (inbound webhooks are human-rate).
INBOUND_SCAN = 5000


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise PayloadError(f"body over {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise PayloadError(f"body is not valid JSON: {err}") from None
    if not isinstance(body, dict):
        raise PayloadError("expected a JSON object")
    return body


def _text(body: dict[str, Any], key: str, limit: int, default: str = "") -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > limit:
        raise PayloadError(f"{key} must be a string of at most {limit} characters")
    return value.strip()


def _actor(body: dict[str, Any]) -> str:
    return _text(body, "actor", 200, "api") or "api"


def _view(incident: Incident) -> web.Response:
    return _json(incident.summary_json())


async def reopen(request: web.Request) -> web.Response:
    """Reopen a resolved incident (idempotent: an open one is returned as is)."""
    body = await _body(request)
    incident = await actions.reopen(
        request.app[PIPELINE], request.match_info["id"], _actor(body), _text(body, "note", 10_000)
    )
    return _view(incident)


async def note(request: web.Request) -> web.Response:
    """Add a note (timeline and trackers)."""
    body = await _body(request)
    text = _text(body, "note", 10_000)
    incident = await actions.add_note(request.app[PIPELINE], request.match_info["id"], _actor(body), text)
    return _view(incident)


async def priority(request: web.Request) -> web.Response:
    """Set the priority by hand: ``{"priority": "P2", "actor": ..., "note": ...}``."""
    body = await _body(request)
    incident = await actions.set_priority(
        request.app[PIPELINE],
        request.match_info["id"],
        _actor(body),
        _text(body, "priority", 2),
        _text(body, "note", 10_000),
    )
    return _view(incident)


async def assign(request: web.Request) -> web.Response:
    """Reassign: ``{"team": ..., "assignee": ..., "actor": ..., "note": ...}``."""
    body = await _body(request)
    incident = await actions.assign(
        request.app[PIPELINE],
        request.match_info["id"],
        _actor(body),
        _text(body, "team", 200) or None,
        _text(body, "assignee", 200) or None,
        _text(body, "note", 10_000),
    )
    return _view(incident)


async def inbound(request: web.Request) -> web.Response:
    """``POST /api/v1/inbound/{connector}``: a tracker tells us a person acted on a ticket.

    Authenticated by the tracker's own signature or token (the connector's
    ``inbound_secret``); applied once per tracker event id; never echoed back to it.
    """
    from connectors.inbound import INBOUND
    from connectors.inbound.base import InboundAuthError, InboundError

    name = request.match_info["connector"]
    cfg = request.app[SETTINGS].connectors.get(name)
    parse = INBOUND.get(cfg.kind) if cfg is not None else None
    if cfg is None or parse is None:
        raise NotFound(f"no connector {name!r} that takes inbound webhooks")
    secret = (cfg.model_extra or {}).get("inbound_secret")
    if not secret:
        raise AuthError()  # never accept unauthenticated changes to incidents
    raw = await request.read()
    if len(raw) > INBOUND_MAX_BODY:
        raise PayloadTooLarge(f"body over {INBOUND_MAX_BODY} bytes")
    try:
        events = parse(request.headers, raw, str(secret))
    except InboundAuthError:
        raise AuthError() from None
    except InboundError as err:
        raise PayloadError(str(err)) from None
    applied, unknown = 0, 0
    for event in events:
        incident_id = await _find(request, name, str(event.ref))
        if incident_id is None:
            unknown += 1
            continue
        await actions.apply_inbound(request.app[PIPELINE], incident_id, name, event)
        applied += 1
    return _json({"events": len(events), "applied": applied, "unknown_tickets": unknown})


async def _find(request: web.Request, connector: str, ref: str) -> str | None:
    """The incident whose ticket in ``connector`` is ``ref`` (any of its ids, keys or number).

    Newest incidents first, only those routed to the connector; tickets are kept with
    the outbox, so each candidate's detail is read. Inbound webhooks come at human rate;
    an index from ticket to incident would make this O(1) (not built).
    """
    store = request.app[STORE]
    for incident in await store.list_incidents(None, INBOUND_SCAN):
        if connector not in incident.external:
            continue
        detail = await store.get_incident(incident.id)
        ticket = detail.incident.external.get(connector) if detail else None
        if isinstance(ticket, dict) and ref in {str(v) for v in ticket.values() if isinstance(v, str | int)}:
            return incident.id
    return None
