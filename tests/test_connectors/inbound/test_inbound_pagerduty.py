"""PagerDuty v3 webhooks: the documented payloads in, inbound events out; signatures per PagerDuty's docs."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import pytest

from connectors.inbound import INBOUND, InboundAuthError, InboundError
from connectors.inbound.pagerduty import parse

SECRET = "It's a Secret to Everybody"  # as the conftest signs
Signer = Callable[..., dict[str, str]]
KEY = "d3640fbd41094207a1c11e58e46b1662"  # the documented incident_key


def events(signed: Signer, raw: bytes) -> list[tuple[str, str, str | None, str | None, str | None]]:
    return [
        (e.action, e.ref, e.priority, e.assignee, e.team)
        for e in parse(signed("pagerduty", raw), raw, SECRET)
    ]


def test_state_changes(body: Callable[[str], bytes], signed: Signer) -> None:
    """acknowledged/resolved/reopened on the incident_key, by the agent, at occurred_at, id = event.id."""
    raw = body("pagerduty/acknowledged.json")
    [ack] = parse(signed("pagerduty", raw), raw, SECRET)
    assert (ack.action, ack.ref, ack.actor, ack.event_id) == (
        "acknowledge",
        KEY,
        "Tenex Engineer",
        "01BZ1DA2XNNZ4WQ7XHFB0Q6K1A",
    )
    assert ack.at == 1601664362.0  # 2020-10-02T18:46:02Z
    assert events(signed, body("pagerduty/resolved.json")) == [("resolve", KEY, None, None, None)]
    assert events(signed, body("pagerduty/reopened.json")) == [("reopen", KEY, None, None, None)]


def test_documented_priority_updated_example(body: Callable[[str], bytes], signed: Signer) -> None:
    """The docs' own example: priority P1, at 18:45:22.169."""
    raw = body("pagerduty/priority_updated.json")
    [event] = parse(signed("pagerduty", raw), raw, SECRET)
    assert (event.action, event.priority, event.event_id) == (
        "priority",
        "P1",
        "5ac64822-4adc-4fda-ade0-410becf0de4f",
    )
    assert event.at == pytest.approx(1601664322.169)


def test_reassigned_delegated_and_note(body: Callable[[str], bytes], signed: Signer) -> None:
    """reassigned -> first assignee; delegated -> first team; annotated -> note on the PagerDuty id."""
    assert events(signed, body("pagerduty/reassigned.json")) == [("assign", KEY, None, "User 123", None)]
    delegated = json.loads(body("pagerduty/reassigned.json"))
    delegated["event"]["event_type"] = "incident.delegated"
    raw = json.dumps(delegated).encode()
    assert events(signed, raw) == [("assign", KEY, None, None, "Engineering")]
    raw = body("pagerduty/annotated.json")
    [note] = parse(signed("pagerduty", raw), raw, SECRET)
    assert (note.action, note.ref, note.text) == ("note", "PGR0VU2", "I sure am glad we are using PagerDuty!")


def test_merged_resolve_reason_object(body: Callable[[str], bytes], signed: Signer) -> None:
    """A resolve whose resolve_reason is an object (a merged incident) still resolves."""
    payload = json.loads(body("pagerduty/resolved.json"))
    payload["event"]["data"]["resolve_reason"] = {"type": "merge_resolve_reason", "incident": {"id": "PX"}}
    assert events(signed, json.dumps(payload).encode()) == [("resolve", KEY, None, None, None)]


def test_ignored(body: Callable[[str], bytes], signed: Signer) -> None:
    """service.updated (the docs' second example), triggered, and a non-P priority name: []."""
    assert events(signed, body("pagerduty/service_updated.json")) == []
    triggered = json.loads(body("pagerduty/acknowledged.json"))
    triggered["event"]["event_type"] = "incident.triggered"
    assert events(signed, json.dumps(triggered).encode()) == []
    custom = json.loads(body("pagerduty/priority_updated.json"))
    custom["event"]["data"]["priority"]["summary"] = "SEV-1"
    assert events(signed, json.dumps(custom).encode()) == []


def test_no_incident_key_falls_back_to_incident_id(body: Callable[[str], bytes], signed: Signer) -> None:
    """Older payloads (and the v3 overview's first example) lack incident_key: the PagerDuty id is used."""
    payload = json.loads(body("pagerduty/acknowledged.json"))
    del payload["event"]["data"]["incident_key"]
    assert events(signed, json.dumps(payload).encode())[0][1] == "PGR0VU2"


def test_rotation_signatures(body: Callable[[str], bytes]) -> None:
    """Several comma-separated signatures (secret rotation): any matching v1 one is enough."""
    raw = body("pagerduty/resolved.json")
    good = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    other = hmac.new(b"old secret", raw, hashlib.sha256).hexdigest()
    header = f"v1={other},v1={good}"
    assert [e.action for e in parse({"X-PagerDuty-Signature": header}, raw, SECRET)] == ["resolve"]
    with pytest.raises(InboundAuthError):
        parse({"X-PagerDuty-Signature": f"v1={other}"}, raw, SECRET)
    with pytest.raises(InboundAuthError):  # the right digest under another version is not accepted
        parse({"X-PagerDuty-Signature": f"v2={good}"}, raw, SECRET)


@pytest.mark.parametrize("header", ["", "v1=", "v1", ",,,", "v1=" + "a" * 64])
def test_bad_signature(body: Callable[[str], bytes], header: str) -> None:
    """Empty, truncated or wrong signatures are auth errors."""
    raw = body("pagerduty/resolved.json")
    with pytest.raises(InboundAuthError):
        parse({"X-PagerDuty-Signature": header}, raw, SECRET)


@pytest.mark.parametrize(
    "raw",
    [
        b"nope",
        b"{}" + b" " * 3 + b"[",
        b'{"event": []}',
        b'{"event": {"event_type": "incident.resolved", "occurred_at": "2020-10-02T19:01:10Z", "data": {}}}',
        b'{"event": {"event_type": "incident.resolved", "id": "x", "data": {"id": "P1"}}}',
        b'{"event": {"event_type": "incident.annotated", "id": "x", "occurred_at": "2020-10-02T19:01:10Z",'
        b' "data": {"content": "hi"}}}',
    ],
)
def test_malformed(signed: Signer, raw: bytes) -> None:
    """Not JSON, wrong shapes, missing id / time / incident: InboundError (400)."""
    with pytest.raises(InboundError) as err:
        parse(signed("pagerduty", raw), raw, SECRET)
    assert not isinstance(err.value, InboundAuthError)


def test_registered() -> None:
    """Keyed by the connector kind."""
    assert INBOUND["pagerduty"] is parse
