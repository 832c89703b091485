"""``/api/v1/silences``: create, list and expire silences (Alertmanager-style matchers).

Stored silences apply on every replica within a second (the pipeline re-reads them);
maintenance windows from config are listed too, and cannot be expired here.
"""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from daemon.errors import Conflict, NotFound, PayloadError
from daemon.keys import PIPELINE, SETTINGS, STORE
from daemon.silences import Silence, maintenance_silences, new_silence

STATES = ("active", "pending", "expired")


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def create(request: web.Request) -> web.Response:
    """``POST /api/v1/silences``: 201 with the silence."""
    raw = await request.read()
    if len(raw) > 64 * 1024:
        raise PayloadError("a silence body is at most 64 KiB")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise PayloadError(f"body is not valid JSON: {err}") from None
    silence = new_silence(body)
    await request.app[STORE].put_silence(silence.to_json())
    request.app[PIPELINE].invalidate_silences()
    return _json(silence.view(time.time()), status=201)


async def list_silences(request: web.Request) -> web.Response:
    """``GET /api/v1/silences[?state=active|pending|expired]``: stored and config silences."""
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise PayloadError(f"state must be one of {', '.join(STATES)}, got {state!r}")
    now = time.time()
    docs = await request.app[STORE].list_silences()
    silences = maintenance_silences(request.app[SETTINGS].correlation.maintenance)
    silences += [Silence.from_json(d) for d in docs]
    views = [s.view(now) for s in silences if state is None or s.state(now) == state]
    return _json({"silences": views})


async def expire(request: web.Request) -> web.Response:
    """``DELETE /api/v1/silences/{id}``: end it now (kept, as expired, for the record)."""
    silence_id = request.match_info["id"]
    if silence_id.startswith("maintenance:"):
        raise Conflict(f"{silence_id} comes from the config (correlation.maintenance); edit it there")
    store = request.app[STORE]
    found = [d for d in await store.list_silences() if d.get("id") == silence_id]
    if not found:
        raise NotFound(f"no silence {silence_id}")
    silence = Silence.from_json(found[0])
    now = time.time()
    if silence.state(now) == "expired":
        return _json(silence.view(now))
    silence.ends_at = now
    silence.starts_at = min(silence.starts_at, now)
    await store.put_silence(silence.to_json())
    request.app[PIPELINE].invalidate_silences()
    return _json(silence.view(now))
