"""The OpenAPI 3.1 description of every route, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

_ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"description": description}
    if schema is not None:
        body["content"] = {"application/json": {"schema": schema}}
    return body


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed request; `error` names the problem.",
        401: "Missing or wrong credentials (token, basic, signature or address).",
        404: "Not found.",
        409: "The action does not apply in the incident's state.",
        413: "Body over `intake.max_body_bytes`.",
        503: "Cannot store now (store down or backlog full); retry after `Retry-After`.",
    }
    return {str(c): _resp(text[c], _ERROR) for c in codes}


_INCIDENT_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_ACTION_BODY = {
    "required": False,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Action"}}},
}


def _incident_action(summary: str, fields: dict[str, Any]) -> dict[str, Any]:
    """An action on one incident: optional actor and note, plus its own fields."""
    schema = {"type": "object", "properties": {"actor": {"type": "string"}, **fields}}
    return {
        "post": {
            "summary": summary,
            "parameters": [_INCIDENT_ID],
            "requestBody": {"required": False, "content": {"application/json": {"schema": schema}}},
            "responses": {
                "200": _resp("The incident.", {"$ref": "#/components/schemas/Incident"}),
                **_errors(400, 404, 409),
            },
        }
    }


_SENDERS = ["alertmanager", "grafana", "datadog", "zabbix", "cloudwatch"]
_INGEST: dict[str, Any] = {
    "summary": "Ingest a webhook from a sender (docs/senders.md).",
    "parameters": [
        {"name": "source", "in": "path", "required": True, "schema": {"type": "string", "enum": _SENDERS}}
    ],
    "security": [{"bearer": []}, {"basic": []}, {}],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/AlertmanagerWebhook"},
                        {"type": "object", "description": "Grafana, Datadog, Zabbix or SNS body"},
                    ]
                }
            }
        },
    },
    "responses": {
        "200": _resp("An SNS subscription message, answered (sources.cloudwatch)."),
        "202": _resp("Stored durably.", {"$ref": "#/components/schemas/Accepted"}),
        **_errors(400, 401, 404, 413, 503),
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "triaged",
        "version": "1",
        "description": "Alert ingestion and auto-triage daemon. With `api.tokens` configured, every "
        "route but /healthz, /readyz and /api/v1/inbound/* needs `Authorization: Bearer <token>` "
        "with the route's scope: read for GET, write for incident actions and silences, admin "
        "for model reload and delivery retries, ingest (or the sender's own credentials) for "
        "/api/v1/alerts/*. 401 without a valid token, 403 without the scope.",
    },
    "security": [{"bearer": []}, {}],
    "paths": {
        "/api/v1/alerts/{source}": {
            "post": _INGEST,
            "put": {**_INGEST, "summary": "Same as POST (Grafana contact points may use PUT)."},
        },
        "/api/v1/alerts/generic/{name}": {
            "post": {
                "summary": "Ingest any JSON body through the mapping sources.generic.mappings.<name>.",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "security": [{"bearer": []}, {"basic": []}, {}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": ["object", "array"]}}},
                },
                "responses": {
                    "202": _resp("Stored durably.", {"$ref": "#/components/schemas/Accepted"}),
                    **_errors(400, 401, 404, 413, 503),
                },
            },
        },
        "/api/v1/reports": {
            "post": {
                "summary": "A person or help-desk form reports a problem; it becomes a report alert.",
                "security": [{"bearer": []}, {"basic": []}, {}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}},
                },
                "responses": {
                    "202": _resp("Stored durably.", {"$ref": "#/components/schemas/Accepted"}),
                    **_errors(400, 401, 404, 413, 503),
                },
            },
        },
        "/api/v1/incidents": {
            "get": {
                "summary": "List incidents, newest first.",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["open", "acknowledged", "resolved"]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 1000,
                            "default": 100,
                        },
                    },
                ],
                "responses": {
                    "200": _resp(
                        "Incidents.",
                        {
                            "type": "object",
                            "properties": {
                                "incidents": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Incident"},
                                }
                            },
                        },
                    ),
                    **_errors(400),
                },
            },
        },
        "/api/v1/incidents/{id}": {
            "get": {
                "summary": "One incident with at most `limit` of its alerts (the first to join) and "
                "`limit` timeline events (the latest); `alerts_total` and `timeline_total` count them all.",
                "parameters": [
                    _INCIDENT_ID,
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000},
                    },
                ],
                "responses": {
                    "200": _resp("The incident.", {"$ref": "#/components/schemas/IncidentDetail"}),
                    **_errors(400, 404),
                },
            },
        },
        "/api/v1/incidents/{id}/ack": {
            "post": {
                "summary": "Acknowledge (idempotent).",
                "parameters": [_INCIDENT_ID],
                "requestBody": _ACTION_BODY,
                "responses": {
                    "200": _resp("The incident.", {"$ref": "#/components/schemas/Incident"}),
                    **_errors(400, 404, 409),
                },
            },
        },
        "/api/v1/incidents/{id}/resolve": {
            "post": {
                "summary": "Resolve by hand (idempotent).",
                "parameters": [_INCIDENT_ID],
                "requestBody": _ACTION_BODY,
                "responses": {
                    "200": _resp("The incident.", {"$ref": "#/components/schemas/Incident"}),
                    **_errors(400, 404),
                },
            },
        },
        "/api/v1/incidents/{id}/feedback": {
            "post": {
                "summary": "Correct priority/urgency/team, or mark noise or a duplicate (training labels).",
                "parameters": [_INCIDENT_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "actor": {"type": "string"},
                                    "priority": {"enum": ["P1", "P2", "P3", "P4", "P5"]},
                                    "urgency": {"enum": ["critical", "warning", "info"]},
                                    "team": {"type": "string"},
                                    "noise": {"type": "boolean"},
                                    "duplicate_of": {"type": "string"},
                                    "note": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _resp("The incident.", {"$ref": "#/components/schemas/Incident"}),
                    **_errors(400, 404),
                },
            },
        },
        "/api/v1/incidents/{id}/reopen": _incident_action(
            "Reopen a resolved incident (escalation starts over); an open one is returned unchanged.", {}
        ),
        "/api/v1/incidents/{id}/note": _incident_action(
            "Add a note to the timeline; trackers get it as a comment.", {"note": {"type": "string"}}
        ),
        "/api/v1/incidents/{id}/priority": _incident_action(
            "Set the priority by hand (wins over model and rules; the reason says who).",
            {"priority": {"enum": ["P1", "P2", "P3", "P4", "P5"]}, "note": {"type": "string"}},
        ),
        "/api/v1/incidents/{id}/assign": _incident_action(
            "Reassign to a team and/or a person.",
            {"team": {"type": "string"}, "assignee": {"type": "string"}, "note": {"type": "string"}},
        ),
        "/api/v1/inbound/{connector}": {
            "post": {
                "summary": "A tracker's webhook (docs/inbound.md): acknowledged, resolved, reopened, "
                "commented, priority or assignee changed there. Authenticated by the tracker's "
                "signature or token (the connector's inbound_secret); applied once per event id.",
                "parameters": [
                    {"name": "connector", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": _resp(
                        "Events parsed and applied.",
                        {
                            "type": "object",
                            "properties": {
                                "events": {"type": "integer"},
                                "applied": {"type": "integer"},
                                "unknown_tickets": {"type": "integer"},
                            },
                        },
                    ),
                    **_errors(400, 401, 404, 413),
                },
            },
        },
        "/api/v1/model/reload": {
            "post": {
                "summary": "Load the configured urgency model file again (hot reload).",
                "responses": {
                    "200": _resp("Swapped in."),
                    "409": _resp(
                        "Refused (failed its checks); the running model stays. Or an ingest replica"
                        " (pipeline.enabled: false), which loads no model."
                    ),
                },
            },
        },
        "/api/v1/silences": {
            "post": {
                "summary": "Create a silence: matchers plus an end (ends_at or duration), optionally "
                "recurring (weekly windows). Matching alerts are recorded but open no incident.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewSilence"}}},
                },
                "responses": {
                    "201": _resp("Created.", {"$ref": "#/components/schemas/Silence"}),
                    **_errors(400),
                },
            },
            "get": {
                "summary": "Silences and maintenance windows, optionally of one state.",
                "parameters": [
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["active", "pending", "expired"]},
                    }
                ],
                "responses": {
                    "200": _resp(
                        "Silences.",
                        {
                            "type": "object",
                            "properties": {
                                "silences": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Silence"},
                                }
                            },
                        },
                    ),
                    **_errors(400),
                },
            },
        },
        "/api/v1/silences/{id}": {
            "delete": {
                "summary": "Expire a silence now (it stays listed as expired).",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": _resp("Expired.", {"$ref": "#/components/schemas/Silence"}),
                    **_errors(404, 409),
                },
            },
        },
        "/api/v1/deliveries": {
            "get": {
                "summary": "Tracker deliveries (the outbox), newest first; dead letters with status=dead.",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["pending", "done", "dead"]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                    },
                ],
                "responses": {
                    "200": _resp(
                        "Deliveries.",
                        {
                            "type": "object",
                            "properties": {
                                "deliveries": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Delivery"},
                                }
                            },
                        },
                    ),
                    **_errors(400),
                },
            },
        },
        "/api/v1/deliveries/{id}/retry": {
            "post": {
                "summary": "Retry a dead letter now.",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _resp("Pending again."), **_errors(404)},
            },
        },
        "/healthz": {"get": {"summary": "Liveness.", "responses": {"200": _resp("Alive.")}}},
        "/readyz": {
            "get": {
                "summary": "Readiness: store writable, pipeline running.",
                "responses": {"200": _resp("Ready."), "503": _resp("Not ready.")},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (prefix triaged_).",
                "responses": {
                    "200": {"description": "Text exposition format.", "content": {"text/plain": {}}}
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {"summary": "This document.", "responses": {"200": _resp("OpenAPI 3.1.")}}
        },
    },
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "basic": {"type": "http", "scheme": "basic"},
        },
        "schemas": {
            "NewSilence": {
                "type": "object",
                "required": ["matchers"],
                "properties": {
                    "matchers": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": 'Alertmanager matchers, e.g. alertname="NodeDown", cluster=~"prod-.*"',
                    },
                    "starts_at": {"type": "string", "format": "date-time"},
                    "ends_at": {"type": "string", "format": "date-time"},
                    "duration": {"type": "string", "description": "instead of ends_at: 30m, 2h, 1d"},
                    "created_by": {"type": "string"},
                    "comment": {"type": "string"},
                    "weekly": {
                        "type": "array",
                        "description": "recurring: only within these windows",
                        "items": {
                            "type": "object",
                            "required": ["start", "end"],
                            "properties": {
                                "days": {"type": "array", "items": {"type": "string"}},
                                "start": {"type": "string", "description": "HH:MM"},
                                "end": {"type": "string", "description": "HH:MM"},
                                "timezone": {"type": "string"},
                            },
                        },
                    },
                },
            },
            "Silence": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "state": {"type": "string", "enum": ["active", "pending", "expired"]},
                    "matchers": {"type": "array", "items": {"type": "string"}},
                    "starts_at": {"type": ["string", "null"]},
                    "ends_at": {"type": ["string", "null"]},
                    "created_by": {"type": "string"},
                    "comment": {"type": "string"},
                    "weekly": {"type": "array", "items": {"type": "object"}},
                },
            },
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            },
            "Accepted": {
                "type": "object",
                "required": ["accepted"],
                "properties": {
                    "accepted": {"type": "integer"},
                    "rejected": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "where": {"type": "string"},
                                "reason": {"type": "string"},
                                "error": {"type": "string"},
                            },
                        },
                    },
                },
            },
            "Delivery": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "incident_id": {"type": "string"},
                    "connector": {"type": "string"},
                    "action": {"enum": ["open", "update", "resolve"]},
                    "status": {"enum": ["pending", "done", "dead"]},
                    "attempts": {"type": "integer"},
                    "next_attempt_at": {"type": "number"},
                    "last_error": {"type": "string"},
                    "idempotency_key": {"type": "string"},
                },
            },
            "Report": {
                "type": "object",
                "required": ["title"],
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": 300},
                    "description": {"type": "string"},
                    "reporter": {"type": "string"},
                    "service": {"type": "string"},
                    "impact": {"enum": ["high", "medium", "low"]},
                    "status": {"enum": ["open", "resolved"]},
                    "id": {"type": "string"},
                    "url": {"type": "string"},
                },
            },
            "Action": {
                "type": "object",
                "properties": {
                    "actor": {"type": "string", "maxLength": 200},
                    "note": {"type": "string", "maxLength": 10000},
                },
            },
            "AlertmanagerWebhook": {
                "type": "object",
                "required": ["alerts"],
                "properties": {
                    "version": {"const": "4"},
                    "groupKey": {"type": "string"},
                    "truncatedAlerts": {"type": "integer", "minimum": 0},
                    "status": {"type": "string"},
                    "receiver": {"type": "string"},
                    "alerts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["status", "labels"],
                            "properties": {
                                "status": {"enum": ["firing", "resolved"]},
                                "labels": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "annotations": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "startsAt": {"type": "string"},
                                "endsAt": {"type": "string"},
                                "generatorURL": {"type": "string"},
                                "fingerprint": {"type": "string"},
                            },
                        },
                    },
                },
            },
            "Incident": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"enum": ["open", "acknowledged", "resolved"]},
                    "priority": {"enum": ["P1", "P2", "P3", "P4", "P5"]},
                    "reasons": {"type": "array", "items": {"type": "string"}},
                    "group_key": {"type": "string"},
                    "group_labels": {"type": "object"},
                    "alert_count": {"type": "integer"},
                    "firing_count": {"type": "integer"},
                    "truncated_alerts": {"type": "integer"},
                    "opened_at": {"type": "string", "format": "date-time"},
                    "last_seen": {"type": "string", "format": "date-time"},
                    "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
                    "resolved_at": {"type": ["string", "null"], "format": "date-time"},
                    "team": {"type": ["string", "null"]},
                    "external": {"type": "object"},
                    "notifications": {
                        "type": ["integer", "null"],
                        "description": "Reports received for its alerts (null: stored by an older triaged)",
                    },
                    "first_alert_at": {
                        "type": ["string", "null"],
                        "format": "date-time",
                        "description": "Earliest start of an alert when it joined",
                    },
                    "service": {"type": ["string", "null"]},
                },
            },
            "IncidentDetail": {
                "allOf": [
                    {"$ref": "#/components/schemas/Incident"},
                    {
                        "type": "object",
                        "properties": {
                            "fingerprints": {"type": "array", "items": {"type": "string"}},
                            "alerts": {"type": "array", "items": {"type": "object"}},
                            "alerts_total": {"type": "integer"},
                            "timeline_total": {"type": "integer"},
                            "timeline": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "at": {"type": "string", "format": "date-time"},
                                        "kind": {"type": "string"},
                                        "actor": {"type": "string"},
                                        "detail": {"type": "object"},
                                    },
                                },
                            },
                        },
                    },
                ]
            },
        },
    },
}


async def openapi_handler(request: web.Request) -> web.Response:
    """Serve ``SPEC``."""
    return web.json_response(SPEC)
