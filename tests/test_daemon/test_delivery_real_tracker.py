"""End to end into a real tracker: captured Alertmanager webhooks in, one Roundup issue out,
updated on new alerts and resolved on resolution, with the daemon restarted between steps and
the tracker down for a while in between."""

from __future__ import annotations

import asyncio
import base64
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from real_trackers.roundup_server import RoundupServer, roundup_installed
from support import DaemonProcess, drained, fixture_raw, post_raw

pytestmark = pytest.mark.skipif(not roundup_installed(), reason="roundup (dev extra) is not installed")


@pytest.fixture
def roundup() -> Iterator[RoundupServer]:
    """A real Roundup tracker on a free loopback port."""
    with RoundupServer() as server:
        yield server


async def issues(http: aiohttp.ClientSession, tracker: RoundupServer) -> list[dict[str, Any]]:
    """Every issue with title, status, priority and message count, read as the admin."""
    token = base64.b64encode(f"admin:{tracker.admin_password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    url = f"{tracker.url}rest/data/issue?@verbose=2&@fields=title,status,priority,messages"
    async with http.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        collection = (await resp.json())["data"]["collection"]
    return [
        {
            "title": i["title"],
            "status": i["status"]["name"],
            "priority": i["priority"]["name"],
            "messages": len(i["messages"]),
        }
        for i in collection
    ]


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Await ``check()`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def test_real_tracker_one_issue_through_restarts_and_outage(
    roundup: RoundupServer,
    daemon_factory: Callable[..., DaemonProcess],
    http: aiohttp.ClientSession,
) -> None:
    """The grouped HighErrorRate sequence becomes exactly one real Roundup issue, resolved at the end."""
    d = daemon_factory(
        {
            "connectors": {
                "tracker": {
                    "kind": "roundup",
                    "endpoint": roundup.url,
                    "username": roundup.user,
                    "password": roundup.password,
                    "timeout": 5,
                }
            },
            "delivery": {
                "base_delay": "100ms",
                "max_delay": "1s",
                "breaker_failures": 3,
                "breaker_cooldown": "1s",
            },
        }
    )
    assert await post_raw(http, d, fixture_raw("firing_grouped")) == 202
    [opened] = await eventually(lambda: issues(http, roundup))
    assert opened["title"].startswith("HighErrorRate (cluster=prod-eu) [triaged-inc_")
    assert (opened["status"], opened["priority"]) == ("unread", "critical")  # severity=critical: P1

    assert d.stop(signal.SIGTERM) == 0
    d.start()
    assert await post_raw(http, d, fixture_raw("firing_grouped_update")) == 202  # api-4 joins

    async def updated() -> bool:
        found = await issues(http, roundup)
        assert len(found) == 1, (found, d.logs()[-3000:])
        [issue] = found
        return bool(issue["messages"] > opened["messages"])

    await eventually(updated)

    roundup.pause()  # the tracker is down; alerts resolve meanwhile; triaged restarts meanwhile
    for name in ("firing_grouped_partially_resolved", "resolved_grouped"):
        assert await post_raw(http, d, fixture_raw(name)) == 202
    await drained(http, d)

    async def failing() -> list[dict[str, Any]]:
        async with http.get(d.url + "/api/v1/deliveries", params={"status": "pending"}) as resp:
            pending: list[dict[str, Any]] = (await resp.json())["deliveries"]
        # Refused connections, or a kept-alive connection the stopped tracker dropped.
        return [p for p in pending if p["last_error"]]

    stuck = await eventually(failing)
    assert any(
        ("cannot connect" in p["last_error"]) or ("connection lost" in p["last_error"]) for p in stuck
    ), stuck
    assert d.stop(signal.SIGTERM) == 0
    d.start()
    roundup.serve()

    async def resolved() -> list[dict[str, Any]]:
        found = await issues(http, roundup)
        return found if found and found[0]["status"] == "resolved" else []

    [issue] = await eventually(resolved, timeout=30)
    assert issue["title"] == opened["title"]
