"""The incident API and the health endpoints; thin handlers over the store and the pipeline."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from daemon import api_body
from daemon.errors import NotFound, PayloadError, StoreUnavailable
from daemon.keys import PIPELINE, SETTINGS, STOPPING, STORE, WORKER
from daemon.models import PRIORITIES, Incident, IncidentStatus

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# An incident's alerts and timeline events in one view; the most an incident holds by
# default (correlation's max_alerts) can still be asked for.
DETAIL_DEFAULT_LIMIT = 1000
DETAIL_MAX_LIMIT = 10_000


def _limit(request: web.Request, default: int, maximum: int) -> int:
    """The ``limit`` query parameter: an integer from 1 to ``maximum``, else a 400."""
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise PayloadError(f"limit must be an integer from 1 to {maximum}, got {raw!r}")
    return int(raw)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def list_incidents(request: web.Request) -> web.Response:
    """``GET /api/v1/incidents[?status=open|acknowledged|resolved][&limit=N]``, newest first."""
    raw_status = request.query.get("status")
    status = None
    if raw_status is not None:
        try:
            status = IncidentStatus(raw_status)
        except ValueError:
            allowed = ", ".join(s.value for s in IncidentStatus)
            raise PayloadError(f"status must be one of {allowed}, got {raw_status!r}") from None
    incidents = await request.app[STORE].list_incidents(status, _limit(request, DEFAULT_LIMIT, MAX_LIMIT))
    return _json({"incidents": [i.summary_json() for i in incidents]})


async def get_incident(request: web.Request) -> web.Response:
    """``GET /api/v1/incidents/{id}[?limit=N]``: the incident with at most N of its alerts
    (the first to join) and N timeline events (the latest), and how many there are."""
    incident_id = request.match_info["id"]
    detail = await request.app[STORE].get_incident(
        incident_id, _limit(request, DETAIL_DEFAULT_LIMIT, DETAIL_MAX_LIMIT)
    )
    if detail is None:
        raise NotFound(f"no incident {incident_id}")
    return _json(detail.to_json())


async def _action_body(request: web.Request) -> tuple[str, str]:
    """Optional ``{"actor": ..., "note": ...}``; the actor defaults to ``api``."""
    body = await api_body.read_object(request)
    return api_body.actor(body), api_body.text(body, "note", 10_000)


def _incident_response(incident: Incident) -> web.Response:
    return _json(incident.summary_json())


async def acknowledge(request: web.Request) -> web.Response:
    """``POST /api/v1/incidents/{id}/ack``."""
    actor, note = await _action_body(request)
    incident = await request.app[PIPELINE].acknowledge(request.match_info["id"], actor, note)
    return _incident_response(incident)


async def resolve(request: web.Request) -> web.Response:
    """``POST /api/v1/incidents/{id}/resolve``."""
    actor, note = await _action_body(request)
    incident = await request.app[PIPELINE].resolve(request.match_info["id"], actor, note)
    return _incident_response(incident)


async def _backlog(request: web.Request) -> int | None:
    try:
        return await request.app[STORE].backlog_now()
    except StoreUnavailable:
        return None


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers. Restart it only if this fails."""
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the store takes writes, the pipeline runs, and we are not shutting down."""
    problems = []
    if request.app[STOPPING].is_set():
        problems.append("shutting down")
    if not await request.app[STORE].ping():
        problems.append("store unavailable")
    worker = request.app.get(WORKER)
    if request.app[SETTINGS].pipeline.enabled and (worker is None or worker.done()):
        problems.append("pipeline not running")
    body: dict[str, Any] = {
        "status": "ready" if not problems else "not ready",
        "backlog": await _backlog(request),
    }
    if problems:
        body["problems"] = problems
    return _json(body, status=200 if not problems else 503)


DELIVERY_STATUSES = ("pending", "done", "dead")


async def list_deliveries(request: web.Request) -> web.Response:
    """``GET /api/v1/deliveries[?status=pending|done|dead][&limit=N]``: the outbox, newest first."""
    status = request.query.get("status")
    if status is not None and status not in DELIVERY_STATUSES:
        raise PayloadError(f"status must be one of {', '.join(DELIVERY_STATUSES)}, got {status!r}")
    jobs = await request.app[STORE].list_deliveries(status, _limit(request, DEFAULT_LIMIT, MAX_LIMIT))
    return _json({"deliveries": jobs})


async def retry_delivery(request: web.Request) -> web.Response:
    """``POST /api/v1/deliveries/{id}/retry``: a dead letter goes back to its queue, due now."""
    job_id = request.match_info["id"]
    if not await request.app[STORE].retry_dead_letter(job_id):
        raise NotFound(f"no dead letter {job_id}")
    return _json({"id": job_id, "status": "pending"})


URGENCIES = ("critical", "warning", "info")


async def feedback(request: web.Request) -> web.Response:
    """``POST /api/v1/incidents/{id}/feedback``: correct priority, urgency, team; mark noise or
    duplicate. Stored in the timeline; ``triaged feedback-export`` turns urgency corrections
    into training rows for ``triaged train``."""
    body = await api_body.read_object(request)
    fb: dict[str, Any] = {}
    checks: dict[str, tuple[Any, str]] = {
        "priority": (lambda v: v in PRIORITIES, "one of P1..P5"),
        "urgency": (lambda v: v in URGENCIES, "one of critical, warning, info"),
        "team": (lambda v: isinstance(v, str) and 0 < len(v) <= 200, "a team name"),
        "noise": (lambda v: isinstance(v, bool), "true or false"),
        "duplicate_of": (lambda v: isinstance(v, str) and v.startswith("inc_"), "an incident id"),
        "note": (lambda v: isinstance(v, str) and len(v) <= 10_000, "a string"),
    }
    for key, value in body.items():
        if key == "actor":
            continue
        if key not in checks:
            raise PayloadError(f"unknown field {key!r}; expected some of {', '.join(checks)}")
        ok, expected = checks[key]
        if not ok(value):
            raise PayloadError(f"{key}: expected {expected}, got {value!r}")
        fb[key] = value
    if not fb:
        raise PayloadError(f"nothing to record: send some of {', '.join(checks)}")
    actor = body.get("actor", "api")
    if not isinstance(actor, str) or not actor.strip():
        raise PayloadError("actor must be a non-empty string")
    incident = await request.app[PIPELINE].feedback(request.match_info["id"], actor.strip(), fb)
    return _incident_response(incident)


async def reload_model(request: web.Request) -> web.Response:
    """``POST /api/v1/model/reload``: load the configured model file again, without a restart.

    A file that fails its checks (hash, versions, trusted types) is refused and the
    running model stays: 409 with the version still in use.
    """
    if not request.app[SETTINGS].pipeline.enabled:
        return _json(
            {"error": "this replica's pipeline is off (pipeline.enabled: false): it loads no model"},
            status=409,
        )
    swapped, version = request.app[PIPELINE].reload_model()
    return _json({"reloaded": swapped, "model_version": version}, status=200 if swapped else 409)
