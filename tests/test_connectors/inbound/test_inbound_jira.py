"""Jira webhooks (Cloud, Data Center): documented shapes in, inbound events out; signature checked."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connectors.inbound import INBOUND, InboundAuthError, InboundError, InboundEvent
from connectors.inbound.jira import parse, parse_server

SECRET = "It's a Secret to Everybody"  # as the conftest signs
Signer = Callable[..., dict[str, str]]


def run(signed: Signer, raw: bytes, kind: str = "jira_cloud") -> list[InboundEvent]:
    parser = parse if kind == "jira_cloud" else parse_server
    return parser(signed(kind, raw, X_Atlassian_Webhook_Identifier="1234"), raw, SECRET)


def test_moved_to_done_resolves(body: Callable[[str], bytes], signed: Signer) -> None:
    """Status into the ``done`` category: resolve OPS-12, by the user, at ``timestamp`` (ms)."""
    [event] = run(signed, body("jira/issue_updated_done.json"))
    assert event == InboundEvent(
        connector_kind="jira_cloud",
        ref="OPS-12",
        action="resolve",
        event_id="changelog:10124:resolve",
        at=1606480436.302,
        actor="Mia Krystof",
    )


def test_in_progress_acknowledges_and_reopen_from_done(body: Callable[[str], bytes], signed: Signer) -> None:
    """To Do -> In Progress: acknowledge. Done -> In Progress (resolution cleared): reopen + acknowledge."""
    assert [e.action for e in run(signed, body("jira/issue_updated_in_progress.json"))] == ["acknowledge"]
    reopened = run(signed, body("jira/issue_updated_reopened.json"))
    assert [(e.action, e.event_id) for e in reopened] == [
        ("reopen", "changelog:10125:reopen"),
        ("acknowledge", "changelog:10125:acknowledge"),
    ]


def test_back_to_new_category_reopens(body: Callable[[str], bytes], signed: Signer) -> None:
    """A status in the ``new`` category (To Do) reopens; without a category, Jira's default names decide."""
    payload = json.loads(body("jira/issue_updated_in_progress.json"))
    payload["issue"]["fields"]["status"]["statusCategory"]["key"] = "new"
    assert [e.action for e in run(signed, json.dumps(payload).encode())] == ["reopen"]
    del payload["issue"]["fields"]["status"]
    payload["changelog"]["items"][0]["toString"] = "Closed"
    assert [e.action for e in run(signed, json.dumps(payload).encode())] == ["resolve"]
    payload["changelog"]["items"][0]["toString"] = "Waiting for customer"
    assert run(signed, json.dumps(payload).encode()) == []


def test_priority_and_assignee_in_one_change(body: Callable[[str], bytes], signed: Signer) -> None:
    """Highest -> P1, assignee by display name; the summary change is ignored."""
    events = run(signed, body("jira/issue_updated_priority_assignee.json"))
    assert [(e.action, e.priority, e.assignee, e.event_id) for e in events] == [
        ("priority", "P1", None, "changelog:10126:priority"),
        ("assign", None, "Beth Anglin", "changelog:10126:assign"),
    ]


@pytest.mark.parametrize(
    ("name", "level"), [("Blocker", "P1"), ("minor", "P4"), ("P3 - Medium", None), ("P5", "P5")]
)
def test_priority_names(body: Callable[[str], bytes], signed: Signer, name: str, level: str | None) -> None:
    """Both default schemes and names ending in P1..P5; others give no event."""
    payload = json.loads(body("jira/issue_updated_priority_assignee.json"))
    payload["changelog"]["items"] = [dict(payload["changelog"]["items"][0], toString=name)]
    events = run(signed, json.dumps(payload).encode())
    assert [e.priority for e in events] == ([level] if level else [])


def test_comment_created_and_server_issue_commented(body: Callable[[str], bytes], signed: Signer) -> None:
    """Cloud ``comment_created`` and DC ``issue_commented``: notes keyed by comment id."""
    [note] = run(signed, body("jira/comment_created.json"))
    assert (note.action, note.ref, note.event_id, note.actor) == (
        "note",
        "OPS-12",
        "comment:10010",
        "Mia Krystof",
    )
    assert note.text == "Rolled back the deploy, error rate back to normal."
    [dc] = run(signed, body("jira/server_issue_commented.json"), "jira_server")
    assert (dc.connector_kind, dc.text, dc.event_id, dc.actor) == (
        "jira_server",
        "Looking at it now.",
        "comment:10200",
        "Beth Anglin",
    )


def test_adf_comment_body(body: Callable[[str], bytes], signed: Signer) -> None:
    """A comment body in Atlassian Document Format is read as its plain text."""
    payload = json.loads(body("jira/comment_created.json"))
    payload["comment"]["body"] = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [{"type": "text", "text": "Rolled "}, {"type": "text", "text": "back."}],
            },
            {"type": "paragraph", "content": [{"type": "text", "text": "Watching."}]},
        ],
    }
    [note] = run(signed, json.dumps(payload).encode())
    assert note.text == "Rolled back.\nWatching."


def test_deeply_nested_adf_is_not_a_crash(body: Callable[[str], bytes], signed: Signer) -> None:
    """A hostile ADF body nested hundreds of levels deep: no RecursionError, at worst no note."""
    payload = json.loads(body("jira/comment_created.json"))
    payload["comment"]["body"] = {"type": "doc", "content": "HOLE"}
    deep = '{"type": "paragraph", "content": [' * 400 + '{"type": "text", "text": "deep"}' + "]}" * 400
    raw = json.dumps(payload).replace('"HOLE"', deep).encode()  # json.dumps itself would recurse too deep
    assert run(signed, raw) == []


def test_own_comments_and_other_events_ignored(body: Callable[[str], bytes], signed: Signer) -> None:
    """triaged's own update/resolve comments and other webhook events are not news."""
    for text in ("Disk full.\n\ntriaged: priority P2, 3 alert(s), 1 firing", "Resolved by triaged: done"):
        payload = json.loads(body("jira/comment_created.json"))
        payload["comment"]["body"] = text
        assert run(signed, json.dumps(payload).encode()) == []
    payload = json.loads(body("jira/comment_created.json"))
    payload["webhookEvent"] = "jira:issue_deleted"
    assert run(signed, json.dumps(payload).encode()) == []


def test_redelivery_same_ids(body: Callable[[str], bytes], signed: Signer) -> None:
    """A retried delivery gives the same events with the same ids."""
    raw = body("jira/issue_updated_reopened.json")
    assert run(signed, raw) == run(signed, raw)


@pytest.mark.parametrize("header", [None, "", "sha256=", "sha256=" + "0" * 64, "sha1=abc"])
def test_signature_required(body: Callable[[str], bytes], header: str | None) -> None:
    """Missing or wrong X-Hub-Signature: InboundAuthError."""
    raw = body("jira/issue_updated_done.json")
    with pytest.raises(InboundAuthError):
        parse({} if header is None else {"X-Hub-Signature": header}, raw, SECRET)
    with pytest.raises(InboundAuthError):
        parse_server({}, raw, None)


@pytest.mark.parametrize(
    "raw",
    [
        b"<xml/>",
        b'{"webhookEvent": "jira:issue_updated", "issue": {}}',
        b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "OPS-1"}}',
        b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "OPS-1"}, "timestamp": "yesterday"}',
        b'{"webhookEvent": "comment_created", "issue": {"key": "OPS-1"}, "timestamp": 1,'
        b' "comment": {"body": "x"}}',
        b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "OPS-1"}, "timestamp": 1, "changelog": []}',
    ],
)
def test_malformed(signed: Signer, raw: bytes) -> None:
    """No issue key, no or bad timestamp, a comment without id, a changelog of the wrong type: 400."""
    with pytest.raises(InboundError) as err:
        run(signed, raw)
    assert not isinstance(err.value, InboundAuthError)


def test_registered() -> None:
    """Both Jira kinds are registered, each naming itself in its events."""
    assert INBOUND["jira_cloud"] is parse
    assert INBOUND["jira_server"] is parse_server
