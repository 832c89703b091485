"""Tracker faults: down, 429/500 for a while, slower than the timeout, committing then timing out.

Each incident goes open -> update (an alert joins) -> resolve while the tracker
misbehaves. After recovery every incident has exactly one ticket and the tracker saw
its effects in order (open first, resolve last); exhausted retries are dead letters.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from fakes import github as fake_github
from fakes import webhook as fake_webhook
from fakes.base import FAKE, FakeTracker
from support import DaemonProcess, drained, group_body

from faults.common import (
    APPLIED,
    FAST_DELIVERY,
    deliveries,
    eventually,
    ordered_webhook_app,
    per_marker,
    post,
    processed_alerts,
    record,
)

INCIDENTS = 6


def resolved_body(group: int, size: int) -> bytes:
    """The resolution of every alert of ``group_body(group, size)``."""
    body = json.loads(group_body(group, size))
    body["status"] = "resolved"
    for alert in body["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2026-11-26T11:00:00Z"
    return json.dumps(body).encode()


async def lifecycle(http: aiohttp.ClientSession, d: DaemonProcess) -> int:
    """Open, update and resolve INCIDENTS incidents; returns the alerts accepted."""
    accepted = 0
    for body, size in [
        *((group_body(g, 2), 2) for g in range(INCIDENTS)),
        *((group_body(g, 3), 3) for g in range(INCIDENTS)),
        *((resolved_body(g, 3), 3) for g in range(INCIDENTS)),
    ]:
        status, _ = await post(http, d, body)
        assert status == 202
        accepted += size
        await drained(http, d)  # each step is its own delivery, not one coalesced change
    return accepted


FAULTS: dict[str, Callable[[FakeTracker], None]] = {
    "down": lambda f: f.fail(503, times=1_000_000),
    "429 with Retry-After": lambda f: f.fail(429, times=25, headers={"Retry-After": "1"}),
    "500": lambda f: f.fail(500, times=25),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_tracker_failing_for_a_while_tickets_once_in_order(
    fault: str,
    daemon_factory: Callable[..., DaemonProcess],
    aiohttp_server: Callable[..., Any],
    http: aiohttp.ClientSession,
) -> None:
    """The tracker refuses everything for a while; afterwards one ticket per incident, effects in order."""
    server: TestServer = await aiohttp_server(ordered_webhook_app())
    fake: FakeTracker = server.app[FAKE]
    hook = fake_webhook.connector_config(str(server.make_url("")).rstrip("/"))
    d = daemon_factory({"connectors": {"hook": {"kind": "webhook", **hook}}, "delivery": FAST_DELIVERY})
    FAULTS[fault](fake)
    accepted = await lifecycle(http, d)
    if fault == "down":
        await asyncio.sleep(4)  # down for a while, then back
        fake.faults.clear()
    t0 = time.monotonic()

    async def done() -> bool:
        return sum(t.status == "resolved" for t in fake.tickets.values()) == INCIDENTS and not (
            await deliveries(http, d, "pending")
        )

    await eventually(done, 60, "every ticket resolved after the tracker recovered")
    recovered = time.monotonic() - t0
    actions = per_marker(server.app[APPLIED])
    assert len(actions) == INCIDENTS
    for marker, seq in actions.items():
        assert seq[0] == "open", (marker, seq)
        assert seq.count("open") == 1, (marker, seq)
        assert seq[-1] == "resolve", (marker, seq)
        assert seq.count("resolve") == 1, (marker, seq)
        assert "update" in seq, (marker, seq)
    assert len(fake.tickets) == INCIDENTS
    assert await deliveries(http, d, "dead") == []
    incidents, processed = await processed_alerts(http, d)
    refused = sum(1 for m, *_ in fake.requests if m == "POST") - len(server.app[APPLIED])
    record(
        f"tracker {fault}",
        iterations=1,
        alerts_sent=accepted,
        alerts_accepted=accepted,
        alerts_processed=processed,
        incidents_expected=INCIDENTS,
        incidents_found=incidents,
        tickets_expected=INCIDENTS,
        tickets_found=len(fake.tickets),
        tracker_calls_refused=refused,
        recover_s=round(recovered, 2),
        recover_note="tracker back -> last ticket resolved",
    )


@pytest.mark.parametrize("fault", ["slow beyond the timeout", "commits then times out"])
async def test_tracker_timing_out_after_committing_one_ticket_each(
    fault: str,
    daemon_factory: Callable[..., DaemonProcess],
    aiohttp_server: Callable[..., Any],
    http: aiohttp.ClientSession,
) -> None:
    """Creates the client gave up on were applied anyway: the marker lookup prevents a second issue."""
    server: TestServer = await aiohttp_server(fake_github.create_app())
    fake: FakeTracker = server.app[FAKE]
    gh = fake_github.connector_config(str(server.make_url("")))  # timeout 1s
    d = daemon_factory({"connectors": {"gh": {"kind": "github", **gh}}, "delivery": FAST_DELIVERY})
    if fault == "slow beyond the timeout":
        # The test server cancels a handler whose client left: nothing committed, a plain retry.
        fake.delay(2.5, times=INCIDENTS, method="POST")
    else:
        fake.commit_then_hang(2.5, times=INCIDENTS, method="POST")
    t0 = time.monotonic()
    accepted = await lifecycle(http, d)

    async def done() -> bool:
        closed = sum(t.status == "resolved" for t in fake.tickets.values())
        return closed == INCIDENTS and not await deliveries(http, d, "pending")

    await eventually(done, 60, "every issue closed")
    markers = Counter(t.marker for t in fake.tickets.values())
    assert len(markers) == INCIDENTS
    assert set(markers.values()) == {1}, markers
    for ticket in fake.tickets.values():
        assert any("alert joined" in c for c in ticket.comments), ticket  # the update arrived
    assert await deliveries(http, d, "dead") == []
    assert "no answer within 1s" in d.logs()  # the timeouts really happened
    if fault == "commits then times out":
        assert '"delivery_found_existing"' in d.logs()  # and the retry found the committed issue
    incidents, processed = await processed_alerts(http, d)
    record(
        f"tracker {fault}",
        iterations=1,
        alerts_sent=accepted,
        alerts_accepted=accepted,
        alerts_processed=processed,
        incidents_expected=INCIDENTS,
        incidents_found=incidents,
        tickets_expected=INCIDENTS,
        tickets_found=len(fake.tickets),
        recover_s=round(time.monotonic() - t0, 2),
        recover_note="first post -> last issue closed",
    )


async def test_exhausted_retries_are_dead_letters_then_delivered_once(
    daemon_factory: Callable[..., DaemonProcess],
    aiohttp_server: Callable[..., Any],
    http: aiohttp.ClientSession,
) -> None:
    """max_attempts spent on a failing tracker: dead letters in the API; a retry by hand delivers once."""
    server: TestServer = await aiohttp_server(ordered_webhook_app())
    fake: FakeTracker = server.app[FAKE]
    hook = fake_webhook.connector_config(str(server.make_url("")).rstrip("/"))
    d = daemon_factory(
        {
            "connectors": {"hook": {"kind": "webhook", **hook}},
            "delivery": {**FAST_DELIVERY, "max_attempts": 3},
        }
    )
    fake.fail(500, times=1_000_000)
    for g in range(INCIDENTS):
        assert (await post(http, d, group_body(g, 2)))[0] == 202
    dead: list[dict[str, Any]] = []

    async def all_dead() -> bool:
        nonlocal dead
        dead = await deliveries(http, d, "dead")
        return len(dead) == INCIDENTS

    await eventually(all_dead, 30, "every open job dead after max_attempts")
    assert all("gave up after 3" in job["last_error"] for job in dead), dead
    assert await deliveries(http, d, "pending") == []
    assert fake.tickets == {}
    fake.faults.clear()
    t0 = time.monotonic()
    for job in dead:
        async with http.post(d.url + f"/api/v1/deliveries/{job['id']}/retry") as resp:
            assert resp.status == 200
    await eventually(lambda: _true(len(fake.tickets) == INCIDENTS), 20, "retried letters delivered")
    await asyncio.sleep(1)  # nothing more arrives later
    assert len(fake.tickets) == INCIDENTS
    assert await deliveries(http, d, "dead") == []
    incidents, processed = await processed_alerts(http, d)
    record(
        "tracker failing past max_attempts (dead letters)",
        iterations=1,
        alerts_sent=2 * INCIDENTS,
        alerts_accepted=2 * INCIDENTS,
        alerts_processed=processed,
        incidents_expected=INCIDENTS,
        incidents_found=incidents,
        tickets_expected=INCIDENTS,
        tickets_found=len(fake.tickets),
        dead_letters=len(dead),
        recover_s=round(time.monotonic() - t0, 2),
        recover_note="retry by hand -> delivered",
    )


async def _true(value: bool) -> bool:
    return value
