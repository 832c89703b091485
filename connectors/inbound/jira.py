"""Jira Cloud and Jira Data Center / Server webhooks -> inbound events.

Documented by Atlassian (developer.atlassian.com, Jira Cloud platform "Webhooks"; Jira
Data Center "Webhooks"): the body is ``{"timestamp" (ms), "webhookEvent", "user",
"issue", "changelog": {"id", "items": [{"field", "from", "fromString", "to",
"toString"}]}, "comment"}``. A webhook registered with a secret carries
``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>``.

Used: ``jira:issue_updated`` changelog items ``status`` (by the issue's new status
category: ``done`` resolve, ``indeterminate`` acknowledge, ``new`` reopen; a cleared
``resolution`` also reopens), ``priority`` (Jira's default scheme names Highest..Lowest,
the older Blocker..Trivial, or names ending in P1..P5) and ``assignee`` (assign, the
display name); a ``comment`` on the update or a ``comment_created`` event (note).
Priority names a site renamed are not recognised (parse has no connector config).
Event ids come from the content, not the delivery: ``changelog:<id>:<action>`` and
``comment:<id>``, so a comment reported by both ``comment_created`` and
``jira:issue_updated`` is one note. ``ref`` is the issue key (``OPS-12``), what the Jira
connectors store as ``IncidentRef.key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from connectors.inbound.base import Action, InboundEvent, Parser
from connectors.inbound.common import (
    body_digest,
    check_signature,
    epoch,
    header,
    hmac_sha256_hex,
    is_echo,
    items,
    load_object,
    obj,
    priority_from_label,
    require_secret,
    required,
    text,
)

# Jira's default priority scheme (Cloud and DC since 7) and the older default scheme.
JIRA_PRIORITIES = {
    "highest": "P1",
    "high": "P2",
    "medium": "P3",
    "low": "P4",
    "lowest": "P5",
    "blocker": "P1",
    "critical": "P2",
    "major": "P3",
    "minor": "P4",
    "trivial": "P5",
}
_CATEGORIES: dict[str, Action] = {"done": "resolve", "indeterminate": "acknowledge", "new": "reopen"}
# When the status category is missing: Jira's default status names.
_STATUS_NAMES: dict[str, Action] = {
    "done": "resolve",
    "resolved": "resolve",
    "closed": "resolve",
    "in progress": "acknowledge",
    "to do": "reopen",
    "open": "reopen",
    "reopened": "reopen",
}


def _parser(kind: str) -> Parser:
    def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> list[InboundEvent]:
        """Verify ``X-Hub-Signature``, then map one issue-updated or comment-created event."""
        key = require_secret(secret, kind)
        check_signature([header(headers, "X-Hub-Signature")], "sha256=" + hmac_sha256_hex(key, body), kind)
        payload = load_object(body, kind)
        event = text(payload, "webhookEvent")
        if event not in ("jira:issue_updated", "comment_created"):
            return []
        ref = required(obj(payload, "issue"), "key", "issue")
        at = epoch(payload.get("timestamp"), "timestamp")
        base = InboundEvent(kind, ref, "note", "", at, text(obj(payload, "user"), "displayName"))
        events = _changes(
            payload, base, header(headers, "X-Atlassian-Webhook-Identifier") or body_digest(body)
        )
        return events + _comment(obj(payload, "comment"), base)

    return parse


def _changes(payload: Mapping[str, Any], base: InboundEvent, delivery: str) -> list[InboundEvent]:
    changelog = obj(payload, "changelog")
    prefix = f"changelog:{text(changelog, 'id') or delivery}"
    events: list[InboundEvent] = []
    fields = {text(i, "field").lower(): i for i in items(changelog, "items") if isinstance(i, dict)}
    status = fields.get("status")
    if status is not None:
        action = _status_action(payload, status)
        resolution = fields.get("resolution")
        # A resolution cleared by a move out of "done": reopened, whatever the new status.
        cleared = (
            resolution is not None and text(resolution, "fromString") and not text(resolution, "toString")
        )
        if action != "resolve" and cleared:
            events.append(replace(base, action="reopen", event_id=f"{prefix}:reopen"))
        if action is not None and not (action == "reopen" and events):
            events.append(replace(base, action=action, event_id=f"{prefix}:{action}"))
    priority = fields.get("priority")
    if priority is not None:
        name = text(priority, "toString")
        level = JIRA_PRIORITIES.get(name.strip().lower()) or priority_from_label(name)
        if level:
            events.append(replace(base, action="priority", priority=level, event_id=f"{prefix}:priority"))
    assignee = fields.get("assignee")
    if assignee is not None:
        who = text(assignee, "toString") or text(assignee, "to")
        if who:
            events.append(replace(base, action="assign", assignee=who, event_id=f"{prefix}:assign"))
    return events


def _status_action(payload: Mapping[str, Any], item: Mapping[str, Any]) -> Action | None:
    status = obj(obj(obj(payload, "issue"), "fields"), "status")
    category = text(obj(status, "statusCategory"), "key").lower()
    if category in _CATEGORIES:
        return _CATEGORIES[category]
    return _STATUS_NAMES.get(text(item, "toString").strip().lower())


def _adf_text(node: Any, depth: int = 0) -> str:
    """The plain text of an Atlassian Document Format node (Cloud may send comment bodies as ADF).

    Real documents nest a few levels; the depth cap keeps a hostile body from exhausting
    the stack (JSON allows far deeper nesting than Python's recursion limit).
    """
    if depth > 32:
        return ""
    if isinstance(node, list):
        return "".join(_adf_text(child, depth + 1) for child in node)
    if not isinstance(node, dict):
        return ""
    value = node.get("text")
    own = value if isinstance(value, str) else ""
    inner = _adf_text(node.get("content"), depth + 1)
    return own + inner + ("\n" if node.get("type") == "paragraph" else "")


def _comment(comment: Mapping[str, Any], base: InboundEvent) -> list[InboundEvent]:
    raw = comment.get("body")
    body = _adf_text(raw).strip() if isinstance(raw, dict) else text(comment, "body")
    if not comment or not body.strip() or is_echo(body):
        return []
    comment_id = required(comment, "id", "comment")
    actor = text(obj(comment, "author"), "displayName") or base.actor
    return [replace(base, action="note", text=body, actor=actor, event_id=f"comment:{comment_id}")]


parse = _parser("jira_cloud")
parse_server = _parser("jira_server")
