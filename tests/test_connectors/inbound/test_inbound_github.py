"""GitHub issue webhooks: GitHub's documented payloads in, inbound events out; bad auth 401, bad body 400."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from connectors.inbound import INBOUND, InboundAuthError, InboundError, InboundEvent
from connectors.inbound.github import parse

SECRET = "It's a Secret to Everybody"  # as the conftest signs
Signer = Callable[..., dict[str, str]]
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def run(signed: Signer, raw: bytes, event: str) -> list[InboundEvent]:
    return parse(signed("github", raw, X_GitHub_Event=event, X_GitHub_Delivery=DELIVERY), raw, SECRET)


def test_closed_is_resolve(body: Callable[[str], bytes], signed: Signer) -> None:
    """``issues`` closed: resolve the issue number's incident, by the sender, at the issue's update time."""
    [event] = run(signed, body("github/issues_closed.json"), "issues")
    assert event == InboundEvent(
        connector_kind="github",
        ref="1",
        action="resolve",
        event_id=DELIVERY,
        at=ts("2019-05-15T15:21:03Z"),
        actor="Codertocat",
        text="closed as completed",
    )


def test_reopened_assigned_labeled(body: Callable[[str], bytes], signed: Signer) -> None:
    """reopened -> reopen, assigned -> assign(assignee login), a priority label -> priority."""
    [reopen] = run(signed, body("github/issues_reopened.json"), "issues")
    assert (reopen.action, reopen.ref, reopen.at) == ("reopen", "1", ts("2021-10-11T16:40:56Z"))
    [assign] = run(signed, body("github/issues_assigned.json"), "issues")
    assert (assign.action, assign.assignee, assign.team) == ("assign", "Codertocat", None)
    [prio] = run(signed, body("github/issues_labeled.json"), "issues")
    assert (prio.action, prio.priority) == ("priority", "P1")


def test_comment_is_note(body: Callable[[str], bytes], signed: Signer) -> None:
    """``issue_comment`` created: a note with the comment's text, author and time."""
    [note] = run(signed, body("github/issue_comment_created.json"), "issue_comment")
    assert note.action == "note"
    assert note.text == "You are totally right! I'll get this fixed right away."
    assert (note.actor, note.at, note.event_id) == ("Codertocat", ts("2019-05-15T15:20:21Z"), DELIVERY)


def test_redelivery_has_the_same_event_id(body: Callable[[str], bytes], signed: Signer) -> None:
    """GitHub repeats X-GitHub-Delivery on a redelivery: the same event, recognisable by id."""
    raw = body("github/issues_closed.json")
    assert run(signed, raw, "issues") == run(signed, raw, "issues")


def _variant(raw: bytes, **changes: object) -> bytes:
    payload = json.loads(raw)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = payload
        for p in parents:
            node = node[p]
        node[leaf] = value
    return json.dumps(payload).encode()


def test_ignored_events_answer_empty(body: Callable[[str], bytes], signed: Signer) -> None:
    """ping, other actions, non-priority labels, PR comments and triaged's own comments: []."""
    assert run(signed, b'{"zen": "Keep it logically awesome.", "hook_id": 1}', "ping") == []
    assert run(signed, _variant(body("github/issues_closed.json"), action="edited"), "issues") == []
    labeled = _variant(body("github/issues_labeled.json"), label__name="bug")
    assert run(signed, labeled, "issues") == []
    comment = body("github/issue_comment_created.json")
    assert run(signed, _variant(comment, action="deleted"), "issue_comment") == []
    pr = _variant(comment, issue__pull_request={"url": "https://api.github.com/repos/o/r/pulls/1"})
    assert run(signed, pr, "issue_comment") == []
    echo = _variant(comment, comment__body="Rolled back.\n\n_triaged: priority P2, acknowledged_")
    assert run(signed, echo, "issue_comment") == []


def test_header_names_are_case_insensitive(body: Callable[[str], bytes], signed: Signer) -> None:
    """A plain dict with lower-case names (as proxies forward them) works the same."""
    raw = body("github/issues_closed.json")
    headers = signed("github", raw, X_GitHub_Event="issues", X_GitHub_Delivery=DELIVERY)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert [e.action for e in parse(lowered, raw, SECRET)] == ["resolve"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": ""},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": "sha1=0bd6f2a4a3f3f3f3"},
        {"X-Hub-Signature": "sha256=whatever"},
        {"X-Hub-Signature-256": "sha256=\u00e9\u00e9"},
    ],
)
def test_missing_or_wrong_signature_is_auth_error(
    body: Callable[[str], bytes], headers: dict[str, str]
) -> None:
    """No signature, a wrong one, the legacy SHA-1 header or garbage: 401, and the secret never echoed."""
    raw = body("github/issues_closed.json")
    with pytest.raises(InboundAuthError) as err:
        parse({**headers, "X-GitHub-Event": "issues", "X-GitHub-Delivery": DELIVERY}, raw, SECRET)
    assert SECRET not in str(err.value)


def test_signature_of_another_secret_or_body_is_refused(body: Callable[[str], bytes], signed: Signer) -> None:
    """A signature made with another secret, or over other bytes, does not authenticate."""
    raw = body("github/issues_closed.json")
    headers = signed("github", raw, X_GitHub_Event="issues", X_GitHub_Delivery=DELIVERY)
    with pytest.raises(InboundAuthError):
        parse(headers, raw, "another secret")
    with pytest.raises(InboundAuthError):
        parse(headers, raw + b" ", SECRET)


def test_no_secret_configured_refuses_everything(body: Callable[[str], bytes], signed: Signer) -> None:
    """Without ``inbound_secret`` nothing is accepted (fail closed), even a correctly signed body."""
    raw = body("github/issues_closed.json")
    for secret in (None, ""):
        with pytest.raises(InboundAuthError, match="inbound_secret"):
            parse(signed("github", raw, X_GitHub_Event="issues", X_GitHub_Delivery=DELIVERY), raw, secret)


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b"\xff\xfe", b'{"action": "closed", "issue": []}', b'{"action": "closed"}'],
)
def test_malformed_signed_body_is_inbound_error(signed: Signer, raw: bytes) -> None:
    """A correctly signed body that is not an issue webhook: 400 with a reason, never a crash."""
    with pytest.raises(InboundError) as err:
        run(signed, raw, "issues")
    assert not isinstance(err.value, InboundAuthError)


def test_missing_delivery_id_is_inbound_error(body: Callable[[str], bytes], signed: Signer) -> None:
    """Without X-GitHub-Delivery the event could not be recognised when redelivered: refused."""
    raw = body("github/issues_closed.json")
    with pytest.raises(InboundError, match="X-GitHub-Delivery"):
        parse(signed("github", raw, X_GitHub_Event="issues"), raw, SECRET)


def test_registered_under_the_connector_kind() -> None:
    """The registry key is the outbound connector's kind."""
    assert INBOUND["github"] is parse
