"""Reading the small JSON bodies of the incident actions: one set of rules and messages."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from daemon.errors import PayloadError

MAX_BODY = 64 * 1024


async def read_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``."""
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise PayloadError(f"body over {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise PayloadError(f"body is not valid JSON: {err}") from None
    if not isinstance(body, dict):
        raise PayloadError('expected a JSON object such as {"actor": "alice", "note": "..."}')
    return body


def text(body: dict[str, Any], key: str, limit: int, default: str = "") -> str:
    """A string field, stripped; wrong type or too long is a 400 naming the field."""
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > limit:
        raise PayloadError(f"{key} must be a string of at most {limit} characters")
    return value.strip()


def actor(body: dict[str, Any]) -> str:
    """Who acts (``api`` when not said)."""
    return text(body, "actor", 200, "api") or "api"
