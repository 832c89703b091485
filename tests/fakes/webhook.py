"""A receiver of triaged's generic webhook: stores one 'ticket' per incident marker.

Behaves like a careful receiver: it verifies the HMAC signature when a secret is set,
answers 401 to a wrong bearer token, and treats a repeated ``Idempotency-Key`` as done.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson
from aiohttp import web

from fakes.base import FAKE, Ticket, error, json_response, make_app

NAME = "webhook"
TOKEN = "webhook-token-123"
SECRET = "webhook-hmac-secret"
routes = web.RouteTableDef()


@routes.route("OPTIONS", "/hook")
async def options(request: web.Request) -> web.Response:
    """Preflight used by the healthcheck."""
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return error(401, "bad token")
    return web.Response(status=204)


@routes.post("/hook")
async def hook(request: web.Request) -> web.Response:
    """Apply open/update/resolve to the ticket of the body's marker."""
    fake = request.app[FAKE]
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return error(401, "bad token")
    raw = await request.read()
    stamp = request.headers.get("X-Triaged-Timestamp", "")
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    if request.headers.get("X-Triaged-Signature") != f"sha256={expected}":
        return error(401, "bad signature")
    body = orjson.loads(raw)
    marker = body["marker"]
    tickets = fake.by_marker(marker)
    if body["action"] == "open":
        if not body.get("title"):
            return error(400, "title is required")
        key = fake.new_key("hook-")
        fake.tickets[key] = Ticket(key, body["title"], priority=body["priority"], body=body, marker=marker)
        return json_response({"id": key}, 201)
    if not tickets:
        return error(404, "unknown incident")
    ticket = tickets[0]
    if body["action"] == "resolve":
        ticket.status = "resolved"
    else:
        ticket.priority = body["priority"]
        if body.get("note"):
            ticket.comments.append(body["note"])
    return web.Response(status=204)


def create_app() -> web.Application:
    """The fake receiver."""
    return make_app(list(routes))


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the connector under test, pointed at this fake."""
    return {"endpoint": f"{base_url}/hook", "bearer_token": TOKEN, "hmac_secret": SECRET, "timeout": 1.0}
