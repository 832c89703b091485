"""A fake ServiceNow instance: the Table API on ``incident`` (and a group lookup).

Behaves like an out-of-box instance for the calls triaged makes: Basic or Bearer auth
(401 ``User Not Authenticated`` otherwise), ``{"result": ...}`` answers, 201 on create
with a ``Location`` header, ``priority`` derived from impact x urgency by the default
lookup matrix, a data policy that makes ``close_code``/``close_notes`` mandatory for
Resolved (403 ``Data Policy Exception``), closed incidents read-only (403 ACL), journal
fields (``work_notes``/``comments``) that append and read back as display values, and
encoded queries whose unknown parts are ignored (as documented).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FAKE, FakeTracker, Ticket, json_response, make_app

NAME = "servicenow"
USER = "triaged.integration"
PASSWORD = "servicenow-password-123"
TOKEN = "servicenow-oauth-token-456"
GROUP = "287ebd7da9fe198100f92cc8d1d2154e"
TABLE = "/api/now/table/incident"

# The out-of-box priority lookup: (impact, urgency) -> priority.
PRIORITY_MATRIX = {
    (1, 1): 1, (1, 2): 2, (1, 3): 3,
    (2, 1): 2, (2, 2): 3, (2, 3): 4,
    (3, 1): 3, (3, 2): 4, (3, 3): 5,
}  # fmt: skip
STATUS = {"1": "open", "2": "acknowledged", "3": "acknowledged", "6": "resolved", "7": "resolved"}
JOURNALS = ("work_notes", "comments")


@dataclass
class Instance:
    """Fake-specific state: journal entries and switches tests flip."""

    journals: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # sys_id -> field -> entries
    keep_state: bool = False  # a business rule that silently keeps the state on resolve
    groups: set[str] = field(default_factory=lambda: {GROUP})


INSTANCE = web.AppKey("servicenow_instance", Instance)
routes = web.RouteTableDef()


def _error(status: int, message: str, detail: str) -> web.Response:
    return json_response({"error": {"message": message, "detail": detail}, "status": "failure"}, status)


def _authorized(request: web.Request) -> bool:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return request.headers.get("Authorization") in (f"Basic {basic}", f"Bearer {TOKEN}")


def _unauthenticated() -> web.Response:
    return _error(401, "User Not Authenticated", "Required to provide Auth information")


def _sync(ticket: Ticket) -> None:
    """Refresh the vendor-neutral view from the record."""
    record = ticket.raw
    priority = PRIORITY_MATRIX.get((int(record["impact"]), int(record["urgency"])), 3)
    record["priority"] = str(priority)
    ticket.priority = f"P{priority}"
    ticket.status = STATUS.get(record["state"], "open")
    ticket.title = record["short_description"]
    ticket.body = record["description"]


def _view(request: web.Request, ticket: Ticket) -> dict[str, Any]:
    """The record as the Table API returns it, honouring sysparm_fields/display_value."""
    record = dict(ticket.raw)
    display = request.query.get("sysparm_display_value") == "true"
    for name in JOURNALS:
        entries = request.app[INSTANCE].journals.get(ticket.key, {}).get(name, [])
        label = "Work notes" if name == "work_notes" else "Additional comments"
        # Journal fields read back empty, or as the whole journal (newest first) as display value.
        newest_first = reversed(list(enumerate(entries)))
        text = "".join(
            f"2024-05-01 10:00:{i:02d} - Triaged Integration ({label})\n{e}\n\n" for i, e in newest_first
        )
        record[name] = text if display else ""
    fields = request.query.get("sysparm_fields")
    if fields:
        record = {k: v for k, v in record.items() if k in fields.split(",")}
    return record


def _find(request: web.Request, sys_id: str) -> Ticket | None:
    return request.app[FAKE].tickets.get(sys_id)


def _apply(request: web.Request, ticket: Ticket, body: dict[str, Any]) -> web.Response | None:
    """Write fields onto a record, as business rules and data policies allow; None if fine."""
    record = ticket.raw
    if record["state"] == "7":
        return _error(403, "Operation Failed", "ACL Exception Update Failed due to security constraints")
    merged = {**record, **{k: str(v) for k, v in body.items() if k not in JOURNALS}}
    if merged["state"] == "6" and (not merged.get("close_code") or not merged.get("close_notes")):
        return _error(
            403,
            "Operation Failed",
            "Data Policy Exception: \n The following fields are mandatory: "
            "Resolution code, Resolution notes\n",
        )
    if request.app[INSTANCE].keep_state:
        merged["state"] = record["state"]
    record.update(merged)
    journal = request.app[INSTANCE].journals.setdefault(ticket.key, {})
    for name in JOURNALS:
        if body.get(name):
            journal.setdefault(name, []).append(str(body[name]))
            ticket.comments.append(str(body[name]))
    _sync(ticket)
    return None


@routes.post(TABLE)
async def create(request: web.Request) -> web.Response:
    """Table - POST: insert one incident; 201 with the record and a Location header."""
    if not _authorized(request):
        return _unauthenticated()
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _error(400, "Exception while reading request", "The payload is not valid JSON.")
    fake: FakeTracker = request.app[FAKE]
    sys_id = secrets.token_hex(16)
    number = f"INC{10000 + fake.next_id:07d}"
    fake.next_id += 1
    record: dict[str, Any] = {
        "sys_id": sys_id,
        "number": number,
        "state": "1",
        "impact": "3",
        "urgency": "3",
        "short_description": "",
        "description": "",
        "correlation_id": "",
        "correlation_display": "",
        "assignment_group": "",
        "close_code": "",
        "close_notes": "",
    }
    ticket = Ticket(sys_id, "", raw=record)
    fake.tickets[sys_id] = ticket
    refused = _apply(request, ticket, body)
    if refused is not None:
        del fake.tickets[sys_id]
        return refused
    ticket.marker = record["correlation_id"] or None
    location = str(request.url.with_path(f"{TABLE}/{sys_id}").with_query(None))
    response = json_response({"result": _view(request, ticket)}, 201)
    response.headers["Location"] = location
    return response


@routes.patch(TABLE + "/{sys_id}")
async def update(request: web.Request) -> web.Response:
    """Table - PATCH: update the named fields; 404 for an unknown sys_id."""
    if not _authorized(request):
        return _unauthenticated()
    ticket = _find(request, request.match_info["sys_id"])
    if ticket is None:
        return _error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
    refused = _apply(request, ticket, orjson.loads(await request.read()))
    return refused or json_response({"result": _view(request, ticket)})


@routes.get(TABLE + "/{sys_id}")
async def get_one(request: web.Request) -> web.Response:
    """Table - GET one record."""
    if not _authorized(request):
        return _unauthenticated()
    ticket = _find(request, request.match_info["sys_id"])
    if ticket is None:
        return _error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
    return json_response({"result": _view(request, ticket)})


@routes.get(TABLE)
async def query(request: web.Request) -> web.Response:
    """Table - GET many: ``field=value`` terms of sysparm_query; unknown fields are ignored."""
    if not _authorized(request):
        return _unauthenticated()
    tickets = list(request.app[FAKE].tickets.values())
    for term in request.query.get("sysparm_query", "").split("^"):
        name, sep, value = term.partition("=")
        if sep and tickets and name in tickets[0].raw:
            tickets = [t for t in tickets if t.raw.get(name) == value]
    limit = int(request.query.get("sysparm_limit", "10000"))
    return json_response({"result": [_view(request, t) for t in tickets[:limit]]})


@routes.get("/api/now/table/sys_user_group/{sys_id}")
async def group(request: web.Request) -> web.Response:
    """Table - GET one sys_user_group."""
    if not _authorized(request):
        return _unauthenticated()
    sys_id = request.match_info["sys_id"]
    if sys_id not in request.app[INSTANCE].groups:
        return _error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
    return json_response({"result": {"sys_id": sys_id}})


def create_app() -> web.Application:
    """The fake instance."""
    app = make_app(list(routes))
    app[INSTANCE] = Instance()
    return app


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the connector under test, pointed at this fake (Basic auth)."""
    return {"endpoint": base_url, "username": USER, "password": PASSWORD, "timeout": 1.0}
