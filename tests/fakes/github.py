"""A GitHub REST API (2022-11-28) stand-in for the issue calls triaged makes.

As documented: ``Authorization: Bearer``/``token`` checked (401 ``Bad credentials``),
``X-GitHub-Api-Version`` checked (400 for an unsupported one), 201 on creates, 422
``Validation Failed`` with an ``errors`` list, 404 ``Not Found``, 410 for a deleted issue,
``x-ratelimit-*`` headers on every answer, pull requests listed among issues, and labels
dropped silently (on create and PATCH) for a token without push access. Tokens: ``TOKEN``
(push), ``TRIAGE_TOKEN`` (triage: may add/remove labels only), ``READ_TOKEN`` (pull).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FAKE, FakeTracker, Ticket, json_response, make_app

NAME = "github"
TOKEN = "ghp_fakeGitHubPushToken0123456789"
TRIAGE_TOKEN = "ghp_fakeGitHubTriageToken012345"
READ_TOKEN = "ghp_fakeGitHubReadOnlyToken01234"
REPO = "acme/checkout"
PREFIX = "priority/"
DOCS = "https://docs.github.com/rest"
ROLES = {
    TOKEN: {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
    TRIAGE_TOKEN: {"admin": False, "maintain": False, "push": False, "triage": True, "pull": True},
    READ_TOKEN: {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
}


@dataclass
class GitHubState:
    """Repository settings and what the ticket table does not hold."""

    has_issues: bool = True
    oauth_scopes: str | None = None  # classic tokens: the X-OAuth-Scopes answer header
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    remaining: int = 5000
    next_comment: int = 1000


STATE = web.AppKey("github_state", GitHubState)
routes = web.RouteTableDef()


def _answer(request: web.Request, body: Any, status: int = 200) -> web.Response:
    state = request.app[STATE]
    state.remaining = max(0, state.remaining - 1)
    response = json_response(body, status)
    response.headers.update(
        {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(state.remaining),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-used": str(5000 - state.remaining),
            "x-ratelimit-resource": "core",
        }
    )
    return response


def _error(request: web.Request, status: int, message: str, **extra: Any) -> web.Response:
    return _answer(request, {"message": message, "documentation_url": DOCS, **extra}, status)


def _token(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value if scheme in ("Bearer", "token") and value in ROLES else None


def _guard(request: web.Request) -> web.Response | None:
    """401 for a bad token, 400 for a bad API version, 404 for another repository."""
    if _token(request) is None:
        return _error(request, 401, "Bad credentials")
    if request.headers.get("X-GitHub-Api-Version", "2022-11-28") not in ("2022-11-28",):
        return _error(request, 400, "Unsupported 'X-GitHub-Api-Version' header")
    if f"{request.match_info['owner']}/{request.match_info['repo']}" != REPO:
        return _error(request, 404, "Not Found")
    return None


def _can(request: web.Request, role: str) -> bool:
    token = _token(request)
    return token is not None and bool(ROLES[token][role])


def _issue(fake: FakeTracker, request: web.Request) -> Ticket | web.Response:
    number = request.match_info["number"]
    if number in request.app[STATE].deleted:
        return _error(request, 410, "This issue was deleted")
    ticket = fake.tickets.get(number)
    return ticket if ticket is not None else _error(request, 404, "Not Found")


def _labels(names: list[str]) -> list[dict[str, Any]]:
    return [{"id": abs(hash(n)) % 10**9, "name": n, "color": "ededed", "default": False} for n in names]


def _sync(ticket: Ticket) -> None:
    """Refresh the vendor-neutral view from the stored issue."""
    issue = ticket.raw
    names = [lab["name"] for lab in issue["labels"]]
    ticket.title, ticket.body = issue["title"], issue["body"]
    ticket.status = "resolved" if issue["state"] == "closed" else "open"
    ticket.priority = next((n[len(PREFIX) :] for n in names if n.startswith(PREFIX)), None)
    ticket.marker = next((n for n in names if n.startswith("triaged-")), None)


def seed_issue(app: web.Application, title: str, labels: list[str], *, pull_request: bool = False) -> str:
    """Put an issue (or a pull request, which GitHub lists among issues) in the fake."""
    fake = app[FAKE]
    number = fake.new_key()
    issue = _new_issue(number, title, "", labels)
    if pull_request:
        issue["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/{number}"}
    fake.tickets[number] = Ticket(number, title, raw=issue)
    _sync(fake.tickets[number])
    return number


def _new_issue(number: str, title: str, body: str, labels: list[str]) -> dict[str, Any]:
    return {
        "id": 100000 + int(number),
        "number": int(number),
        "url": f"https://api.github.com/repos/{REPO}/issues/{number}",
        "html_url": f"https://github.com/{REPO}/issues/{number}",
        "title": title,
        "body": body,
        "state": "open",
        "state_reason": None,
        "labels": _labels(labels),
        "comments": 0,
        "user": {"login": "triaged-bot"},
    }


@routes.get("/repos/{owner}/{repo}")
async def get_repo(request: web.Request) -> web.Response:
    """Get a repository: the caller's permissions and whether issues are on."""
    if (refused := _guard(request)) is not None:
        return refused
    token = _token(request)
    assert token is not None
    state = request.app[STATE]
    response = _answer(
        request,
        {"id": 1, "full_name": REPO, "has_issues": state.has_issues, "permissions": ROLES[token]},
    )
    if state.oauth_scopes is not None:
        response.headers["X-OAuth-Scopes"] = state.oauth_scopes
    return response


@routes.post("/repos/{owner}/{repo}/issues")
async def create_issue(request: web.Request) -> web.Response:
    """Create an issue: 201; labels dropped silently without push access."""
    if (refused := _guard(request)) is not None:
        return refused
    fake, state = request.app[FAKE], request.app[STATE]
    if not state.has_issues:
        return _error(request, 410, "Issues are disabled for this repo")
    data = orjson.loads(await request.read())
    if not data.get("title"):
        return _error(
            request,
            422,
            "Validation Failed",
            errors=[{"resource": "Issue", "code": "missing_field", "field": "title"}],
        )
    labels = [str(n) for n in data.get("labels") or []]
    if any(len(n) > 50 for n in labels):
        return _error(request, 422, "Validation Failed", errors=[{"resource": "Label", "code": "invalid"}])
    number = fake.new_key()
    issue = _new_issue(number, data["title"], data.get("body") or "", labels if _can(request, "push") else [])
    fake.tickets[number] = Ticket(number, data["title"], raw=issue)
    _sync(fake.tickets[number])
    return _answer(request, issue, 201)


@routes.get("/repos/{owner}/{repo}/issues")
async def list_issues(request: web.Request) -> web.Response:
    """List repository issues: ``labels`` (all must match), ``state``, paging; PRs included."""
    if (refused := _guard(request)) is not None:
        return refused
    q = request.query
    wanted = [n for n in q.get("labels", "").split(",") if n]
    state = q.get("state", "open")
    issues = [t.raw for t in request.app[FAKE].tickets.values()]
    issues = [i for i in issues if state == "all" or i["state"] == state]
    issues = [i for i in issues if set(wanted) <= {lab["name"] for lab in i["labels"]}]
    issues.sort(key=lambda i: i["number"], reverse=q.get("direction", "desc") == "desc")
    per_page, page = min(int(q.get("per_page", "30")), 100), int(q.get("page", "1"))
    return _answer(request, issues[(page - 1) * per_page : page * per_page])


@routes.get("/repos/{owner}/{repo}/issues/{number}")
async def get_issue(request: web.Request) -> web.Response:
    """Get an issue."""
    if (refused := _guard(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    return ticket if isinstance(ticket, web.Response) else _answer(request, ticket.raw)


@routes.patch("/repos/{owner}/{repo}/issues/{number}")
async def update_issue(request: web.Request) -> web.Response:
    """Update an issue: title, body, state (+ state_reason), labels (push access only)."""
    if (refused := _guard(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    if isinstance(ticket, web.Response):
        return ticket
    data = orjson.loads(await request.read())
    issue = ticket.raw
    if data.get("state") not in (None, "open", "closed"):
        return _error(request, 422, "Validation Failed", errors=[{"field": "state", "code": "invalid"}])
    for key in ("title", "body"):
        if key in data:
            issue[key] = data[key]
    if data.get("state") and data["state"] != issue["state"]:  # state_reason: ignored unless state changes
        issue["state"] = data["state"]
        issue["state_reason"] = data.get("state_reason") or (
            "completed" if data["state"] == "closed" else None
        )
    if "labels" in data and _can(request, "push"):
        issue["labels"] = _labels([str(n) for n in data["labels"]])
    _sync(ticket)
    return _answer(request, issue)


@routes.post("/repos/{owner}/{repo}/issues/{number}/labels")
async def add_labels(request: web.Request) -> web.Response:
    """Add labels to an issue (triage or push access); answers the issue's labels."""
    if (refused := _guard(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    if isinstance(ticket, web.Response):
        return ticket
    if not _can(request, "triage"):
        return _error(request, 403, "Must have triage access to add labels")
    names = [lab["name"] for lab in ticket.raw["labels"]]
    added = [str(n) for n in orjson.loads(await request.read()).get("labels", [])]
    ticket.raw["labels"] = _labels(list(dict.fromkeys(names + added)))
    _sync(ticket)
    return _answer(request, ticket.raw["labels"])


@routes.delete("/repos/{owner}/{repo}/issues/{number}/labels/{name}")
async def remove_label(request: web.Request) -> web.Response:
    """Remove a label from an issue: 200 with the rest, 404 when it is not there."""
    if (refused := _guard(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    if isinstance(ticket, web.Response):
        return ticket
    if not _can(request, "triage"):
        return _error(request, 403, "Must have triage access to remove labels")
    name = request.match_info["name"]
    names = [lab["name"] for lab in ticket.raw["labels"]]
    if name not in names:
        return _error(request, 404, "Label does not exist")
    ticket.raw["labels"] = _labels([n for n in names if n != name])
    _sync(ticket)
    return _answer(request, ticket.raw["labels"])


@routes.get("/repos/{owner}/{repo}/issues/{number}/comments")
async def list_comments(request: web.Request) -> web.Response:
    """List issue comments, oldest first, paged."""
    if (refused := _guard(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    if isinstance(ticket, web.Response):
        return ticket
    comments = request.app[STATE].comments.get(ticket.key, [])
    per_page, page = min(int(request.query.get("per_page", "30")), 100), int(request.query.get("page", "1"))
    return _answer(request, comments[(page - 1) * per_page : page * per_page])


@routes.post("/repos/{owner}/{repo}/issues/{number}/comments")
async def create_comment(request: web.Request) -> web.Response:
    """Create an issue comment: 201 with the comment."""
    if (refused := _guard(request)) is not None:
        return refused
    ticket = _issue(request.app[FAKE], request)
    if isinstance(ticket, web.Response):
        return ticket
    body = orjson.loads(await request.read()).get("body")
    if not body:
        return _error(request, 422, "Validation Failed", errors=[{"field": "body", "code": "missing_field"}])
    state = request.app[STATE]
    state.next_comment += 1
    comment = {"id": state.next_comment, "body": body, "html_url": f"{ticket.raw['html_url']}#c"}
    state.comments.setdefault(ticket.key, []).append(comment)
    ticket.comments.append(body)
    ticket.raw["comments"] += 1
    return _answer(request, comment, 201)


def create_app() -> web.Application:
    """The fake GitHub API."""
    app = make_app(list(routes))
    app[STATE] = GitHubState()
    return app


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the connector under test, pointed at this fake."""
    return {"endpoint": base_url, "repository": REPO, "token": TOKEN, "timeout": 1.0}
