"""A Slack Incoming Webhook at ``/services/<team>/<bot>/<token>``, for the calls triaged makes.

Answers like Slack: 200 ``ok`` (text/plain); unknown team or webhook 404 ``no_service``, a
wrong token 403 ``invalid_token``, a body that is not JSON 400 ``invalid_payload``, no text
and no blocks 400 ``no_text``, blocks beyond Block Kit's limits 400 ``invalid_blocks``.
A channel has no tickets: the neutral view groups the messages by the triaged marker they
show, reading priority and status from the message's fields.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FAKE, Ticket, make_app

NAME = "slack"
TEAM = "TFAKE0001"
BOT = "BFAKE0001"
TOKEN = "fakeSlackWebhookToken123"
_MARKER = re.compile(r"`(triaged-[^`]+)`")
routes = web.RouteTableDef()


def slack_error(status: int, code: str) -> web.Response:
    """Slack's plain-text webhook error."""
    return web.Response(status=status, text=code)


@routes.post("/services/{team}/{bot}/{token}")
async def incoming_webhook(request: web.Request) -> web.Response:
    """Validate the webhook and the message, then record it."""
    if (request.match_info["team"], request.match_info["bot"]) != (TEAM, BOT):
        return slack_error(404, "no_service")
    if request.match_info["token"] != TOKEN:
        return slack_error(403, "invalid_token")
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return slack_error(400, "invalid_payload")
    if not isinstance(body, dict):
        return slack_error(400, "invalid_payload")
    blocks = body.get("blocks")
    if not body.get("text") and not blocks:
        return slack_error(400, "no_text")
    if blocks is not None and not valid_blocks(blocks):
        return slack_error(400, "invalid_blocks")
    _record(request, body)
    return web.Response(text="ok")


def valid_blocks(blocks: Any) -> bool:
    """The Block Kit limits this fake enforces (header 150, section 3000, 10 fields, 50 blocks)."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return False
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            text = block["text"]
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                return False
        elif kind == "section":
            fields = block.get("fields", [])
            if "text" in block and not 0 < len(block["text"].get("text", "")) <= 3000:
                return False
            if len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
                return False
        elif kind == "context":
            if not 0 < len(block.get("elements", [])) <= 10:
                return False
        else:
            return False
    return True


def _record(request: web.Request, body: dict[str, Any]) -> None:
    fake = request.app[FAKE]
    texts = [_text(b) for b in body.get("blocks") or []] or [body.get("text", "")]
    found = _MARKER.search("\n".join(texts) + "\n" + body.get("text", ""))
    marker = found.group(1) if found else None
    fields = _fields(body.get("blocks") or [])
    key = marker or fake.new_key("slack-")
    ticket = fake.tickets.get(key)
    if ticket is None:
        ticket = fake.tickets[key] = Ticket(key, texts[0], body=body, marker=marker, raw={"messages": []})
    else:
        ticket.comments.append("\n".join(texts[1:]))
    ticket.raw["messages"].append(body)
    ticket.priority = fields.get("Priority", ticket.priority)
    status = fields.get("Status", ticket.status)
    ticket.status = status if status in ("open", "acknowledged", "resolved") else ticket.status


def _text(block: dict[str, Any]) -> str:
    parts = [block.get("text", {}).get("text", "")]
    parts += [f.get("text", "") for f in block.get("fields", [])]
    parts += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(p for p in parts if p)


def _fields(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """``*Name*\\nvalue`` section fields as a dict."""
    out = {}
    for block in blocks:
        for field in block.get("fields", []):
            name, _, value = field.get("text", "").partition("\n")
            out[name.strip("*")] = value
    return out


def create_app() -> web.Application:
    """The fake webhook."""
    return make_app(list(routes))


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the connector under test, pointed at this fake."""
    return {"webhook_url": f"{base_url}/services/{TEAM}/{BOT}/{TOKEN}", "timeout": 1.0}
