"""Opsgenie outgoing webhooks: the documented payload shape in, inbound events out; bearer token checked."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connectors.inbound import INBOUND, InboundAuthError, InboundError
from connectors.inbound.opsgenie import parse

SECRET = "It's a Secret to Everybody"  # as the conftest signs
Signer = Callable[..., dict[str, str]]
ALERT = "44f717bf-44bd-11c9-44c7-2d0cf1d07b23"


def test_acknowledge_close_note_priority(body: Callable[[str], bytes], signed: Signer) -> None:
    """Acknowledge, Close, AddNote and UpdatePriority on the alias (triaged's marker)."""
    raw = body("opsgenie/acknowledge.json")
    [ack] = parse(signed("opsgenie", raw), raw, SECRET)
    assert (ack.action, ack.ref, ack.actor) == ("acknowledge", "triaged-inc_01GH", "john.doe@example.com")
    assert ack.event_id == f"{ALERT}:Acknowledge:1475073700123000000"
    assert ack.at == pytest.approx(1475073700.123)  # updatedAt is in nanoseconds
    raw = body("opsgenie/close.json")
    assert [e.action for e in parse(signed("opsgenie", raw), raw, SECRET)] == ["resolve"]
    raw = body("opsgenie/add_note.json")
    [note] = parse(signed("opsgenie", raw), raw, SECRET)
    assert (note.action, note.text) == ("note", "Failing over to the standby database.")
    raw = body("opsgenie/update_priority.json")
    [prio] = parse(signed("opsgenie", raw), raw, SECRET)
    assert (prio.action, prio.priority) == ("priority", "P1")


def test_other_actions_ignored(body: Callable[[str], bytes], signed: Signer) -> None:
    """Create (triaged's own), custom actions and an empty note: []."""
    raw = body("opsgenie/create.json")
    assert parse(signed("opsgenie", raw), raw, SECRET) == []
    payload = json.loads(body("opsgenie/add_note.json"))
    payload["alert"]["note"] = " "
    raw = json.dumps(payload).encode()
    assert parse(signed("opsgenie", raw), raw, SECRET) == []


def test_without_updated_at_the_id_is_a_digest(body: Callable[[str], bytes], signed: Signer) -> None:
    """No updatedAt: createdAt gives the time (ms) and the body's digest the stable id."""
    payload = json.loads(body("opsgenie/close.json"))
    del payload["alert"]["updatedAt"]
    raw = json.dumps(payload).encode()
    first, again = (parse(signed("opsgenie", raw), raw, SECRET)[0] for _ in range(2))
    assert first == again
    assert first.at == pytest.approx(1475073637.138)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": SECRET}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}]
)
def test_token_required(body: Callable[[str], bytes], headers: dict[str, str]) -> None:
    """Only ``Authorization: Bearer <inbound_secret>`` is accepted."""
    raw = body("opsgenie/close.json")
    with pytest.raises(InboundAuthError):
        parse(headers, raw, SECRET)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b'{"action": "Close"}',
        b'{"action": "Close", "alert": {"alias": "a"}}',
        b'{"action": "Close", "alert": {"alias": "a", "updatedAt": "later"}}',
        b'{"action": "Close", "alert": {"alias": "a", "updatedAt": -5}}',
        b'{"action": "Close", "alert": "a"}',
    ],
)
def test_malformed(signed: Signer, raw: bytes) -> None:
    """No alias, no or bad time, wrong shapes: 400."""
    with pytest.raises(InboundError) as err:
        parse(signed("opsgenie", raw), raw, SECRET)
    assert not isinstance(err.value, InboundAuthError)


def test_registered() -> None:
    """Keyed by the connector kind."""
    assert INBOUND["opsgenie"] is parse
