"""``POST /api/v1/incidents/{id}/reopen|note|priority|assign`` and the trackers' inbound webhooks.

Thin handlers: validation here, the change in ``daemon/actions.py``.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from daemon import actions
from daemon.api_body import actor, read_object, text
from daemon.errors import AuthError, NotFound, PayloadError, PayloadTooLarge
from daemon.keys import PIPELINE, SETTINGS, STORE
from daemon.models import Incident

INBOUND_MAX_BODY = 1024 * 1024


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _view(incident: Incident) -> web.Response:
    return _json(incident.summary_json())


async def reopen(request: web.Request) -> web.Response:
    """Reopen a resolved incident (idempotent: an open one is returned as is)."""
    body = await read_object(request)
    incident = await actions.reopen(
        request.app[PIPELINE], request.match_info["id"], actor(body), text(body, "note", 10_000)
    )
    return _view(incident)


async def note(request: web.Request) -> web.Response:
    """Add a note (timeline and trackers)."""
    body = await read_object(request)
    note_text = text(body, "note", 10_000)
    incident = await actions.add_note(request.app[PIPELINE], request.match_info["id"], actor(body), note_text)
    return _view(incident)


async def priority(request: web.Request) -> web.Response:
    """Set the priority by hand: ``{"priority": "P2", "actor": ..., "note": ...}``."""
    body = await read_object(request)
    incident = await actions.set_priority(
        request.app[PIPELINE],
        request.match_info["id"],
        actor(body),
        text(body, "priority", 2),
        text(body, "note", 10_000),
    )
    return _view(incident)


async def assign(request: web.Request) -> web.Response:
    """Reassign: ``{"team": ..., "assignee": ..., "actor": ..., "note": ...}``."""
    body = await read_object(request)
    incident = await actions.assign(
        request.app[PIPELINE],
        request.match_info["id"],
        actor(body),
        text(body, "team", 200) or None,
        text(body, "assignee", 200) or None,
        text(body, "note", 10_000),
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
    if cfg.inbound_secret is None:
        raise AuthError()  # never accept unauthenticated changes to incidents
    secret = cfg.inbound_secret.get_secret_value()
    raw = await request.read()
    if len(raw) > INBOUND_MAX_BODY:
        raise PayloadTooLarge(f"body over {INBOUND_MAX_BODY} bytes")
    try:
        events = parse(request.headers, raw, secret)
    except InboundAuthError:
        raise AuthError() from None
    except InboundError as err:
        raise PayloadError(str(err)) from None
    applied, unknown = 0, 0
    found: dict[str, str | None] = {}  # a body often carries several changes of one ticket
    for event in events:
        ref = str(event.ref)
        if ref not in found:
            found[ref] = await _find(request, name, ref)
        incident_id = found[ref]
        if incident_id is None:
            unknown += 1
            continue
        await actions.apply_inbound(request.app[PIPELINE], incident_id, name, event)
        applied += 1
    return _json({"events": len(events), "applied": applied, "unknown_tickets": unknown})


async def _find(request: web.Request, connector: str, ref: str) -> str | None:
    """The incident whose ticket in ``connector`` is ``ref`` (the ``IncidentRef.key`` its
    open stored), from the store's ticket index: trackers send webhooks for every ticket
    of a project, and a scan of recent incidents both cost O(incidents) per webhook and
    missed tickets older than the scan's window."""
    return await request.app[STORE].incident_of_ticket(connector, ref)
