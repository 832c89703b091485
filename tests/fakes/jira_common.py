"""A fake Jira site (Cloud REST v3 or Server/DC REST v2), as the Atlassian docs describe it.

Both editions share the resources triaged uses; ``JiraSite`` holds what differs (API
version, auth check, body format, workflow, priority names). Issues live in the shared
``FakeTracker``: ``Ticket.raw`` is the Jira issue (``id``, ``fields``, ``comments``),
and the neutral view (status from the status category, priority translated back to
P1..P5, comments as text, the ``triaged-`` label as marker) is kept in step.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FAKE, Ticket, json_response, make_app

CATEGORIES = {"new": ("2", "To Do"), "indeterminate": ("4", "In Progress"), "done": ("3", "Done")}
NEUTRAL = {"new": "open", "indeterminate": "acknowledged", "done": "resolved"}
PERMISSIONS = ("BROWSE_PROJECTS", "CREATE_ISSUES", "EDIT_ISSUES", "ADD_COMMENTS", "TRANSITION_ISSUES")


@dataclass
class Transition:
    """A workflow transition: id, name, from which statuses (empty: global), to which."""

    id: str
    name: str
    to: str
    sources: tuple[str, ...] = ()
    requires_resolution: bool = False


@dataclass
class JiraSite:
    """What one fake site is: its edition's quirks and its configuration."""

    api: str  # "2" or "3"
    authorized: Callable[[web.Request], bool]
    unauthorized: Callable[[], web.Response]
    rich: str  # "adf" (Cloud) or "wiki" (Server)
    statuses: dict[str, str]  # status name -> status category key
    initial: str
    transitions: list[Transition]
    priorities: dict[str, str]  # priority name -> P1..P5
    myself: dict[str, Any]
    project: str = "OPS"
    issue_types: tuple[str, ...] = ("Task", "Bug", "Incident")
    granted: set[str] = field(default_factory=lambda: set(PERMISSIONS))
    search_needs_fields: bool = False  # Cloud's enhanced search returns ids only by default
    prefix: str = ""  # a context path (Server/DC may run under e.g. /jira)


SITE = web.AppKey("jira_site", JiraSite)


def jira_error(
    status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None
) -> web.Response:
    """Jira's error body: ``{"errorMessages": [...], "errors": {field: message}}``."""
    return json_response({"errorMessages": messages or [], "errors": errors or {}}, status)


def adf_text(node: Any) -> str:
    """Text of an ADF tree (blocks on their own lines), for the neutral comment view."""
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    parts = [adf_text(c) for c in node.get("content") or []]
    return ("" if node.get("type") in ("paragraph", "heading") else "\n").join(parts)


def _valid_adf(node: Any) -> bool:
    if not (isinstance(node, dict) and node.get("type") == "doc" and node.get("version") == 1):
        return False

    def ok(n: Any) -> bool:
        if not isinstance(n, dict) or not isinstance(n.get("type"), str):
            return False
        if n["type"] == "text":
            return isinstance(n.get("text"), str) and n["text"] != ""  # ADF forbids empty text
        return all(ok(c) for c in n.get("content") or [])

    return isinstance(node.get("content"), list) and all(ok(c) for c in node["content"])


def build_app(site: JiraSite) -> web.Application:  # noqa: C901 - one closure per resource
    """The fake site's routes under ``/rest/api/<version>``, sharing ``site``."""
    routes = web.RouteTableDef()
    api = f"{site.prefix}/rest/api/{site.api}"

    def now() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    def text_of(body: Any) -> str:
        return adf_text(body) if site.rich == "adf" else str(body)

    def bad_body(name: str, value: Any) -> dict[str, str]:
        if site.rich == "adf" and not _valid_adf(value):
            return {name: "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}
        if site.rich == "wiki" and not isinstance(value, str):
            return {name: "Operation value must be a string"}
        return {}

    def check_fields(fields: dict[str, Any], creating: bool) -> dict[str, str]:
        errors: dict[str, str] = {}
        allowed = {"summary", "description", "priority", "labels"} | (
            {"project", "issuetype"} if creating else set()
        )
        for name in set(fields) - allowed:
            errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        if creating:
            if (fields.get("project") or {}).get("key") != site.project:
                errors["project"] = "Specify a valid project ID or key"
            if (fields.get("issuetype") or {}).get("name") not in site.issue_types:
                errors["issuetype"] = "Specify a valid issue type"
            if not fields.get("summary"):
                errors["summary"] = "You must specify a summary of the issue."
        summary = fields.get("summary", "")
        if not isinstance(summary, str) or "\n" in summary or len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters and one line."
        if "description" in fields:
            errors.update(bad_body("description", fields["description"]))
        if "priority" in fields and (fields["priority"] or {}).get("name") not in site.priorities:
            errors["priority"] = f"Priority name '{(fields['priority'] or {}).get('name')}' is not valid"
        for label in fields.get("labels") or []:
            if not isinstance(label, str) or not label or " " in label:
                errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        return errors

    def issue_json(request: web.Request, ticket: Ticket, wanted: set[str] | None) -> dict[str, Any]:
        raw = ticket.raw
        fields = {k: v for k, v in raw["fields"].items() if wanted is None or k in wanted}
        base = f"{request.scheme}://{request.host}{api}"
        return {
            "expand": "",
            "id": raw["id"],
            "self": f"{base}/issue/{raw['id']}",
            "key": ticket.key,
            "fields": fields,
        }

    def status_json(name: str) -> dict[str, Any]:
        cat_id, cat_name = CATEGORIES[site.statuses[name]]
        return {
            "name": name,
            "id": str(list(site.statuses).index(name) + 1),
            "statusCategory": {"id": int(cat_id), "key": site.statuses[name], "name": cat_name},
        }

    def sync(ticket: Ticket) -> None:
        f = ticket.raw["fields"]
        ticket.title = f["summary"]
        ticket.body = f.get("description")
        ticket.status = NEUTRAL[site.statuses[f["status"]["name"]]]
        ticket.priority = site.priorities.get((f.get("priority") or {}).get("name", ""))
        ticket.marker = next((x for x in f.get("labels", []) if x.startswith("triaged-")), None)
        ticket.comments = [text_of(c["body"]) for c in ticket.raw["comments"]]

    async def body_of(request: web.Request) -> Any:
        try:
            return orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return None

    def find(fake_key: str, request: web.Request) -> Ticket | None:
        tickets = request.app[FAKE].tickets
        return tickets.get(fake_key) or next((t for t in tickets.values() if t.raw["id"] == fake_key), None)

    def guarded(handler: Callable[..., Awaitable[web.StreamResponse]]) -> Callable[[web.Request], Any]:
        async def run(request: web.Request) -> web.StreamResponse:
            if not site.authorized(request):
                return site.unauthorized()
            if "key" in request.match_info:
                ticket = find(request.match_info["key"], request)
                if ticket is None:
                    return jira_error(404, ["Issue does not exist or you do not have permission to see it."])
                return await handler(request, ticket)
            return await handler(request)

        return run

    @routes.post(f"{api}/issue")
    @guarded
    async def create(request: web.Request) -> web.Response:
        fake = request.app[FAKE]
        body = await body_of(request)
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return jira_error(400, ["Can not deserialize the request body."])
        errors = check_fields(fields, creating=True)
        if errors:
            return jira_error(400, errors=errors)
        key = fake.new_key(f"{site.project}-")
        issue_id = str(10000 + int(key.rsplit("-", 1)[1]))
        stored = {k: v for k, v in fields.items() if k != "project"}
        stored.update(status=status_json(site.initial), created=now(), labels=fields.get("labels", []))
        ticket = Ticket(key, fields["summary"], raw={"id": issue_id, "fields": stored, "comments": []})
        fake.tickets[key] = ticket
        sync(ticket)
        base = f"{request.scheme}://{request.host}{api}"
        return json_response({"id": issue_id, "key": key, "self": f"{base}/issue/{issue_id}"}, 201)

    @routes.get(api + "/issue/{key}")
    @guarded
    async def get_issue(request: web.Request, ticket: Ticket) -> web.Response:
        wanted = set(request.query["fields"].split(",")) if "fields" in request.query else None
        answer = issue_json(request, ticket, wanted)
        if "transitions" in request.query.get("expand", ""):
            answer["transitions"] = available(ticket)
        return json_response(answer)

    @routes.put(api + "/issue/{key}")
    @guarded
    async def edit(request: web.Request, ticket: Ticket) -> web.Response:
        body = await body_of(request)
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return jira_error(400, ["Can not deserialize the request body."])
        errors = check_fields(fields, creating=False)
        if errors:
            return jira_error(400, errors=errors)
        ticket.raw["fields"].update(fields)
        sync(ticket)
        return web.Response(status=204)

    def available(ticket: Ticket) -> list[dict[str, Any]]:
        current = ticket.raw["fields"]["status"]["name"]
        return [
            {
                "id": t.id,
                "name": t.name,
                "to": status_json(t.to),
                "hasScreen": t.requires_resolution,
                "isGlobal": not t.sources,
                "isInitial": False,
                "isConditional": False,
            }
            for t in site.transitions
            if (not t.sources or current in t.sources) and t.to != current
        ]

    @routes.get(api + "/issue/{key}/transitions")
    @guarded
    async def transitions(request: web.Request, ticket: Ticket) -> web.Response:
        return json_response({"expand": "transitions", "transitions": available(ticket)})

    @routes.post(api + "/issue/{key}/transitions")
    @guarded
    async def transition(request: web.Request, ticket: Ticket) -> web.Response:
        body = await body_of(request)
        wanted = ((body or {}).get("transition") or {}).get("id") if isinstance(body, dict) else None
        if wanted not in {t["id"] for t in available(ticket)}:
            return jira_error(400, [f"Transition id '{wanted}' is not valid for this issue."])
        chosen = next(t for t in site.transitions if t.id == wanted)
        resolution = ((body.get("fields") or {}).get("resolution") or {}).get("name")
        if chosen.requires_resolution and not resolution:
            return jira_error(400, errors={"resolution": "Resolution is required."})
        ticket.raw["fields"]["status"] = status_json(chosen.to)
        if resolution:
            ticket.raw["fields"]["resolution"] = {"name": resolution}
        sync(ticket)
        return web.Response(status=204)

    @routes.get(api + "/issue/{key}/comment")
    @guarded
    async def comments(request: web.Request, ticket: Ticket) -> web.Response:
        items = list(ticket.raw["comments"])
        if request.query.get("orderBy") == "-created":
            items.reverse()
        limit = int(request.query.get("maxResults", "50"))
        start = int(request.query.get("startAt", "0"))
        page = items[start : start + limit]
        return json_response({"startAt": start, "maxResults": limit, "total": len(items), "comments": page})

    @routes.post(api + "/issue/{key}/comment")
    @guarded
    async def comment(request: web.Request, ticket: Ticket) -> web.Response:
        body = await body_of(request)
        if not isinstance(body, dict) or "body" not in body:
            return jira_error(400, errors={"comment": "Comment body can not be empty!"})
        errors = bad_body("comment", body["body"])
        if errors:
            return jira_error(400, errors=errors)
        entry = {"id": str(20000 + len(ticket.raw["comments"])), "body": body["body"], "created": now()}
        ticket.raw["comments"].append(entry)
        sync(ticket)
        return json_response(entry, 201)

    async def search(request: web.Request, oldest_first: bool = True) -> web.Response:
        jql = request.query.get("jql")
        if not jql:
            return jira_error(400, ["The 'jql' parameter is required."])
        clauses, _, order = jql.partition(" ORDER BY ")
        wanted: dict[str, str] = {}
        for clause in clauses.split(" AND "):
            m = re.fullmatch(r'\s*(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*', clause)
            if m is None or m.group(1) not in ("project", "labels"):
                return jira_error(400, [f"Error in the JQL Query: cannot parse '{clause}'."])
            wanted[m.group(1)] = re.sub(r"\\(.)", r"\1", m.group(2))
        if not wanted:
            return jira_error(400, ["Unbounded JQL queries are not allowed here."])
        found = [
            t
            for t in request.app[FAKE].tickets.values()
            if wanted.get("project", site.project) == site.project
            and ("labels" not in wanted or wanted["labels"] in t.raw["fields"].get("labels", []))
        ]
        found.sort(key=lambda t: int(t.raw["id"]), reverse=order.strip().upper() == "CREATED DESC")
        limit = int(request.query.get("maxResults", "50"))
        fields = request.query.get("fields")
        if site.search_needs_fields and not fields:
            issues: list[dict[str, Any]] = [{"id": t.raw["id"]} for t in found[:limit]]
        else:
            wanted_fields = set(fields.split(",")) if fields else None
            issues = [issue_json(request, t, wanted_fields) for t in found[:limit]]
        if site.api == "3":
            return json_response({"issues": issues, "isLast": len(found) <= limit})
        return json_response({"startAt": 0, "maxResults": limit, "total": len(found), "issues": issues})

    if site.api == "3":

        @routes.get(f"{api}/search/jql")
        @guarded
        async def search_jql(request: web.Request) -> web.Response:
            return await search(request)

        @routes.route("*", f"{api}/search")
        async def removed(request: web.Request) -> web.Response:
            return jira_error(
                410,
                [
                    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
                    " A full migration guideline is available at"
                    " https://developer.atlassian.com/changelog/#CHANGE-2046"
                ],
            )

    else:

        @routes.get(f"{api}/search")
        @guarded
        async def search_v2(request: web.Request) -> web.Response:
            return await search(request)

    @routes.get(f"{api}/myself")
    @guarded
    async def myself(request: web.Request) -> web.Response:
        return json_response(site.myself)

    @routes.get(api + "/project/{project}")
    @guarded
    async def project(request: web.Request) -> web.Response:
        if request.match_info["project"] != site.project:
            return jira_error(404, [f"No project could be found with key '{request.match_info['project']}'."])
        types = [{"id": str(10001 + i), "name": n, "subtask": False} for i, n in enumerate(site.issue_types)]
        return json_response({"id": "10000", "key": site.project, "name": "Operations", "issueTypes": types})

    @routes.get(f"{api}/mypermissions")
    @guarded
    async def mypermissions(request: web.Request) -> web.Response:
        key = request.query.get("projectKey")
        if key is not None and key != site.project:
            return jira_error(404, [f"No project could be found with key '{key}'."])
        asked = request.query.get("permissions")
        if site.api == "3" and not asked:
            return jira_error(400, ["The permissions query parameter is required."])
        keys = asked.split(",") if asked else list(PERMISSIONS)
        answer = {
            k: {
                "id": str(i),
                "key": k,
                "name": k.title(),
                "type": "PROJECT",
                "havePermission": k in site.granted,
            }
            for i, k in enumerate(keys)
        }
        return json_response({"permissions": answer})

    app = make_app(list(routes))
    app[SITE] = site
    return app
