"""A Teams Workflows webhook (a Logic Apps request trigger), for the calls triaged makes.

``POST /workflows/<id>/triggers/manual/paths/invoke?api-version=...&sig=<SAS>`` answers 202
with an empty body. Like the trigger: no ``api-version`` 400 ``MissingApiVersionParameter``,
a missing or wrong ``sig`` 401 ``DirectApiAuthorizationRequired``, an unknown workflow 404,
a GET 400 ``TriggerRequestMethodNotValid`` (the trigger runs on POST only), and a body that
is not a message with one Adaptive Card attachment 400 (the template's flow needs
``attachments``). The neutral view groups cards by the "Incident" fact (the marker).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from fakes.base import FAKE, Ticket, json_response, make_app

NAME = "teams"
WORKFLOW = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SIG = "fakeTeamsSharedAccessSig123"
PATH = f"/workflows/{WORKFLOW}/triggers/manual/paths/invoke"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
routes = web.RouteTableDef()


def logic_error(status: int, code: str, message: str) -> web.Response:
    """The Logic Apps error envelope."""
    return json_response({"error": {"code": code, "message": message}}, status)


def _guard(request: web.Request) -> web.Response | None:
    if request.match_info["workflow"] != WORKFLOW:
        return logic_error(404, "WorkflowNotFound", "The request URI does not match any known API routes.")
    if "api-version" not in request.query:
        return logic_error(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
    if request.query.get("sig") != SIG:
        return logic_error(
            401,
            "DirectApiAuthorizationRequired",
            "The request must be authenticated only by Shared Access scheme.",
        )
    return None


@routes.get("/workflows/{workflow}/triggers/manual/paths/invoke")
async def wrong_method(request: web.Request) -> web.Response:
    """The trigger only accepts POST."""
    if (refused := _guard(request)) is not None:
        return refused
    return logic_error(
        400,
        "TriggerRequestMethodNotValid",
        "The HTTP method for this request is not valid: expected 'Post' and actual 'GET'.",
    )


@routes.post("/workflows/{workflow}/triggers/manual/paths/invoke")
async def invoke(request: web.Request) -> web.Response:
    """Accept a Teams message carrying one Adaptive Card; 202 like the trigger."""
    if (refused := _guard(request)) is not None:
        return refused
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return logic_error(400, "InvalidRequestContent", "The request content is not valid JSON.")
    card = _card(body)
    if card is None:
        return logic_error(
            400, "InvalidTemplate", "'attachments' must be a list of Adaptive Card attachments."
        )
    _record(request, body, card)
    return web.Response(status=202)


def _card(body: Any) -> dict[str, Any] | None:
    """The Adaptive Card of a well-formed message, or None."""
    if not isinstance(body, dict) or body.get("type") != "message":
        return None
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return None
    attachment = attachments[0]
    card = attachment.get("content")
    if attachment.get("contentType") != CARD_TYPE or not isinstance(card, dict):
        return None
    if (
        card.get("type") != "AdaptiveCard"
        or not card.get("version")
        or not isinstance(card.get("body"), list)
    ):
        return None
    return card


def _record(request: web.Request, body: dict[str, Any], card: dict[str, Any]) -> None:
    fake = request.app[FAKE]
    facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    marker = facts.get("Incident")
    key = marker or fake.new_key("teams-")
    ticket = fake.tickets.get(key)
    if ticket is None:
        ticket = fake.tickets[key] = Ticket(key, texts[0], body=body, marker=marker, raw={"messages": []})
    else:
        ticket.comments.append(next((b["text"] for b in card["body"] if b.get("id") == "note"), ""))
    ticket.raw["messages"].append(body)
    ticket.priority = facts.get("Priority", ticket.priority)
    status = facts.get("Status", ticket.status)
    ticket.status = status if status in ("open", "acknowledged", "resolved") else ticket.status


def create_app() -> web.Application:
    """The fake workflow trigger."""
    return make_app(list(routes))


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the connector under test, pointed at this fake."""
    query = f"api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
    return {"webhook_url": f"{base_url}{PATH}?{query}", "timeout": 1.0}
