"""ServiceNow -> inbound events, from the Business Rule documented in ``docs/inbound.md``.

ServiceNow has no built-in outbound webhook for record changes; the documented way is an
*after update* Business Rule on ``incident`` that posts a REST message. triaged defines
that message (see docs/inbound.md for the script)::

    {"sys_id": "...", "number": "INC0010001", "sys_mod_count": 7,
     "sys_updated_on": "2026-11-27 04:00:00", "sys_updated_by": "beth.anglin",
     "changed": ["state", "priority", "work_notes", ...],
     "state": "6", "previous_state": "2", "priority": "2",
     "assignment_group": "Network", "assigned_to": "Beth Anglin",
     "work_notes": "latest work note", "comments": "latest additional comment",
     "close_notes": "..."}

``state``/``priority`` are the stored values (out of box states: 1 New, 2 In Progress,
3 On Hold, 6 Resolved, 7 Closed, 8 Canceled; priority 1 Critical .. 5 Planning),
``sys_updated_on`` the stored UTC value. It is authenticated with
``Authorization: Bearer <inbound_secret>``.

Used: ``state`` to 6/7 (resolve), to 2 (acknowledge; and reopen first when it was 6/7),
to 1 from 6/7 (reopen); ``priority`` (P1..P5); ``assignment_group``/``assigned_to``
(assign); ``work_notes`` and ``comments`` (note). ``ref`` is ``sys_id``, what
``ServiceNowConnector`` stores as ``IncidentRef.key``. Every update raises
``sys_mod_count``, so ``<sys_id>:<sys_mod_count>:<action>`` is a stable event id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from connectors.inbound.base import InboundError, InboundEvent
from connectors.inbound.common import (
    bearer,
    check_token,
    is_echo,
    iso_time,
    items,
    load_object,
    require_secret,
    required,
    text,
)

KIND = "servicenow"
RESOLVED_STATES = ("6", "7")  # Resolved, Closed
IN_PROGRESS = "2"
NEW = "1"
# getJournalEntry(1) starts with "<date> - <user> (Work notes)"; the note is what follows.
_JOURNAL_HEADER = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} - .*\((?:Work notes|Additional comments)\)\n"
)


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> list[InboundEvent]:
    """Check the bearer token, then map the fields the Business Rule reports as changed."""
    check_token(bearer(headers), require_secret(secret, KIND), KIND)
    record = load_object(body, KIND)
    sys_id = required(record, "sys_id", "record")
    if "changed" not in record:
        raise InboundError("servicenow: changed: missing (see docs/inbound.md for the Business Rule)")
    changed = {str(field) for field in items(record, "changed")}
    prefix = f"{sys_id}:{required(record, 'sys_mod_count', 'record')}"
    at = iso_time(required(record, "sys_updated_on", "record"), "sys_updated_on")
    base = InboundEvent(KIND, sys_id, "note", prefix, at, text(record, "sys_updated_by"))
    events = _state(record, base) if "state" in changed else []
    if "priority" in changed:
        level = text(record, "priority").strip()
        if level in ("1", "2", "3", "4", "5"):
            events.append(replace(base, action="priority", priority=f"P{level}"))
    if changed & {"assignment_group", "assigned_to"}:
        team, person = text(record, "assignment_group"), text(record, "assigned_to")
        if team or person:
            events.append(replace(base, action="assign", team=team or None, assignee=person or None))
    for field in ("work_notes", "comments"):
        note = _JOURNAL_HEADER.sub("", text(record, field)).strip()
        if field in changed and note.strip() and not is_echo(note):
            events.append(replace(base, action="note", text=note, event_id=f"{prefix}:{field}"))
    return [e if e.action == "note" else replace(e, event_id=f"{prefix}:{e.action}") for e in events]


def _state(record: Mapping[str, Any], base: InboundEvent) -> list[InboundEvent]:
    state, previous = text(record, "state").strip(), text(record, "previous_state").strip()
    if state in RESOLVED_STATES:
        return [replace(base, action="resolve", text=text(record, "close_notes"))]
    events = []
    if previous in RESOLVED_STATES and state in (NEW, IN_PROGRESS):
        events.append(replace(base, action="reopen"))
    if state == IN_PROGRESS:
        events.append(replace(base, action="acknowledge"))
    return events
