"""End to end: real Alertmanager captures in, exactly one ticket per incident out, through restarts
and a tracker outage (a real daemon process; the tracker is the fake webhook receiver)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from fakes import jira_cloud as fake_jira_cloud
from fakes import webhook as fake_webhook
from fakes.base import FAKE, FakeTracker
from support import DaemonProcess, RedisServer, drained, fixture_raw, post_raw


async def wait_until(cond: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``cond`` until true."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("kind", "store_kind"), [("webhook", "sqlite"), ("webhook", "redis"), ("jira_cloud", "sqlite")]
)
async def test_one_ticket_per_incident_through_restarts_and_outage(
    kind: str,
    store_kind: str,
    daemon_factory: Callable[..., DaemonProcess],
    aiohttp_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    redis_server: RedisServer,
    redis_prefix: str,
) -> None:
    """Open once, update on new alerts, resolve on resolution; restarts and a 503 outage in between."""
    module = {"webhook": fake_webhook, "jira_cloud": fake_jira_cloud}[kind]
    server: TestServer = await aiohttp_server(module.create_app())
    fake: FakeTracker = server.app[FAKE]
    hook = module.connector_config(str(server.make_url("")).rstrip("/"))
    extra: dict[str, Any] = {
        "connectors": {"hooks": {"kind": kind, **hook}},
        "delivery": {
            "base_delay": "100ms",
            "max_delay": "500ms",
            "breaker_failures": 3,
            "breaker_cooldown": "500ms",
            "lease": "5s",
        },
    }
    if store_kind == "redis":
        extra["store"] = {"kind": "redis", "url": redis_server.url, "prefix": redis_prefix}
    d = daemon_factory(extra)

    def tickets() -> list[Any]:
        return list(fake.tickets.values())

    assert await post_raw(http, d, fixture_raw("firing_grouped")) == 202
    assert await post_raw(http, d, fixture_raw("firing_grouped")) == 202  # a sender retry
    await wait_until(lambda: len(tickets()) == 1)
    [ticket] = tickets()
    assert ticket.title.startswith("HighErrorRate (cluster=prod-eu)")
    assert ticket.priority == "P1"

    assert d.stop(signal.SIGTERM) == 0
    d.start()
    assert await post_raw(http, d, fixture_raw("firing_grouped_update")) == 202
    await wait_until(lambda: any("alert joined" in c for c in ticket.comments))

    # The tracker goes down; the incident resolves meanwhile; the daemon restarts meanwhile.
    fake.fail(503, times=10_000, method="POST")
    for name in ("firing_grouped_partially_resolved", "resolved_grouped"):
        assert await post_raw(http, d, fixture_raw(name)) == 202
    await drained(http, d)
    deadline = time.monotonic() + 15
    pending: list[dict[str, Any]] = []
    while not any("503" in p["last_error"] for p in pending):
        assert time.monotonic() < deadline, pending
        await asyncio.sleep(0.1)
        async with http.get(d.url + "/api/v1/deliveries", params={"status": "pending"}) as resp:
            pending = (await resp.json())["deliveries"]
    assert ticket.status == "open"
    assert d.stop(signal.SIGTERM) == 0
    d.start()
    fake.faults.clear()  # the tracker is back
    await wait_until(lambda: ticket.status == "resolved", timeout=20)
    assert len(tickets()) == 1
    async with http.get(d.url + "/metrics") as resp:
        text = await resp.text()
    assert 'triaged_connector_requests_total{action="resolve",connector="hooks",outcome="ok"} 1.0' in text
    async with http.get(d.url + "/api/v1/incidents") as resp:
        [incident] = (await resp.json())["incidents"]
    async with http.get(d.url + f"/api/v1/incidents/{incident['id']}") as resp:
        detail = await resp.json()
    assert detail["external"]["hooks"]["key"] == ticket.key


async def test_rejected_delivery_is_a_visible_dead_letter_and_can_be_retried(
    daemon_factory: Callable[..., DaemonProcess],
    aiohttp_server: Callable[..., Any],
    http: aiohttp.ClientSession,
) -> None:
    """A 400 from the tracker parks the job as a dead letter (API, metrics); a retry by hand delivers it."""
    server: TestServer = await aiohttp_server(fake_webhook.create_app())
    fake: FakeTracker = server.app[FAKE]
    hook = fake_webhook.connector_config(str(server.make_url("")).rstrip("/"))
    d = daemon_factory({"connectors": {"hooks": {"kind": "webhook", **hook}}})
    fake.fail(400, body={"error": "missing field"}, method="POST")
    assert await post_raw(http, d, fixture_raw("truncated")) == 202
    dead: list[dict[str, Any]] = []
    for _ in range(200):
        async with http.get(d.url + "/api/v1/deliveries", params={"status": "dead"}) as resp:
            dead = (await resp.json())["deliveries"]
        if dead:
            break
        await asyncio.sleep(0.05)
    [letter] = dead
    assert "HTTP 400" in letter["last_error"]
    async with http.get(d.url + "/metrics") as resp:
        assert (
            'triaged_connector_dead_letters_total{connector="hooks",error_type="ConnectorRejected"} 1.0'
            in (await resp.text())
        )
    assert fake.tickets == {}
    async with http.post(d.url + f"/api/v1/deliveries/{letter['id']}/retry") as resp:
        assert resp.status == 200
    await wait_until(lambda: len(fake.tickets) == 1)
    async with http.post(d.url + f"/api/v1/deliveries/{letter['id']}/retry") as resp:
        assert resp.status == 404
