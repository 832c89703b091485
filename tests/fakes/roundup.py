"""A Roundup tracker's REST interface (``doc/rest.txt``), classic template, for the calls triaged makes.

Served under ``/demo/`` like a tracker whose web URL is ``http://<host>/demo/``. Like
Roundup it checks Basic auth (401 "Invalid Login"), demands ``X-Requested-With`` and a
matching ``Origin`` on changing requests (400 "Required Header Missing"), answers 412 to a
PUT whose ``If-Match`` is not the item's current etag, resolves Link values given by name,
wraps answers in ``{"data": ...}`` and errors in ``{"error": {"status", "msg"}}``.
The neutral ``Ticket`` view reads the marker from the title suffix ``[triaged-...]``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FAKE, FakeTracker, Ticket, json_response, make_app

NAME = "roundup"
USER = "triaged"
PASSWORD = "roundup-pass-123"
PREFIX = "/demo/rest/data"
PRIORITY = ["critical", "urgent", "bug", "feature", "wish"]  # ids "1".."5", as initial_data.py
STATUS = ["unread", "deferred", "chatting", "need-eg", "in-progress", "testing", "done-cbb", "resolved"]
NEUTRAL_PRIORITY = {"critical": "P1", "urgent": "P2", "bug": "P3", "feature": "P4", "wish": "P5"}
NEUTRAL_STATUS = {"in-progress": "acknowledged", "resolved": "resolved"}
MESSAGES = web.AppKey("roundup_messages", dict)
_MARKER = re.compile(r"\[(triaged-[^\]]+)\]\s*$")
routes = web.RouteTableDef()


def rest_error(status: int, msg: str) -> web.Response:
    """Roundup's REST error envelope."""
    return json_response({"error": {"status": status, "msg": msg}}, status)


def _guard(request: web.Request) -> web.Response | None:
    """Auth, then the CSRF checks Roundup makes on non-GET requests."""
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if request.headers.get("Authorization") != expected:
        return web.Response(status=401, text="Invalid Login - Invalid login")
    if request.method != "GET":
        if "X-Requested-With" not in request.headers or "Origin" not in request.headers:
            return rest_error(400, "Required Header Missing")
        if request.headers["Origin"] != f"http://{request.host}":
            return rest_error(400, "Client is not allowed to use Rest Interface.")
        if request.content_type != "application/json":
            return rest_error(415, "Unable to process input of type " + request.content_type)
    return None


def _etag(raw: dict[str, Any]) -> str:
    return '"' + hashlib.md5(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)).hexdigest() + '"'


def _link(request: web.Request, cls: str, item_id: str) -> str:
    return f"http://{request.host}{PREFIX}/{cls}/{item_id}"


def _lookup(names: list[str], value: str, cls: str) -> str:
    """A Link value by id or by name, like hyperdb.rawToHyperdb; ValueError otherwise."""
    if value.isdigit() and 1 <= int(value) <= len(names):
        return value
    if value in names:
        return str(names.index(value) + 1)
    raise ValueError(f"property {cls}: {value!r} is not a {cls}.")


def _sync(ticket: Ticket, messages: dict[str, str]) -> None:
    """Refresh the neutral view from the Roundup-shaped record."""
    raw = ticket.raw
    ticket.title = raw["title"]
    match = _MARKER.search(raw["title"])
    ticket.marker = match.group(1) if match else None
    ticket.priority = (
        NEUTRAL_PRIORITY.get(PRIORITY[int(raw["priority"]) - 1]) if raw.get("priority") else None
    )
    ticket.status = NEUTRAL_STATUS.get(STATUS[int(raw["status"]) - 1], "open")
    texts = [messages[m] for m in raw["messages"]]
    ticket.body = texts[0] if texts else None
    ticket.comments = texts[1:]


def _apply(raw: dict[str, Any], body: dict[str, Any], messages: dict[str, str]) -> dict[str, Any]:
    """Validate and set issue properties; returns what changed (Roundup's ``attribute``)."""
    changed: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("@"):
            continue
        if key == "title":
            new: Any = str(value)
        elif key == "priority":
            new = _lookup(PRIORITY, str(value), "priority")
        elif key == "status":
            new = _lookup(STATUS, str(value), "status")
        elif key == "messages":
            new = [str(m) for m in value]
            if any(m not in messages for m in new):
                raise ValueError("property messages: no such msg")
        else:
            raise KeyError(f"Property {key} not found in class issue")
        if raw.get(key) != new:
            changed[key] = new
    return changed


@routes.post(PREFIX + "/issue")
async def create_issue(request: web.Request) -> web.Response:
    """Create an issue; unread when no status is given (the statusauditor's presetunread)."""
    if (refused := _guard(request)) is not None:
        return refused
    fake, messages = request.app[FAKE], request.app[MESSAGES]
    raw: dict[str, Any] = {"title": "", "priority": None, "status": "1", "messages": []}
    try:
        raw.update(_apply(raw, await request.json(), messages))
    except KeyError as err:
        return rest_error(400, str(err.args[0]))
    except ValueError as err:
        return rest_error(400, str(err))
    key = str(fake.next_id)
    fake.next_id += 1
    ticket = Ticket(key, raw["title"], raw=raw)
    _sync(ticket, messages)
    fake.tickets[key] = ticket
    link = _link(request, "issue", key)
    response = json_response({"data": {"id": key, "link": link}}, 201)
    response.headers["Location"] = link
    return response


@routes.post(PREFIX + "/msg")
async def create_msg(request: web.Request) -> web.Response:
    """Create a message (only its content matters here)."""
    if (refused := _guard(request)) is not None:
        return refused
    body = await request.json()
    if "content" not in body:
        return rest_error(400, "Must provide the 'content' property.")
    messages = request.app[MESSAGES]
    key = str(len(messages) + 1)
    messages[key] = str(body["content"])
    return json_response({"data": {"id": key, "link": _link(request, "msg", key)}}, 201)


@routes.get(PREFIX + "/issue/{id}")
async def get_issue(request: web.Request) -> web.Response:
    """One issue with its etag (header and ``@etag``); ``@fields`` limits the attributes."""
    if (refused := _guard(request)) is not None:
        return refused
    ticket = request.app[FAKE].tickets.get(request.match_info["id"])
    if ticket is None:
        return rest_error(404, f"no such issue {request.match_info['id']}")
    fields = request.query.get("@fields")
    attributes = {k: v for k, v in ticket.raw.items() if not fields or k in fields.split(",")}
    etag = _etag(ticket.raw)
    data = {"id": ticket.key, "type": "issue", "link": _link(request, "issue", ticket.key)}
    response = json_response({"data": {**data, "attributes": attributes, "@etag": etag}})
    response.headers["ETag"] = etag
    return response


@routes.put(PREFIX + "/issue/{id}")
async def put_issue(request: web.Request) -> web.Response:
    """Change properties; 412 unless If-Match (or ``@etag``) is the current etag."""
    if (refused := _guard(request)) is not None:
        return refused
    fake, messages = request.app[FAKE], request.app[MESSAGES]
    ticket = fake.tickets.get(request.match_info["id"])
    if ticket is None:
        return rest_error(404, f"no such issue {request.match_info['id']}")
    body = await request.json()
    if request.headers.get("If-Match", body.get("@etag")) != _etag(ticket.raw):
        msg = "If-Match is missing or does not match. Retrieve asset and retry modification if valid."
        return rest_error(412, msg)
    try:
        changed = _apply(ticket.raw, body, messages)
    except KeyError as err:
        return rest_error(400, str(err.args[0]))
    except ValueError as err:
        return rest_error(400, str(err))
    ticket.raw.update(changed)
    _sync(ticket, messages)
    link = _link(request, "issue", ticket.key)
    return json_response({"data": {"id": ticket.key, "type": "issue", "link": link, "attribute": changed}})


@routes.get(PREFIX + "/msg/{id}")
async def get_msg(request: web.Request) -> web.Response:
    """A message; its content inline only with ``@verbose=3``, as in Roundup."""
    if (refused := _guard(request)) is not None:
        return refused
    key = request.match_info["id"]
    content = request.app[MESSAGES].get(key)
    if content is None:
        return rest_error(404, f"no such msg {key}")
    link = _link(request, "msg", key)
    shown: Any = content if request.query.get("@verbose") == "3" else {"link": link}
    return json_response({"data": {"id": key, "type": "msg", "link": link, "attributes": {"content": shown}}})


@routes.get(PREFIX + "/{cls}")
async def collection(request: web.Request) -> web.Response:
    """Issues (``title`` substring filter, ``@fields``, ``@page_size``), priorities, statuses."""
    if (refused := _guard(request)) is not None:
        return refused
    cls = request.match_info["cls"]
    verbose = request.query.get("@verbose") == "2"
    items: list[dict[str, Any]] = []
    if cls in ("priority", "status"):
        names = PRIORITY if cls == "priority" else STATUS
        for i, name in enumerate(names, 1):
            item = {"id": str(i), "link": _link(request, cls, str(i))}
            items.append({**item, "name": name} if verbose else item)
    elif cls == "issue":
        items = _issues(request, request.app[FAKE])
    else:
        return rest_error(404, f"Class {cls} not found")
    size = request.query.get("@page_size")
    total = len(items)
    if size is not None:
        items = items[: int(size)]
    return json_response({"data": {"collection": items, "@total_size": total}})


def _issues(request: web.Request, fake: FakeTracker) -> list[dict[str, Any]]:
    wanted = request.query.get("title", "").lower()
    fields = [f for f in request.query.get("@fields", "").split(",") if f]
    items = []
    for key in sorted(fake.tickets, key=int):
        raw = fake.tickets[key].raw
        if wanted in raw["title"].lower():
            item = {"id": key, "link": _link(request, "issue", key)}
            items.append({**item, **{f: raw[f] for f in fields if f in raw}})
    return items


def create_app() -> web.Application:
    """The fake tracker."""
    app = make_app(list(routes))
    app[MESSAGES] = {}
    return app


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the connector under test, pointed at this fake."""
    return {"endpoint": f"{base_url}/demo/", "username": USER, "password": PASSWORD, "timeout": 1.0}
