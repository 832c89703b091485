"""The Roundup connector against a real Roundup tracker (classic template) over its REST API.

The tracker runs as a subprocess on loopback (``real_trackers.roundup_server``); every
assertion reads the issue back through the same REST API, as an independent client.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from real_trackers.roundup_server import RoundupServer, roundup_installed

from connectors.base import AlertLine, IncidentRequest
from connectors.errors import ConnectorAuthError
from connectors.roundup import RoundupConfig, RoundupConnector

pytestmark = pytest.mark.skipif(not roundup_installed(), reason="roundup (dev extra) is not installed")

REQUEST = IncidentRequest(
    incident_id="inc_01REAL",
    title="DiskFull (cluster=prod-eu)",
    priority="P3",
    status="open",
    summary="Disk almost full on db-1",
    alerts=(AlertLine("fp1", "DiskFull", "firing", "/var at 97%"),),
    url="http://triaged.example/api/v1/incidents/inc_01REAL",
    reasons=("severity=warning -> P3",),
)


@pytest.fixture(scope="module")
def tracker() -> Iterator[RoundupServer]:
    """One real tracker for this module's tests."""
    with RoundupServer() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session for the connector and for reading back."""
    async with aiohttp.ClientSession() as s:
        yield s


def _connector(
    tracker: RoundupServer, session: aiohttp.ClientSession, password: str = ""
) -> RoundupConnector:
    config = RoundupConfig(
        endpoint=tracker.url,
        username=tracker.user,
        password=password or tracker.password,
        timeout=5.0,
    )
    return RoundupConnector(config, session)


async def _read(tracker: RoundupServer, session: aiohttp.ClientSession, path: str) -> Any:
    """GET a REST resource as the tracker's admin, an independent reader."""
    token = base64.b64encode(f"admin:{tracker.admin_password}".encode()).decode()
    async with session.get(
        f"{tracker.url}rest/data/{path}", headers={"Authorization": f"Basic {token}"}
    ) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["data"]


async def _issue(tracker: RoundupServer, session: aiohttp.ClientSession, key: str) -> dict[str, Any]:
    """Title, priority and status names, and the text of every message of one issue."""
    data = await _read(tracker, session, f"issue/{key}?@verbose=2&@fields=title,priority,status,messages")
    attributes = data["attributes"]
    texts = []
    for message in attributes["messages"]:
        msg = await _read(tracker, session, f"msg/{message['id']}?@fields=content&@verbose=3")
        texts.append(msg["attributes"]["content"])
    return {
        "title": attributes["title"],
        "priority": attributes["priority"]["name"],
        "status": attributes["status"]["name"],
        "messages": texts,
    }


async def test_open_update_find_resolve(tracker: RoundupServer, session: aiohttp.ClientSession) -> None:
    """A real issue is opened with marker and description, updated, found by marker and resolved."""
    connector = _connector(tracker, session)
    ref = await connector.open_incident(REQUEST)
    assert ref.url == f"{tracker.url}issue{ref.key}"
    issue = await _issue(tracker, session, ref.key)
    assert issue["title"] == "DiskFull (cluster=prod-eu) [triaged-inc_01REAL]"
    assert (issue["priority"], issue["status"]) == ("bug", "unread")
    assert issue["messages"] == [REQUEST.description()]

    update = replace(REQUEST, priority="P1", note="db-2 is filling up too")
    await connector.update_incident(ref, update)
    await connector.update_incident(ref, update)  # a retried update: the note is not posted twice
    issue = await _issue(tracker, session, ref.key)
    # The explicit status keeps the classic statusauditor from moving the issue to "chatting".
    assert (issue["priority"], issue["status"]) == ("critical", "unread")
    assert issue["messages"] == [REQUEST.description(), "db-2 is filling up too"]

    found = await connector.find_incident(REQUEST)
    assert found is not None
    assert found.key == ref.key
    assert await connector.find_incident(replace(REQUEST, incident_id="inc_01REA")) is None

    await connector.resolve_incident(ref, replace(update, status="resolved", note="all clear"))
    issue = await _issue(tracker, session, ref.key)
    assert issue["status"] == "resolved"
    assert issue["messages"][-1] == "all clear"


async def test_healthcheck_against_real_tracker(
    tracker: RoundupServer, session: aiohttp.ClientSession
) -> None:
    """The healthcheck passes for the REST user and says 'auth' for a wrong password (Roundup's 401)."""
    await _connector(tracker, session).healthcheck()
    with pytest.raises(ConnectorAuthError) as info:
        await _connector(tracker, session, password="wrong-password").healthcheck()
    assert info.value.status == 401
    assert "wrong-password" not in str(info.value)
