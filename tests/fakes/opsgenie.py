"""A fake Opsgenie Alert API v2 with asynchronous request processing.

As documented: ``Authorization: GenieKey <key>`` (401 ``Could not authenticate``
otherwise); create/note/priority/acknowledge/close answer 202 ``{"result": "Request will
be processed", "took", "requestId"}``; ``GET /v2/alerts/requests/{id}`` tells the outcome
(404 until processed); one open alert per alias (a repeated create raises its count);
actions on an unknown alias are accepted and then fail with "Alert does not exist";
errors are ``{"message", "took", "requestId"}`` (422 adds ``errors``).

Processing is immediate, but ``Account.pending_polls`` makes the status endpoint answer
404 that many times first, and ``Account.refuse`` makes the next request fail after its
202 (not applied), so tests can drive the connector's polling.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FAKE, FakeTracker, Ticket, json_response, make_app

NAME = "opsgenie"
API_KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
DONE = {
    "Create": "Created alert",
    "Update priority": "Updated priority",
    "Add note": "Added note",
    "Acknowledge": "Acknowledged",
    "Close": "Closed",
}
routes = web.RouteTableDef()


@dataclass
class Account:
    """Request statuses and the switches tests flip."""

    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending_polls: int = 0  # status polls answered 404 before the outcome shows
    refuse: str | None = None  # the next request fails after its 202, with this status
    counts: dict[str, int] = field(default_factory=dict)  # alert id -> dedup count


ACCOUNT = web.AppKey("opsgenie_account", Account)


def _answer(body: dict[str, Any], status: int = 200) -> web.Response:
    return json_response({**body, "took": 0.004, "requestId": str(uuid.uuid4())}, status)


def _error(status: int, message: str, errors: dict[str, str] | None = None) -> web.Response:
    return _answer({"message": message, **({"errors": errors} if errors else {})}, status)


def _authorized(request: web.Request) -> bool:
    return request.headers.get("Authorization") == f"GenieKey {API_KEY}"


def _alert(fake: FakeTracker, identifier: str, kind: str) -> Ticket | None:
    """By id, or by alias: the open alert of the alias, else its latest."""
    if kind == "id":
        return fake.tickets.get(identifier)
    tickets = fake.by_marker(identifier)
    open_ones = [t for t in tickets if t.status != "resolved"]
    candidates = open_ones or tickets
    return candidates[-1] if candidates else None


def _accept(request: web.Request, action: str, apply: Any) -> web.Response:
    """Answer 202 and record the outcome of ``apply()`` (an alert, or a failure status)."""
    account = request.app[ACCOUNT]
    request_id = str(uuid.uuid4())
    if account.refuse is not None:
        outcome: Ticket | str = account.refuse
        account.refuse = None
    else:
        outcome = apply()
    ok = isinstance(outcome, Ticket)
    alert = outcome if isinstance(outcome, Ticket) else None
    account.statuses[request_id] = {
        "success": ok,
        "action": action,
        "processedAt": "2024-05-01T10:00:00.000Z",
        "integrationId": "c9cec2cb-e782-4ebb-bc1d-1b2fa703cf03",
        "isSuccess": ok,
        "status": DONE[action] if alert else outcome,
        "alertId": alert.key if alert else "",
        "alias": (alert.marker or "") if alert else "",
    }
    return json_response({"result": "Request will be processed", "took": 0.003, "requestId": request_id}, 202)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    body = orjson.loads(raw) if raw.strip() else {}
    return body if isinstance(body, dict) else {}


@routes.post("/v2/alerts")
async def create(request: web.Request) -> web.Response:
    """Create Alert: one open alert per alias; a repeat only counts."""
    if not _authorized(request):
        return _error(401, "Could not authenticate")
    body = await _body(request)
    if not body.get("message"):
        return _error(422, "Request body is not valid", {"message": "Message can not be empty."})
    if body.get("priority", "P3") not in PRIORITIES:
        return _error(422, "Request body is not valid", {"priority": "Priority should be one of P1..P5"})
    fake: FakeTracker = request.app[FAKE]
    account = request.app[ACCOUNT]

    def apply() -> Ticket:
        alias = str(body.get("alias") or uuid.uuid4())
        current = _alert(fake, alias, "alias")
        if current is not None and current.status != "resolved":
            account.counts[current.key] += 1
            return current
        key = str(uuid.uuid4())
        ticket = Ticket(key, body["message"][:130], priority=body.get("priority", "P3"), marker=alias)
        ticket.body, ticket.raw = body.get("description", ""), body
        fake.tickets[key] = ticket
        account.counts[key] = 1
        return ticket

    return _accept(request, "Create", apply)


def _action(name: str, change: Any) -> Any:
    """An alert action addressed by ``{identifier}?identifierType=``: 202, outcome later."""

    async def handler(request: web.Request) -> web.Response:
        if not _authorized(request):
            return _error(401, "Could not authenticate")
        body = await _body(request)
        kind = request.query.get("identifierType", "id")
        fake: FakeTracker = request.app[FAKE]

        def apply() -> Ticket | str:
            ticket = _alert(fake, request.match_info["identifier"], kind)
            if ticket is None:
                return "Alert does not exist"
            change(ticket, body)
            return ticket

        if name == "Update priority" and body.get("priority") not in PRIORITIES:
            return _error(422, "Request body is not valid", {"priority": "Priority should be one of P1..P5"})
        if name == "Add note" and not body.get("note"):
            return _error(422, "Request body is not valid", {"note": "Note can not be empty."})
        return _accept(request, name, apply)

    return handler


def _set_priority(ticket: Ticket, body: dict[str, Any]) -> None:
    ticket.priority = body["priority"]


def _note(ticket: Ticket, body: dict[str, Any]) -> None:
    ticket.comments.append(body["note"])


def _acknowledge(ticket: Ticket, body: dict[str, Any]) -> None:
    if ticket.status == "open":
        ticket.status = "acknowledged"
    if body.get("note"):
        ticket.comments.append(body["note"])


def _close(ticket: Ticket, body: dict[str, Any]) -> None:
    ticket.status = "resolved"
    if body.get("note"):
        ticket.comments.append(body["note"])


routes.put("/v2/alerts/{identifier}/priority")(_action("Update priority", _set_priority))
routes.post("/v2/alerts/{identifier}/notes")(_action("Add note", _note))
routes.post("/v2/alerts/{identifier}/acknowledge")(_action("Acknowledge", _acknowledge))
routes.post("/v2/alerts/{identifier}/close")(_action("Close", _close))


@routes.get("/v2/alerts/requests/{request_id}")
async def request_status(request: web.Request) -> web.Response:
    """Get Request Status: 404 until processed (see ``Account.pending_polls``)."""
    if not _authorized(request):
        return _error(401, "Could not authenticate")
    account = request.app[ACCOUNT]
    status = account.statuses.get(request.match_info["request_id"])
    if status is None or account.pending_polls > 0:
        account.pending_polls = max(0, account.pending_polls - 1)
        return _error(404, "Request not found. It might not be processed, yet.")
    return _answer({"data": status})


def _alert_json(request: web.Request, ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.key,
        "tinyId": str(list(request.app[FAKE].tickets).index(ticket.key) + 1),
        "alias": ticket.marker,
        "message": ticket.title,
        "status": "closed" if ticket.status == "resolved" else "open",
        "acknowledged": ticket.status == "acknowledged",
        "count": request.app[ACCOUNT].counts.get(ticket.key, 1),
        "priority": ticket.priority,
        "tags": ticket.raw.get("tags", []),
    }


@routes.get("/v2/alerts/{identifier}/notes")
async def list_notes(request: web.Request) -> web.Response:
    """List Alert Notes (``order=desc`` newest first, ``limit``)."""
    if not _authorized(request):
        return _error(401, "Could not authenticate")
    kind = request.query.get("identifierType", "id")
    ticket = _alert(request.app[FAKE], request.match_info["identifier"], kind)
    if ticket is None:
        return _error(404, "Alert does not exist")
    notes = [{"note": n, "owner": "triaged", "createdAt": "2024-05-01T10:00:00Z"} for n in ticket.comments]
    if request.query.get("order") == "desc":
        notes.reverse()
    limit = int(request.query.get("limit", "20"))
    return _answer({"data": notes[:limit], "paging": {}})


@routes.get("/v2/alerts/{identifier}")
async def get_alert(request: web.Request) -> web.Response:
    """Get Alert by id or alias; 404 ``Alert does not exist``."""
    if not _authorized(request):
        return _error(401, "Could not authenticate")
    kind = request.query.get("identifierType", "id")
    ticket = _alert(request.app[FAKE], request.match_info["identifier"], kind)
    if ticket is None:
        return _error(404, "Alert does not exist")
    return _answer({"data": _alert_json(request, ticket)})


@routes.get("/v2/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    """List Alerts (``limit``)."""
    if not _authorized(request):
        return _error(401, "Could not authenticate")
    limit = int(request.query.get("limit", "20"))
    tickets = list(request.app[FAKE].tickets.values())[:limit]
    return _answer({"data": [_alert_json(request, t) for t in tickets]})


def create_app() -> web.Application:
    """The fake Alert API."""
    app = make_app(list(routes))
    app[ACCOUNT] = Account()
    return app


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the connector under test, pointed at this fake (fast status polling)."""
    return {"endpoint": base_url, "api_key": API_KEY, "timeout": 1.0, "confirm_interval": 0.05}
