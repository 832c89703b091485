"""A GitLab REST API v4 stand-in for the issue and note calls triaged makes.

As documented: ``PRIVATE-TOKEN`` checked (401 ``{"message": "401 Unauthorized"}``), the
project addressed by numeric id or URL-encoded path, 201 on creates, 400 ``{"error":
...}`` for missing parameters, 404 ``{"message": "404 ... Not Found"}``, labels as
comma-separated strings, ``add_labels``/``remove_labels``, ``state_event``, system notes
for label and state changes, and labels dropped silently from a Guest's new issue.
Tokens: ``TOKEN`` (Developer) and ``GUEST_TOKEN`` (Guest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FAKE, FakeTracker, Ticket, json_response, make_app

NAME = "gitlab"
TOKEN = "glpat-fakeGitLabDeveloper0123"
GUEST_TOKEN = "glpat-fakeGitLabGuestToken012"
PROJECT_ID = 42
PROJECT_PATH = "ops/incidents"
PREFIX = "priority::"
LEVELS = {TOKEN: 30, GUEST_TOKEN: 10}


@dataclass
class GitLabState:
    """Project settings and the notes of each issue (newest last)."""

    issues_enabled: bool = True
    inherited_access: bool = False  # access from a parent group: permissions both null
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    next_note: int = 500


STATE = web.AppKey("gitlab_state", GitLabState)
routes = web.RouteTableDef()


def _message(status: int, message: str) -> web.Response:
    return json_response({"message": message}, status)


def _guard(request: web.Request) -> web.Response | None:
    """401 for a bad token, 404 for any other project."""
    if request.headers.get("PRIVATE-TOKEN") not in LEVELS:
        return _message(401, "401 Unauthorized")
    if request.match_info["project"] not in (str(PROJECT_ID), PROJECT_PATH):
        return _message(404, "404 Project Not Found")
    return None


async def _params(request: web.Request) -> dict[str, Any]:
    """GitLab takes parameters as JSON, form or query string alike."""
    raw = await request.read()
    if raw and request.content_type == "application/json":
        data: dict[str, Any] = orjson.loads(raw)
        return {**request.query, **data}
    return {**request.query, **(await request.post())}


def _issue(fake: FakeTracker, request: web.Request) -> Ticket | web.Response:
    ticket = fake.tickets.get(request.match_info["iid"])
    return ticket if ticket is not None else _message(404, "404 Not found")


def _split(value: Any) -> list[str]:
    return [s.strip() for s in str(value or "").split(",") if s.strip()]


def _sync(ticket: Ticket, notes: list[dict[str, Any]]) -> None:
    """Refresh the vendor-neutral view from the stored issue and its notes."""
    issue = ticket.raw
    ticket.title, ticket.body = issue["title"], issue["description"]
    ticket.status = "resolved" if issue["state"] == "closed" else "open"
    ticket.priority = next((n[len(PREFIX) :] for n in issue["labels"] if n.startswith(PREFIX)), None)
    ticket.marker = next((n for n in issue["labels"] if n.startswith("triaged-")), None)
    ticket.comments = [n["body"] for n in notes if not n["system"]]


def _add_note(request: web.Request, ticket: Ticket, body: str, *, system: bool) -> dict[str, Any]:
    state = request.app[STATE]
    state.next_note += 1
    note = {
        "id": state.next_note,
        "body": body,
        "system": system,
        "noteable_type": "Issue",
        "noteable_iid": int(ticket.key),
        "author": {"username": "triaged-bot"},
    }
    state.notes.setdefault(ticket.key, []).append(note)
    ticket.raw["user_notes_count"] += 0 if system else 1
    return note


@routes.get("/api/v4/projects/{project}")
async def get_project(request: web.Request) -> web.Response:
    """Get a single project, with the caller's access levels."""
    if (refused := _guard(request)) is not None:
        return refused
    state = request.app[STATE]
    level = LEVELS[request.headers["PRIVATE-TOKEN"]]
    access = None if state.inherited_access else {"access_level": level, "notification_level": 3}
    return json_response(
        {
            "id": PROJECT_ID,
            "path_with_namespace": PROJECT_PATH,
            "web_url": f"https://gitlab.example.com/{PROJECT_PATH}",
            "issues_enabled": state.issues_enabled,
            "issues_access_level": "enabled" if state.issues_enabled else "disabled",
            "permissions": {"project_access": access, "group_access": None},
        }
    )


@routes.post("/api/v4/projects/{project}/issues")
async def create_issue(request: web.Request) -> web.Response:
    """Create an issue: 201; a Guest's labels are dropped silently."""
    if (refused := _guard(request)) is not None:
        return refused
    fake, state = request.app[FAKE], request.app[STATE]
    if not state.issues_enabled:
        return _message(403, "403 Forbidden")
    data = await _params(request)
    if not data.get("title"):
        return json_response({"error": "title is missing"}, 400)
    if data.get("issue_type", "issue") not in ("issue", "incident", "test_case", "task"):
        return json_response({"error": "issue_type does not have a valid value"}, 400)
    iid = fake.new_key()
    labels = _split(data.get("labels")) if LEVELS[request.headers["PRIVATE-TOKEN"]] >= 20 else []
    issue = {
        "id": 9000 + int(iid),
        "iid": int(iid),
        "project_id": PROJECT_ID,
        "title": data["title"],
        "description": data.get("description"),
        "state": "opened",
        "labels": labels,
        "issue_type": data.get("issue_type", "issue"),
        "user_notes_count": 0,
        "web_url": f"https://gitlab.example.com/{PROJECT_PATH}/-/issues/{iid}",
    }
    fake.tickets[iid] = Ticket(iid, data["title"], raw=issue)
    _sync(fake.tickets[iid], [])
    return json_response(issue, 201)


@routes.get("/api/v4/projects/{project}/issues")
async def list_issues(request: web.Request) -> web.Response:
    """List project issues: ``labels`` (all must match), ``state`` (default all), paging."""
    if (refused := _guard(request)) is not None:
        return refused
    q = request.query
    wanted = set(_split(q.get("labels")))
    issues = [t.raw for t in request.app[FAKE].tickets.values()]
    issues = [i for i in issues if q.get("state", "all") in ("all", i["state"])]
    issues = [i for i in issues if wanted <= set(i["labels"])]
    issues.sort(key=lambda i: i["id"], reverse=q.get("sort", "desc") == "desc")
    per_page, page = min(int(q.get("per_page", "20")), 100), int(q.get("page", "1"))
    return json_response(issues[(page - 1) * per_page : page * per_page])


@routes.put("/api/v4/projects/{project}/issues/{iid}")
async def update_issue(request: web.Request) -> web.Response:
    """Update an issue: labels/add_labels/remove_labels, description, title, state_event."""
    if (refused := _guard(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    if isinstance(ticket, web.Response):
        return ticket
    data = await _params(request)
    known = ("labels", "add_labels", "remove_labels", "description", "title", "state_event")
    if not any(k in data for k in known):
        return json_response({"error": "at least one parameter must be provided"}, 400)
    if data.get("state_event") not in (None, "close", "reopen"):
        return json_response({"error": "state_event does not have a valid value"}, 400)
    issue = ticket.raw
    before = list(issue["labels"])
    labels = _split(data["labels"]) if "labels" in data else list(before)
    labels += [n for n in _split(data.get("add_labels")) if n not in labels]
    labels = [n for n in labels if n not in _split(data.get("remove_labels"))]
    issue["labels"] = labels
    for name in [n for n in labels if n not in before]:
        _add_note(request, ticket, f"added ~{name} label", system=True)
    for name in [n for n in before if n not in labels]:
        _add_note(request, ticket, f"removed ~{name} label", system=True)
    for key in ("description", "title"):
        if key in data and data[key] != issue[key]:
            issue[key] = data[key]
            _add_note(request, ticket, f"changed the {key}", system=True)
    wanted = {"close": "closed", "reopen": "opened"}.get(data.get("state_event") or "")
    if wanted and wanted != issue["state"]:
        issue["state"] = wanted
        _add_note(request, ticket, wanted, system=True)
    _sync(ticket, request.app[STATE].notes.get(ticket.key, []))
    return json_response(issue)


@routes.get("/api/v4/projects/{project}/issues/{iid}/notes")
async def list_notes(request: web.Request) -> web.Response:
    """List issue notes (system notes included), ``sort`` asc/desc, paged."""
    if (refused := _guard(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    if isinstance(ticket, web.Response):
        return ticket
    notes = list(request.app[STATE].notes.get(ticket.key, []))
    if request.query.get("sort", "desc") == "desc":
        notes.reverse()
    per_page, page = min(int(request.query.get("per_page", "20")), 100), int(request.query.get("page", "1"))
    return json_response(notes[(page - 1) * per_page : page * per_page])


@routes.post("/api/v4/projects/{project}/issues/{iid}/notes")
async def create_note(request: web.Request) -> web.Response:
    """Create an issue note: 201 with the note."""
    if (refused := _guard(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    if isinstance(ticket, web.Response):
        return ticket
    body = (await _params(request)).get("body")
    if not body:
        return json_response({"error": "body is missing"}, 400)
    note = _add_note(request, ticket, body, system=False)
    _sync(ticket, request.app[STATE].notes[ticket.key])
    return json_response(note, 201)


def create_app() -> web.Application:
    """The fake GitLab API."""
    app = make_app(list(routes))
    app[STATE] = GitLabState()
    return app


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the connector under test, pointed at this fake (project by path)."""
    return {"endpoint": base_url, "project": PROJECT_PATH, "token": TOKEN, "timeout": 1.0}
