"""Roundup connector against the fake Roundup REST interface: calls, mapping and quirks."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson
import pytest
from fakes import roundup as fake_roundup
from fakes.base import FAKE, FakeTracker

from connectors.base import AlertLine, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable
from connectors.roundup import RoundupConfig, RoundupConnector

REQUEST = IncidentRequest(
    incident_id="inc_1",
    title="HighErrorRate (cluster=prod-eu)",
    priority="P2",
    status="open",
    summary="5xx on checkout",
    alerts=(AlertLine("fp", "HighErrorRate", "firing", "5xx at 12%"),),
    reasons=("severity=critical -> P1",),
)
AUTH = "Basic " + base64.b64encode(f"{fake_roundup.USER}:{fake_roundup.PASSWORD}".encode()).decode()


@dataclass
class Env:
    """A connector wired to a running fake, and the fake's state."""

    connector: RoundupConnector
    fake: FakeTracker
    base: str
    make: Callable[..., RoundupConnector]

    def calls(self) -> list[tuple[str, str]]:
        """(method, path?query) of every request the fake saw."""
        return [(method, path) for method, path, _, _ in self.fake.requests]


@pytest.fixture
async def env(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Env]:
    """The fake tracker over loopback HTTP and a connector configured for it."""
    server = await aiohttp_server(fake_roundup.create_app())
    base = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:

        def make(**overrides: Any) -> RoundupConnector:
            config = RoundupConfig.model_validate({**fake_roundup.connector_config(base), **overrides})
            return RoundupConnector(config, session)

        yield Env(make(), server.app[FAKE], base, make)


def _body(raw: bytes) -> Any:
    return orjson.loads(raw)


async def test_open_creates_issue_then_attaches_description(env: Env) -> None:
    """Open: POST issue (marker in title, names for links), then msg + PUT under If-Match."""
    ref = await env.connector.open_incident(REQUEST)
    assert ref == IncidentRef(key="1", url=f"{env.base}/demo/issue1")
    assert env.calls() == [
        ("POST", "/demo/rest/data/issue"),
        ("GET", "/demo/rest/data/issue/1?@fields=messages&@verbose=0"),
        ("POST", "/demo/rest/data/msg"),
        ("PUT", "/demo/rest/data/issue/1"),
    ]
    _, _, headers, raw = env.fake.requests[0]
    assert headers["Authorization"] == AUTH
    assert headers["X-Requested-With"] == "rest"
    assert headers["Origin"] == env.base
    assert headers["Referer"] == f"{env.base}/demo/"
    assert _body(raw) == {
        "title": "HighErrorRate (cluster=prod-eu) [triaged-inc_1]",
        "priority": "urgent",
        "status": "unread",
    }
    assert _body(env.fake.requests[2][3]) == {
        "content": REQUEST.description(),
        "author": "triaged",
        "date": ".",
    }
    _, _, put_headers, put_raw = env.fake.requests[3]
    assert put_headers["If-Match"].startswith('"')
    assert _body(put_raw) == {"status": "unread", "messages": ["1"]}
    ticket = env.fake.tickets["1"]
    assert (ticket.marker, ticket.priority, ticket.body) == ("triaged-inc_1", "P2", REQUEST.description())


@pytest.mark.parametrize(
    ("priority", "name"),
    [("P1", "critical"), ("P2", "urgent"), ("P3", "bug"), ("P4", "feature"), ("P5", "wish")],
)
async def test_priorities_map_onto_classic_names(env: Env, priority: str, name: str) -> None:
    """P1..P5 become the classic template's critical, urgent, bug, feature, wish."""
    await env.connector.open_incident(replace(REQUEST, priority=priority))
    assert _body(env.fake.requests[0][3])["priority"] == name
    assert env.fake.tickets["1"].priority == priority


async def test_update_sets_priority_status_and_posts_the_note(env: Env) -> None:
    """Update: priority and an explicit status (acknowledged -> in-progress) plus the note as a message."""
    ref = await env.connector.open_incident(REQUEST)
    env.fake.requests.clear()
    await env.connector.update_incident(
        ref, replace(REQUEST, priority="P1", status="acknowledged", note="api-2")
    )
    method, path, _, raw = env.fake.requests[-1]
    assert (method, path) == ("PUT", "/demo/rest/data/issue/1")
    assert _body(raw) == {"priority": "critical", "status": "in-progress", "messages": ["1", "2"]}
    ticket = env.fake.tickets["1"]
    assert (ticket.priority, ticket.status, ticket.comments) == ("P1", "acknowledged", ["api-2"])


async def test_retried_update_does_not_post_the_note_twice(env: Env) -> None:
    """A note already the latest message is not posted again (the retry of a committed update)."""
    ref = await env.connector.open_incident(REQUEST)
    update = replace(REQUEST, priority="P1", note="api-2 joined")
    await env.connector.update_incident(ref, update)
    env.fake.requests.clear()
    await env.connector.update_incident(ref, update)
    assert ("POST", "/demo/rest/data/msg") not in env.calls()
    assert ("GET", "/demo/rest/data/msg/2?@fields=content&@verbose=3") in env.calls()
    assert env.fake.tickets["1"].comments == ["api-2 joined"]


async def test_stale_etag_is_reread_and_retried_once(env: Env) -> None:
    """A 412 (someone changed the issue between read and write) re-reads the etag and retries."""
    ref = await env.connector.open_incident(REQUEST)
    env.fake.requests.clear()
    env.fake.fail(412, method="PUT")
    await env.connector.resolve_incident(ref, replace(REQUEST, status="resolved"))
    assert [c for c in env.calls() if c[0] in ("GET", "PUT")] == [
        ("GET", "/demo/rest/data/issue/1?@fields=messages&@verbose=0"),
        ("PUT", "/demo/rest/data/issue/1"),
        ("GET", "/demo/rest/data/issue/1?@fields=messages&@verbose=0"),
        ("PUT", "/demo/rest/data/issue/1"),
    ]
    assert env.fake.tickets["1"].status == "resolved"


async def test_two_stale_etags_are_rejected(env: Env) -> None:
    """A second 412 in a row is a permanent refusal, not a loop."""
    ref = await env.connector.open_incident(REQUEST)
    env.fake.fail(412, times=2, method="PUT")
    with pytest.raises(ConnectorRejected) as info:
        await env.connector.resolve_incident(ref, replace(REQUEST, status="resolved"))
    assert info.value.status == 412


async def test_resolve_sets_resolved_status_without_a_message(env: Env) -> None:
    """Resolve without a note only sets status ``resolved``."""
    ref = await env.connector.open_incident(REQUEST)
    env.fake.requests.clear()
    await env.connector.resolve_incident(ref, replace(REQUEST, status="resolved"))
    assert ("POST", "/demo/rest/data/msg") not in env.calls()
    assert _body(env.fake.requests[-1][3]) == {"status": "resolved"}
    assert env.fake.tickets["1"].status == "resolved"


async def test_find_matches_the_exact_marker_suffix(env: Env) -> None:
    """Roundup's title search is a substring search: inc_1 must not find inc_10's issue."""
    await env.connector.open_incident(replace(REQUEST, incident_id="inc_10"))
    assert await env.connector.find_incident(REQUEST) is None
    assert env.calls()[-1] == ("GET", "/demo/rest/data/issue?title=triaged-inc_1&@fields=title&@sort=id")
    await env.connector.open_incident(REQUEST)
    found = await env.connector.find_incident(REQUEST)
    assert found is not None
    assert found.key == "2"


async def test_failure_after_create_is_retryable_and_findable(env: Env) -> None:
    """If attaching the description fails, the open is retryable and the retry finds the issue."""
    env.fake.fail(403, method="PUT")
    with pytest.raises(ConnectorUnavailable) as info:
        await env.connector.open_incident(REQUEST)
    assert "issue1 created" in str(info.value)
    found = await env.connector.find_incident(REQUEST)
    assert found is not None
    assert found.key == "1"


async def test_wrong_password_is_an_auth_error(env: Env) -> None:
    """Roundup's plain-text 401 "Invalid Login" becomes ConnectorAuthError without the password."""
    connector = env.make(password="not-the-password")
    with pytest.raises(ConnectorAuthError) as info:
        await connector.open_incident(REQUEST)
    assert "Invalid Login" in str(info.value)
    assert "not-the-password" not in str(info.value)


async def test_configured_origin_is_sent(env: Env) -> None:
    """``origin`` overrides the derived Origin header (trackers behind a proxy)."""
    connector = env.make(origin="https://bugs.example.org")
    with pytest.raises(ConnectorRejected) as info:
        await connector.open_incident(REQUEST)
    assert "not allowed to use Rest" in str(info.value)
    assert env.fake.requests[-1][2]["Origin"] == "https://bugs.example.org"


async def test_rate_limit_reset_is_a_delta(env: Env) -> None:
    """Roundup's X-RateLimit-Reset is seconds from now, read as the retry delay."""
    env.fake.fail(429, headers={"X-RateLimit-Reset": "12", "X-RateLimit-Remaining": "0"})
    with pytest.raises(ConnectorUnavailable) as info:
        await env.connector.open_incident(REQUEST)
    assert info.value.retry_after == 12


async def test_healthcheck_reads_only_and_checks_names(env: Env) -> None:
    """The healthcheck only GETs, and names a configured priority the tracker does not have."""
    await env.connector.healthcheck()
    assert {method for method, _ in env.calls()} == {"GET"}
    assert ("GET", "/demo/rest/data/priority?@verbose=2") in env.calls()
    table = {"P1": "blocker", "P2": "urgent", "P3": "bug", "P4": "feature", "P5": "wish"}
    with pytest.raises(ConnectorRejected, match="no priority named blocker"):
        await env.make(priorities=table).healthcheck()


def test_config_needs_every_priority_and_status() -> None:
    """A priority table without P5 is refused at config time."""
    with pytest.raises(ValueError, match="P5"):
        RoundupConfig.model_validate(
            {
                "endpoint": "https://bugs.example.org/demo/",
                "username": "u",
                "password": "p",
                "priorities": {"P1": "critical", "P2": "urgent", "P3": "bug", "P4": "feature"},
            }
        )
