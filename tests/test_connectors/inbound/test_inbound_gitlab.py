"""GitLab Issue/Note Hooks: documented payloads in, inbound events out; bad token 401, bad body 400."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connectors.inbound import INBOUND, InboundAuthError, InboundError
from connectors.inbound.gitlab import parse

SECRET = "It's a Secret to Everybody"  # as the conftest signs
Signer = Callable[..., dict[str, str]]
KEY = "f7d56fa6-3c5a-4a0e-b0f0-3b2a4a3e1f10"


def test_close_and_reopen(body: Callable[[str], bytes], signed: Signer) -> None:
    """action close -> resolve, reopen -> reopen, on the issue iid, by the user, at updated_at."""
    raw = body("gitlab/issue_close.json")
    [event] = parse(signed("gitlab", raw, Idempotency_Key=KEY), raw, SECRET)
    assert (event.action, event.ref, event.actor, event.event_id) == (
        "resolve",
        "23",
        "root",
        f"{KEY}:resolve",
    )
    assert event.at == 1386148321.0  # 2013-12-04T09:12:01Z
    raw = body("gitlab/issue_reopen.json")
    [event] = parse(signed("gitlab", raw, Idempotency_Key=KEY), raw, SECRET)
    assert event.action == "reopen"


def test_update_with_priority_label_and_assignee(body: Callable[[str], bytes], signed: Signer) -> None:
    """One update adding ``priority::P1`` and an assignee: two events, each with its own id."""
    raw = body("gitlab/issue_update.json")
    events = parse(signed("gitlab", raw, X_Gitlab_Event_UUID="e1"), raw, SECRET)
    assert [(e.action, e.priority, e.assignee, e.event_id) for e in events] == [
        ("priority", "P1", None, "e1:priority"),
        ("assign", None, "user1", "e1:assign"),
    ]
    assert events[0].at == 1386091414.0  # "2013-12-03 17:23:34 UTC", GitLab's older format


def test_open_is_ignored(body: Callable[[str], bytes], signed: Signer) -> None:
    """The documented ``open`` example (triaged created the issue): nothing, despite its label change."""
    raw = body("gitlab/issue_open.json")
    assert parse(signed("gitlab", raw), raw, SECRET) == []


def test_note_on_issue(body: Callable[[str], bytes], signed: Signer) -> None:
    """Note Hook on an issue: a note on the issue's iid, id from the note id (stable across retries)."""
    raw = body("gitlab/note_issue.json")
    [note] = parse(signed("gitlab", raw), raw, SECRET)
    assert (note.action, note.ref, note.text, note.event_id) == ("note", "17", "Hello world", "note:1241")
    assert note.at == 1431882400.0  # 2015-05-17 17:06:40 UTC


def _edit(raw: bytes, section: str, **values: object) -> bytes:
    payload = json.loads(raw)
    payload[section].update(values)
    return json.dumps(payload).encode()


def test_ignored_notes(body: Callable[[str], bytes], signed: Signer) -> None:
    """Notes on merge requests, edited notes, system notes and triaged's own notes: []."""
    raw = body("gitlab/note_issue.json")
    for variant in (
        _edit(raw, "object_attributes", noteable_type="MergeRequest"),
        _edit(raw, "object_attributes", action="update"),
        _edit(raw, "object_attributes", system=True),
        _edit(raw, "object_attributes", note="Failed over.\n\n_triaged: priority P1, open_"),
    ):
        assert parse(signed("gitlab", variant), variant, SECRET) == []
    push = b'{"object_kind": "push", "ref": "refs/heads/master"}'
    assert parse(signed("gitlab", push), push, SECRET) == []


def test_delivery_id_fallbacks(body: Callable[[str], bytes], signed: Signer) -> None:
    """Idempotency-Key first, then X-Gitlab-Event-UUID, then a digest of the bytes: always stable."""
    raw = body("gitlab/issue_close.json")
    both = parse(signed("gitlab", raw, Idempotency_Key="k", X_Gitlab_Event_UUID="u"), raw, SECRET)
    assert both[0].event_id == "k:resolve"
    bare = parse(signed("gitlab", raw), raw, SECRET)
    assert bare == parse(signed("gitlab", raw), raw, SECRET)
    assert len(bare[0].event_id) > len(":resolve")


@pytest.mark.parametrize("token", [None, "", "wrong", SECRET + " ", "It's a secret to everybody"])
def test_wrong_or_missing_token_is_auth_error(body: Callable[[str], bytes], token: str | None) -> None:
    """X-Gitlab-Token must equal the secret exactly."""
    raw = body("gitlab/issue_close.json")
    headers = {} if token is None else {"X-Gitlab-Token": token}
    with pytest.raises(InboundAuthError):
        parse(headers, raw, SECRET)


def test_no_secret_configured(body: Callable[[str], bytes], signed: Signer) -> None:
    """No inbound_secret: refused even with a token."""
    raw = body("gitlab/issue_close.json")
    with pytest.raises(InboundAuthError):
        parse(signed("gitlab", raw), raw, None)


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'"issue"',
        b'{"object_kind": "issue", "object_attributes": {"action": "close"}}',
        b'{"object_kind": "issue", "object_attributes": {"iid": 1, "action": "close", "updated_at": "soon"}}',
        b'{"object_kind": "issue", "object_attributes": {"iid": 1, "updated_at": "2013-12-03T17:23:34Z",'
        b' "action": "update"}, "changes": {"labels": {"current": "P1"}}}',
        b'{"object_kind": "note", "object_attributes": {"noteable_type": "Issue", "note": "x", "id": 1,'
        b' "created_at": "2015-05-17 17:06:40 UTC"}}',
    ],
)
def test_malformed_body_is_inbound_error(signed: Signer, raw: bytes) -> None:
    """Not JSON, not an object, no iid, a bad timestamp, a wrongly typed change, a note without issue."""
    with pytest.raises(InboundError) as err:
        parse(signed("gitlab", raw), raw, SECRET)
    assert not isinstance(err.value, InboundAuthError)


def test_registered() -> None:
    """Keyed by the connector kind."""
    assert INBOUND["gitlab"] is parse
