"""A Redmine REST API (JSON) stand-in for the issue calls triaged makes.

As documented and as Redmine behaves: ``X-Redmine-API-Key`` (or ``?key=``) checked (401
with an empty body), ``POST /issues.json`` 201 with ``{"issue": ...}``, 422 with
``{"errors": [...]}``, ``PUT`` 204 with no body, journals for notes and changes, lists
of open issues unless ``status_id`` says otherwise, ``cf_<id>`` filters only for custom
fields "Used as a filter" (others are ignored), custom fields not enabled for the
project dropped silently, and a ``status_id`` the workflow forbids ignored silently.
The default data's ids: priorities 1 Low .. 5 Immediate, statuses 1 New .. 6 Rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FAKE, FakeTracker, Ticket, json_response, make_app

NAME = "redmine"
API_KEY = "fake-redmine-api-key-0123456789abcdef"
PROJECT = {"id": 7, "identifier": "ops", "name": "Operations"}
MARKER_FIELD = 12
PRIORITY_NAMES = {1: "Low", 2: "Normal", 3: "High", 4: "Urgent", 5: "Immediate"}
PRIORITIES = {5: "P1", 4: "P2", 3: "P3", 2: "P4", 1: "P5"}  # back to triaged's P1..P5
STATUSES = {1: "New", 2: "In Progress", 3: "Resolved", 4: "Feedback", 5: "Closed", 6: "Rejected"}
CLOSED = {5, 6}
TRACKERS = {1: "Bug", 2: "Feature", 3: "Support"}


@dataclass
class RedmineState:
    """Site configuration the tests may change."""

    enabled_fields: set[int] = field(default_factory=lambda: {MARKER_FIELD})
    filterable_fields: set[int] = field(default_factory=lambda: {MARKER_FIELD})
    allowed_statuses: set[int] = field(default_factory=lambda: set(STATUSES))
    next_journal: int = 300


STATE = web.AppKey("redmine_state", RedmineState)
routes = web.RouteTableDef()


def _unauthorized(request: web.Request) -> web.Response | None:
    key = request.headers.get("X-Redmine-API-Key") or request.query.get("key")
    if key == API_KEY:
        return None
    return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="Redmine API"'})


def _invalid(*messages: str) -> web.Response:
    return json_response({"errors": list(messages)}, 422)


def _project_matches(value: Any) -> bool:
    return str(value) in (str(PROJECT["id"]), PROJECT["identifier"])


def _issue(fake: FakeTracker, request: web.Request) -> Ticket | web.Response:
    ticket = fake.tickets.get(request.match_info["id"])
    return ticket if ticket is not None else web.Response(status=404)


def _ref(kind: dict[int, str], ident: int) -> dict[str, Any]:
    return {"id": ident, "name": kind[ident]}


def _sync(ticket: Ticket) -> None:
    """Refresh the vendor-neutral view from the stored issue."""
    issue = ticket.raw
    status = issue["status"]["id"]
    ticket.title, ticket.body = issue["subject"], issue["description"]
    ticket.status = "resolved" if status in CLOSED else "acknowledged" if status == 2 else "open"
    ticket.priority = PRIORITIES.get(issue["priority"]["id"])
    ticket.marker = next((f["value"] for f in issue["custom_fields"] if f["id"] == MARKER_FIELD), None)
    ticket.comments = [j["notes"] for j in issue["journals"] if j["notes"]]


def _public(issue: dict[str, Any], include: str = "") -> dict[str, Any]:
    """The issue as the API shows it: journals only when asked for."""
    shown = {k: v for k, v in issue.items() if k != "journals"}
    if "journals" in include.split(","):
        shown["journals"] = issue["journals"]
    return shown


@routes.get("/users/current.json")
async def current_user(request: web.Request) -> web.Response:
    """The user of the API key."""
    if (refused := _unauthorized(request)) is not None:
        return refused
    return json_response({"user": {"id": 3, "login": "triaged", "api_key": API_KEY}})


@routes.get("/projects/{project}.json")
async def show_project(request: web.Request) -> web.Response:
    """A project, with ``include=trackers,issue_custom_fields`` when asked."""
    if (refused := _unauthorized(request)) is not None:
        return refused
    if not _project_matches(request.match_info["project"]):
        return web.Response(status=404)
    include = request.query.get("include", "").split(",")
    project: dict[str, Any] = dict(PROJECT)
    if "trackers" in include:
        project["trackers"] = [_ref(TRACKERS, t) for t in TRACKERS]
    if "issue_custom_fields" in include:
        fields = request.app[STATE].enabled_fields
        project["issue_custom_fields"] = [{"id": f, "name": f"Field {f}"} for f in sorted(fields)]
    return json_response({"project": project})


@routes.post("/issues.json")
async def create_issue(request: web.Request) -> web.Response:
    """Create an issue: 201 with it, or 422 with the validation errors."""
    if (refused := _unauthorized(request)) is not None:
        return refused
    fake, state = request.app[FAKE], request.app[STATE]
    data = orjson.loads(await request.read()).get("issue") or {}
    errors = []
    if not _project_matches(data.get("project_id")):
        errors.append("Project cannot be blank")
    if not data.get("subject"):
        errors.append("Subject cannot be blank")
    priority = data.get("priority_id", 2)
    if priority not in PRIORITY_NAMES:
        errors.append("Priority cannot be blank")
    tracker = data.get("tracker_id", 1)
    if tracker not in TRACKERS:
        errors.append("Tracker cannot be blank")
    if errors:
        return _invalid(*errors)
    key = fake.new_key()
    fields = [
        {"id": f["id"], "name": f"Field {f['id']}", "value": f.get("value")}
        for f in data.get("custom_fields") or []
        if f.get("id") in state.enabled_fields
    ]
    issue = {
        "id": int(key),
        "project": {"id": PROJECT["id"], "name": PROJECT["name"]},
        "tracker": _ref(TRACKERS, tracker),
        "status": {**_ref(STATUSES, 1), "is_closed": False},
        "priority": _ref(PRIORITY_NAMES, priority),
        "subject": data["subject"],
        "description": data.get("description") or "",
        "custom_fields": fields,
        "journals": [],
    }
    fake.tickets[key] = Ticket(key, data["subject"], raw=issue)
    _sync(fake.tickets[key])
    return json_response({"issue": _public(issue)}, 201)


@routes.get("/issues.json")
async def list_issues(request: web.Request) -> web.Response:
    """List issues: project, status (open by default), ``cf_<id>`` filters, limit/offset."""
    if (refused := _unauthorized(request)) is not None:
        return refused
    q, state = request.query, request.app[STATE]
    issues = [t.raw for t in request.app[FAKE].tickets.values()]
    if "project_id" in q and not _project_matches(q["project_id"]):
        return web.Response(status=404)
    status = q.get("status_id", "open")
    if status == "open":
        issues = [i for i in issues if i["status"]["id"] not in CLOSED]
    elif status == "closed":
        issues = [i for i in issues if i["status"]["id"] in CLOSED]
    elif status != "*":
        issues = [i for i in issues if str(i["status"]["id"]) == status]
    for name, value in q.items():
        if name.startswith("cf_") and name[3:].isdigit() and int(name[3:]) in state.filterable_fields:
            cf = int(name[3:])
            issues = [
                i for i in issues if any(f["id"] == cf and f["value"] == value for f in i["custom_fields"])
            ]
    issues.sort(key=lambda i: i["id"], reverse=q.get("sort", "id:desc").endswith(":desc"))
    limit, offset = min(int(q.get("limit", "25")), 100), int(q.get("offset", "0"))
    page = [_public(i) for i in issues[offset : offset + limit]]
    return json_response({"issues": page, "total_count": len(issues), "offset": offset, "limit": limit})


@routes.get("/issues/{id}.json")
async def show_issue(request: web.Request) -> web.Response:
    """One issue, with ``include=journals`` when asked."""
    if (refused := _unauthorized(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    if isinstance(ticket, web.Response):
        return ticket
    return json_response({"issue": _public(ticket.raw, request.query.get("include", ""))})


@routes.put("/issues/{id}.json")
async def update_issue(request: web.Request) -> web.Response:
    """Update an issue: 204; one journal for the notes and the changed attributes."""
    if (refused := _unauthorized(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    if isinstance(ticket, web.Response):
        return ticket
    state = request.app[STATE]
    data = orjson.loads(await request.read()).get("issue") or {}
    issue, details = ticket.raw, []
    if "priority_id" in data:
        if data["priority_id"] not in PRIORITY_NAMES:
            return _invalid("Priority cannot be blank")
        if data["priority_id"] != issue["priority"]["id"]:
            details.append({"property": "attr", "name": "priority_id", "new_value": str(data["priority_id"])})
            issue["priority"] = _ref(PRIORITY_NAMES, data["priority_id"])
    # A status the workflow does not allow this user is dropped without a word, as Redmine does.
    status = data.get("status_id")
    if status in state.allowed_statuses and status != issue["status"]["id"]:
        details.append({"property": "attr", "name": "status_id", "new_value": str(status)})
        issue["status"] = {**_ref(STATUSES, status), "is_closed": status in CLOSED}
    if "description" in data and data["description"] != issue["description"]:
        details.append({"property": "attr", "name": "description"})
        issue["description"] = data["description"]
    if data.get("notes") or details:
        state.next_journal += 1
        issue["journals"].append(
            {"id": state.next_journal, "notes": data.get("notes") or "", "details": details}
        )
    _sync(ticket)
    return web.Response(status=204)


def create_app() -> web.Application:
    """The fake Redmine."""
    app = make_app(list(routes))
    app[STATE] = RedmineState()
    return app


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the connector under test, pointed at this fake."""
    return {
        "endpoint": base_url,
        "api_key": API_KEY,
        "project": PROJECT["identifier"],
        "marker_field_id": MARKER_FIELD,
        "timeout": 1.0,
    }
