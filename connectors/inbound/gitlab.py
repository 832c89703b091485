"""GitLab project/group webhooks (Issue Hook, Note Hook) -> inbound events.

Documented by GitLab (docs.gitlab.com, "Webhooks" and "Webhook events"): the secret token
comes back verbatim in ``X-Gitlab-Token`` (no signature); ``Idempotency-Key`` (GitLab
17.4+) is the same across retries of one delivery, ``X-Gitlab-Event-UUID`` identifies the
event on older versions.

Used: Issue Hook ``object_attributes.action`` ``close`` (resolve) and ``reopen`` (reopen),
and on any action but ``open`` the ``changes`` block: ``labels`` gaining a priority label
(``priority::P2``, any prefix ending in P1..P5: priority) and ``assignees`` (assign, the
first assignee's username). Note Hook on an ``Issue`` with action ``create`` (note).
One delivery can carry several changes, so each event's id is ``<delivery>:<action>``;
a note's id is its note id, the same however often GitLab delivers it.
``ref`` is the issue ``iid``, what ``GitLabConnector`` stores as ``IncidentRef.key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from connectors.inbound.base import Action, InboundEvent
from connectors.inbound.common import (
    body_digest,
    check_token,
    header,
    is_echo,
    iso_time,
    items,
    load_object,
    obj,
    priority_from_label,
    require_secret,
    required,
    text,
)

KIND = "gitlab"
_STATE_ACTIONS: dict[str, Action] = {"close": "resolve", "reopen": "reopen"}


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> list[InboundEvent]:
    """Check the token, then map one Issue Hook or Note Hook."""
    check_token(header(headers, "X-Gitlab-Token"), require_secret(secret, KIND), KIND)
    payload = load_object(body, KIND)
    kind = text(payload, "object_kind")
    actor = text(obj(payload, "user"), "username")
    if kind == "issue":
        delivery = (
            header(headers, "Idempotency-Key").strip()
            or header(headers, "X-Gitlab-Event-UUID").strip()
            or body_digest(body)
        )
        return _issue(payload, delivery, actor)
    if kind == "note":
        return _note(payload, actor)
    return []


def _issue(payload: Mapping[str, Any], delivery: str, actor: str) -> list[InboundEvent]:
    attrs = obj(payload, "object_attributes")
    ref = required(attrs, "iid", "object_attributes")
    at = iso_time(required(attrs, "updated_at", "object_attributes"), "object_attributes.updated_at")
    action = text(attrs, "action")
    base = InboundEvent(KIND, ref, "resolve", f"{delivery}:resolve", at, actor)
    events: list[InboundEvent] = []
    if action in _STATE_ACTIONS:
        state = _STATE_ACTIONS[action]
        events.append(replace(base, action=state, event_id=f"{delivery}:{state}"))
    if action == "open":
        return events  # triaged opened it; the creation is not news
    changes = obj(payload, "changes")
    level = _new_priority(obj(changes, "labels"))
    if level:
        events.append(replace(base, action="priority", priority=level, event_id=f"{delivery}:priority"))
    assignee = _new_assignee(obj(changes, "assignees"))
    if assignee:
        events.append(replace(base, action="assign", assignee=assignee, event_id=f"{delivery}:assign"))
    return events


def _titles(labels: list[Any]) -> set[str]:
    return {text(label, "title") for label in labels if isinstance(label, dict)}


def _new_priority(change: Mapping[str, Any]) -> str | None:
    """The priority of a label that was added by this change, if any."""
    added = _titles(items(change, "current")) - _titles(items(change, "previous"))
    levels = sorted(filter(None, (priority_from_label(title) for title in added)))
    return levels[0] if levels else None  # two added at once: the more urgent wins


def _new_assignee(change: Mapping[str, Any]) -> str | None:
    current = [u for u in items(change, "current") if isinstance(u, dict)]
    if not change or not current:
        return None  # unassigning says nothing about who owns the incident
    return text(current[0], "username") or text(current[0], "name") or None


def _note(payload: Mapping[str, Any], actor: str) -> list[InboundEvent]:
    attrs = obj(payload, "object_attributes")
    note = text(attrs, "note")
    action = text(attrs, "action") or "create"  # the field exists since GitLab 16.11
    if text(attrs, "noteable_type") != "Issue" or action != "create" or attrs.get("system") is True:
        return []
    if not note.strip() or is_echo(note):
        return []
    note_id = required(attrs, "id", "object_attributes")
    ref = required(obj(payload, "issue"), "iid", "issue")
    at = iso_time(required(attrs, "created_at", "object_attributes"), "object_attributes.created_at")
    return [InboundEvent(KIND, ref, "note", f"note:{note_id}", at, actor, text=note)]
