"""A fake PagerDuty Events API v2: ``POST /v2/enqueue`` with PagerDuty's dedup semantics.

As documented: the routing key travels in the body (no auth header; a wrong key is a
400 ``invalid event``, never a 401); ``trigger`` opens an alert or, when an open alert
has the same ``dedup_key``, appends to its log; ``acknowledge``/``resolve`` apply to the
open alert of that key and are dropped when there is none; a resolved alert is never
reopened (the next trigger opens a new one). Every accepted event answers 202
``{"status": "success", "message": "Event processed", "dedup_key": ...}``.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from aiohttp import web

from fakes.base import FAKE, FakeTracker, Ticket, json_response, make_app

NAME = "pagerduty"
ROUTING_KEY = "R0a1b2c3d4e5f60718293a4b5c6d7e8f"  # 32 characters, like a real integration key
PATH = "/v2/enqueue"
PRIORITY = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P4"}  # severity -> priority
ACTIONS = ("trigger", "acknowledge", "resolve")
routes = web.RouteTableDef()


def _invalid(*errors: str) -> web.Response:
    body = {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}
    return json_response(body, 400)


def _validate(event: Any) -> list[str]:
    """The checks PagerDuty makes before accepting an event."""
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    elif key != ROUTING_KEY:
        errors.append("Invalid routing key")
    if event.get("event_action") not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup = event.get("dedup_key")
    if event.get("event_action") != "trigger" and not dedup:
        errors.append("'dedup_key' is missing or blank")
    if isinstance(dedup, str) and len(dedup) > 255:
        errors.append("'dedup_key' is too long (maximum is 255 characters)")
    if event.get("event_action") == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or blank")
        else:
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    errors.append(f"'payload.{name}' is missing or blank")
            if payload.get("severity") and payload["severity"] not in PRIORITY:
                errors.append(
                    "'payload.severity' is invalid (must be one of: critical, error, warning, info)"
                )
            if len(str(payload.get("summary", ""))) > 1024:
                errors.append("'payload.summary' is too long (maximum is 1024 characters)")
    return errors


def _open_alert(fake: FakeTracker, dedup_key: str) -> Ticket | None:
    """The unresolved alert of a dedup key (at most one exists)."""
    return next((t for t in fake.by_marker(dedup_key) if t.status != "resolved"), None)


def _trigger(fake: FakeTracker, event: dict[str, Any], dedup_key: str) -> None:
    payload = event["payload"]
    details = payload.get("custom_details") or {}
    alert = _open_alert(fake, dedup_key)
    if alert is None:
        key = fake.new_key("PD-ALERT-")
        fake.tickets[key] = Ticket(
            key, payload["summary"], body=event, marker=dedup_key, raw={"log": [event]}
        )
        alert = fake.tickets[key]
    else:
        alert.raw["log"].append(event)  # a trigger log entry on the existing alert
        if isinstance(details, dict) and details.get("note"):
            alert.comments.append(str(details["note"]))
    alert.title = payload["summary"]
    alert.priority = PRIORITY[payload["severity"]]
    alert.body = event


@routes.post(PATH)
async def enqueue(request: web.Request) -> web.Response:
    """Accept one alert event."""
    fake: FakeTracker = request.app[FAKE]
    try:
        event = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _invalid("Event object is not valid JSON")
    errors = _validate(event)
    if errors:
        return _invalid(*errors)
    dedup_key = str(event.get("dedup_key") or uuid.uuid4().hex)
    action = event["event_action"]
    if action == "trigger":
        _trigger(fake, event, dedup_key)
    else:
        alert = _open_alert(fake, dedup_key)
        if alert is not None:  # otherwise: dropped, still 202
            alert.raw["log"].append(event)
            alert.status = "acknowledged" if action == "acknowledge" else "resolved"
    return json_response({"status": "success", "message": "Event processed", "dedup_key": dedup_key}, 202)


def create_app() -> web.Application:
    """The fake Events API."""
    return make_app(list(routes))


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the connector under test, pointed at this fake."""
    return {"endpoint": f"{base_url}{PATH}", "routing_key": ROUTING_KEY, "timeout": 1.0}
