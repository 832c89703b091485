"""GitHub repository webhooks (``issues``, ``issue_comment``) -> inbound events.

Documented by GitHub (docs.github.com, "Webhook events and payloads", "Validating webhook
deliveries"): the event name is the ``X-GitHub-Event`` header, ``X-GitHub-Delivery`` a
GUID per event that a redelivery repeats, ``X-Hub-Signature-256`` is ``sha256=`` + hex
HMAC-SHA256 of the raw body keyed with the webhook's secret.

Used: ``issues`` with action ``closed`` (resolve), ``reopened`` (reopen), ``assigned``
(assign, ``assignee.login``), ``labeled`` with a priority label (``priority/P1``, any
prefix ending in P1..P5: priority); ``issue_comment`` ``created`` (note). Everything
else, pull-request comments and triaged's own comments answer [].
``ref`` is the issue number, what ``GitHubConnector`` stores as ``IncidentRef.key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from connectors.inbound.base import InboundError, InboundEvent
from connectors.inbound.common import (
    check_signature,
    header,
    hmac_sha256_hex,
    is_echo,
    iso_time,
    load_object,
    obj,
    priority_from_label,
    require_secret,
    required,
    text,
)

KIND = "github"


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> list[InboundEvent]:
    """Verify the signature, then map one ``issues`` / ``issue_comment`` delivery."""
    key = require_secret(secret, KIND)
    given = header(headers, "X-Hub-Signature-256")
    check_signature([given], "sha256=" + hmac_sha256_hex(key, body), KIND)
    payload = load_object(body, KIND)
    event = header(headers, "X-GitHub-Event")
    if event not in ("issues", "issue_comment"):
        return []  # ping, push, ...: nothing triaged tracks
    delivery = header(headers, "X-GitHub-Delivery").strip()
    if not delivery:
        raise InboundError("github: X-GitHub-Delivery header missing")
    issue = obj(payload, "issue")
    if "pull_request" in issue:
        return []  # triaged opens issues, never pull requests
    ref = required(issue, "number", "issue")
    actor = text(obj(payload, "sender"), "login")
    action = text(payload, "action")
    if event == "issue_comment":
        return _comment(payload, ref, delivery, action)
    return _issue(payload, issue, ref, delivery, action, actor)


def _issue(
    payload: Mapping[str, Any], issue: Mapping[str, Any], ref: str, delivery: str, action: str, actor: str
) -> list[InboundEvent]:
    at = iso_time(required(issue, "updated_at", "issue"), "issue.updated_at")
    base = InboundEvent(KIND, ref, "resolve", delivery, at, actor)
    if action == "closed":
        reason = text(issue, "state_reason")
        return [replace(base, text=f"closed as {reason}" if reason else "")]
    if action == "reopened":
        return [replace(base, action="reopen")]
    if action == "assigned":
        assignee = required(obj(payload, "assignee"), "login", "assignee")
        return [replace(base, action="assign", assignee=assignee)]
    if action == "labeled":
        level = priority_from_label(text(obj(payload, "label"), "name"))
        return [replace(base, action="priority", priority=level)] if level else []
    return []


def _comment(payload: Mapping[str, Any], ref: str, delivery: str, action: str) -> list[InboundEvent]:
    comment = obj(payload, "comment")
    body = text(comment, "body")
    if action != "created" or not body.strip() or is_echo(body):
        return []
    at = iso_time(required(comment, "created_at", "comment"), "comment.created_at")
    actor = text(obj(comment, "user"), "login")
    return [
        InboundEvent(
            connector_kind=KIND, ref=ref, action="note", event_id=delivery, at=at, actor=actor, text=body
        )
    ]
