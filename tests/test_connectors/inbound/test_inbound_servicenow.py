"""ServiceNow Business Rule messages (format in docs/inbound.md) in, inbound events out."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connectors.inbound import INBOUND, InboundAuthError, InboundError
from connectors.inbound.servicenow import parse

SECRET = "It's a Secret to Everybody"  # as the conftest signs
Signer = Callable[..., dict[str, str]]
SYS_ID = "9d385017c611228701d22104cc95c371"


def actions(signed: Signer, raw: bytes) -> list[tuple[str, str]]:
    return [(e.action, e.event_id) for e in parse(signed("servicenow", raw), raw, SECRET)]


def test_states(body: Callable[[str], bytes], signed: Signer) -> None:
    """In Progress acknowledges, Resolved resolves (with close notes), Resolved -> In Progress reopens."""
    assert actions(signed, body("servicenow/in_progress.json")) == [
        ("acknowledge", f"{SYS_ID}:3:acknowledge")
    ]
    raw = body("servicenow/resolved.json")
    [resolve] = parse(signed("servicenow", raw), raw, SECRET)
    assert (resolve.action, resolve.ref, resolve.text, resolve.actor) == (
        "resolve",
        SYS_ID,
        "Rolled back release 42.",
        "beth.anglin",
    )
    assert resolve.at == 1795752000.0  # 2026-11-27 04:00:00 UTC
    assert actions(signed, body("servicenow/reopened.json")) == [
        ("reopen", f"{SYS_ID}:5:reopen"),
        ("acknowledge", f"{SYS_ID}:5:acknowledge"),
    ]


def test_priority_assignment_and_work_note(body: Callable[[str], bytes], signed: Signer) -> None:
    """Priority 1 -> P1, group and person -> assign, the latest work note -> note."""
    raw = body("servicenow/priority_assign_note.json")
    events = parse(signed("servicenow", raw), raw, SECRET)
    assert [(e.action, e.priority, e.team, e.assignee, e.text) for e in events] == [
        ("priority", "P1", None, None, ""),
        ("assign", None, "Network", "Beth Anglin", ""),
        ("note", None, None, None, "Escalated to the network team."),
    ]
    assert len({e.event_id for e in events}) == 3


def test_journal_entry_header_is_dropped(body: Callable[[str], bytes], signed: Signer) -> None:
    """``getJournalEntry(1)`` prefixes the date, user and field: the note is the text after it."""
    payload = json.loads(body("servicenow/priority_assign_note.json"))
    payload["changed"] = ["comments"]
    payload["comments"] = "2026-11-27 04:00:00 - Beth Anglin (Additional comments)\nCustomer informed.\n\n"
    raw = json.dumps(payload).encode()
    [note] = parse(signed("servicenow", raw), raw, SECRET)
    assert (note.text, note.event_id) == ("Customer informed.", f"{SYS_ID}:6:comments")


def test_unchanged_fields_are_not_events(body: Callable[[str], bytes], signed: Signer) -> None:
    """Only fields listed in ``changed`` count; On Hold and an empty change list give nothing."""
    payload = json.loads(body("servicenow/priority_assign_note.json"))
    payload["changed"] = ["short_description"]
    raw = json.dumps(payload).encode()
    assert actions(signed, raw) == []
    payload["changed"], payload["state"] = ["state"], "3"
    raw = json.dumps(payload).encode()
    assert actions(signed, raw) == []


def test_token_required(body: Callable[[str], bytes]) -> None:
    """Bearer token only, compared exactly; no secret configured refuses."""
    raw = body("servicenow/resolved.json")
    for headers, secret in (
        ({}, SECRET),
        ({"Authorization": "Bearer x"}, SECRET),
        ({"Authorization": "Bearer "}, ""),
    ):
        with pytest.raises(InboundAuthError):
            parse(headers, raw, secret)


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b'{"sys_id": "a", "sys_mod_count": 1, "sys_updated_on": "2026-11-27 04:00:00"}',
        b'{"changed": ["state"], "sys_mod_count": 1, "sys_updated_on": "2026-11-27 04:00:00"}',
        b'{"sys_id": "a", "changed": ["state"], "sys_updated_on": "2026-11-27 04:00:00"}',
        b'{"sys_id": "a", "changed": "state", "sys_mod_count": 1, "sys_updated_on": "2026-11-27 04:00:00"}',
        b'{"sys_id": "a", "changed": [], "sys_mod_count": 1, "sys_updated_on": "27/11/2026"}',
    ],
)
def test_malformed(signed: Signer, raw: bytes) -> None:
    """Missing sys_id / changed / sys_mod_count, wrong types, a non-ISO time: 400."""
    with pytest.raises(InboundError) as err:
        parse(signed("servicenow", raw), raw, SECRET)
    assert not isinstance(err.value, InboundAuthError)


def test_registered() -> None:
    """Keyed by the connector kind."""
    assert INBOUND["servicenow"] is parse
