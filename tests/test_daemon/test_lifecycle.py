"""Incident lifecycle: routing tree, escalation on an injected clock, a person's actions,
reopen window and stakeholder summaries — the real app over loopback HTTP on both stores,
with fake webhook trackers that verify what triaged sends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from fakes import webhook as fake_webhook
from fakes.base import FAKE, FakeTracker
from support import settle

from daemon.app import create_app
from daemon.clock import OffsetClock
from daemon.settings import Settings

URL = "/api/v1/alerts/alertmanager"
Client = TestClient[Any, Any]


def body(
    name: str, status: str = "firing", starts: str = "2026-11-27T03:00:00Z", **labels: str
) -> dict[str, Any]:
    alert = {
        "status": status,
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} on {labels}"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-27T03:10:00Z",
    }
    return {"version": "4", "status": status, "alerts": [alert]}


async def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check() if asyncio.iscoroutinefunction(check) else check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def trackers(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> dict[str, TestServer]:
    """Three fake webhook receivers: a team's tracker, another team's, and a pager."""
    return {name: await aiohttp_server(fake_webhook.create_app()) for name in ("team-a", "team-b", "pager")}


def connectors(trackers: dict[str, TestServer]) -> dict[str, Any]:
    return {
        name: {"kind": "webhook", **fake_webhook.connector_config(str(s.make_url("")).rstrip("/"))}
        for name, s in trackers.items()
    }


def tickets(server: TestServer) -> dict[str, Any]:
    fake: FakeTracker = server.app[FAKE]
    return fake.tickets


@pytest.fixture
def make_client(
    aiohttp_client: Callable[..., Awaitable[Client]],
    make_settings: Callable[..., Settings],
    store_config: dict[str, Any],
) -> Callable[..., Awaitable[Client]]:
    async def make(clock: OffsetClock | None = None, **overrides: Any) -> Client:
        settings = make_settings(store=store_config, **overrides)
        return await aiohttp_client(create_app(settings, clock=clock))

    return make


async def send(client: Client, payload: dict[str, Any]) -> None:
    resp = await client.post(URL, json=payload)
    assert resp.status == 202, await resp.text()
    await settle(client.app)


async def only_incident(client: Client) -> dict[str, Any]:
    [summary] = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    return await (await client.get(f"/api/v1/incidents/{summary['id']}")).json()


ROUTING = {
    "team": "ops",
    "connectors": ["team-a"],
    "routes": [{"matchers": ['service=~"db|postgres"'], "team": "dba", "connectors": ["team-b"]}],
}
ESCALATION = {
    "policies": {
        "standard": {
            "steps": [
                {"after": "15m", "notify": ["pager"], "raise_priority": 1},
                {"after": "30m", "team": "leads"},
            ]
        }
    }
}


async def test_routing_tree_picks_team_and_tracker(
    make_client: Callable[..., Awaitable[Client]], trackers: dict[str, TestServer]
) -> None:
    client = await make_client(connectors=connectors(trackers), routing=ROUTING)
    await send(client, body("PostgresDown", service="db", cluster="c1"))
    incident = await only_incident(client)
    assert incident["team"] == "dba"
    routed = next(e for e in incident["timeline"] if e["kind"] == "routed")
    assert routed["detail"]["route"] == "routing.routes[0]"
    await wait_until(lambda: len(tickets(trackers["team-b"])) == 1)
    await send(client, body("HighLatency", service="web", cluster="c1"))
    await wait_until(lambda: len(tickets(trackers["team-a"])) == 1)
    assert tickets(trackers["pager"]) == {}
    assert len(tickets(trackers["team-b"])) == 1


async def test_escalation_follows_the_clock_and_stops_at_ack(
    make_client: Callable[..., Awaitable[Client]], trackers: dict[str, TestServer]
) -> None:
    clock = OffsetClock()
    client = await make_client(
        clock=clock,
        connectors=connectors(trackers),
        routing={**ROUTING, "escalation": "standard"},
        escalation=ESCALATION,
    )
    await send(client, body("HighErrorRate", service="web", cluster="dev", severity="warning"))
    first = await only_incident(client)
    await asyncio.sleep(1.5)  # upkeep runs; nothing is due yet
    assert not [e for e in (await only_incident(client))["timeline"] if e["kind"] == "escalated"]
    clock.advance(16 * 60)

    async def escalated() -> bool:
        return any(e["kind"] == "escalated" for e in (await only_incident(client))["timeline"])

    await wait_until(escalated)
    incident = await only_incident(client)
    step = next(e for e in incident["timeline"] if e["kind"] == "escalated")
    assert step["detail"]["notify"] == ["pager"]
    assert "not acknowledged after 16 min" in step["detail"]["reason"]
    assert incident["priority"] < first["priority"]  # raised one step
    try:
        await wait_until(lambda: len(tickets(trackers["pager"])) == 1)
    except AssertionError:
        print("DELIVERIES", await (await client.get("/api/v1/deliveries")).text())
        print("INCIDENT", await only_incident(client))
        raise
    ack = await client.post(f"/api/v1/incidents/{incident['id']}/ack", json={"actor": "alice"})
    assert ack.status == 200
    clock.advance(30 * 60)
    await asyncio.sleep(2.5)
    after = await only_incident(client)
    assert [e["kind"] for e in after["timeline"]].count("escalated") == 1
    assert after["team"] == "ops"  # the second step (team: leads) never ran


async def test_actions_are_in_the_timeline_and_reach_the_tracker(
    make_client: Callable[..., Awaitable[Client]], trackers: dict[str, TestServer]
) -> None:
    client = await make_client(connectors=connectors(trackers), routing=ROUTING)
    await send(client, body("DiskFull", service="web", cluster="c1"))
    incident = await only_incident(client)
    iid = incident["id"]
    url = f"/api/v1/incidents/{iid}"
    assert (await client.post(url + "/note", json={"actor": "bob", "note": "looking"})).status == 200
    resp = await client.post(url + "/priority", json={"actor": "bob", "priority": "P1", "note": "customers"})
    assert (await resp.json())["priority"] == "P1"
    assert (await client.post(url + "/priority", json={"priority": "P9"})).status == 400
    resp = await client.post(url + "/assign", json={"actor": "bob", "team": "storage", "assignee": "carol"})
    assert (await resp.json())["team"] == "storage"
    assert (await client.post(url + "/assign", json={})).status == 400
    assert (
        await client.post(url + "/reopen", json={"actor": "bob"})
    ).status == 200  # not resolved: no change
    assert (await client.post(url + "/resolve", json={"actor": "bob"})).status == 200
    assert (await client.post(url + "/reopen", json={"actor": "dave", "note": "back"})).status == 200
    assert (await client.post("/api/v1/incidents/inc_nope/note", json={"note": "x"})).status == 404
    detail = await only_incident(client)
    kinds = [(e["kind"], e["actor"]) for e in detail["timeline"]]
    for expected in (
        ("note", "bob"),
        ("priority_changed", "bob"),
        ("reassigned", "bob"),
        ("resolved", "bob"),
        ("reopened", "dave"),
    ):
        assert expected in kinds
    assert detail["status"] == "open"
    fake: FakeTracker = trackers["team-a"].app[FAKE]
    await wait_until(lambda: any("looking" in c for t in fake.tickets.values() for c in t.comments))
    await wait_until(lambda: [t.priority for t in fake.tickets.values()] == ["P1"])


async def test_refire_within_the_window_reopens_the_same_incident(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await make_client(correlation={"reopen_window": "10m"})
    await send(client, body("Blip", cluster="c1", starts="2026-11-27T03:00:00Z"))
    await send(client, body("Blip", "resolved", cluster="c1", starts="2026-11-27T03:00:00Z"))
    assert (await only_incident(client))["status"] == "resolved"
    await send(client, body("Blip", cluster="c1", starts="2026-11-27T03:05:00Z"))
    incident = await only_incident(client)  # still one incident
    assert incident["status"] == "open"
    reopened = [e for e in incident["timeline"] if e["kind"] == "reopened"]
    assert "fired again within 600s" in reopened[0]["detail"]["reason"]


async def test_stakeholder_summary_is_sent_once_per_period(
    make_client: Callable[..., Awaitable[Client]], trackers: dict[str, TestServer]
) -> None:
    clock = OffsetClock()
    only_b = {"team-b": connectors(trackers)["team-b"]}
    client = await make_client(
        clock=clock,
        connectors=only_b,
        routing={"connectors": []},
        stakeholders={"connector": "team-b", "every": "1h", "min_priority": "P5"},
    )
    await send(client, body("HighErrorRate", service="web", cluster="c1", severity="critical"))
    await asyncio.sleep(1.5)
    assert tickets(trackers["team-b"]) == {}  # the first summary waits for the period's end
    clock.advance(3600)
    await wait_until(lambda: len(tickets(trackers["team-b"])) == 1)
    [summary] = tickets(trackers["team-b"]).values()
    assert summary.title.startswith("triaged: 1 open incidents (P")
    await asyncio.sleep(2)
    assert len(tickets(trackers["team-b"])) == 1  # same period: nothing more
    clock.advance(3600)
    await wait_until(lambda: len(tickets(trackers["team-b"])) == 2)


async def test_escalation_survives_restarts_and_runs_each_step_once(
    make_client: Callable[..., Awaitable[Client]], trackers: dict[str, TestServer]
) -> None:
    """The escalation timer lives in the stored incident: a daemon restarted after the step
    was due applies it; one restarted after it ran does not apply it again, and goes on
    to the next step when that is due."""
    clock = OffsetClock()
    config = {
        "connectors": connectors(trackers),
        "routing": {**ROUTING, "escalation": "standard"},
        "escalation": ESCALATION,
    }

    async def kinds(client: Client) -> list[str]:
        return [e["kind"] for e in (await only_incident(client))["timeline"]]

    first = await make_client(clock=clock, **config)
    await send(first, body("HighErrorRate", service="web", cluster="dev", severity="warning"))
    await first.close()  # down before the first step is due

    clock.advance(16 * 60)
    second = await make_client(clock=clock, **config)
    await wait_until(partial(_has, second, "escalated", 1))
    await wait_until(lambda: len(tickets(trackers["pager"])) == 1)
    await second.close()

    clock.advance(4 * 60)  # 20 min: the second step (after 30m) is not due
    third = await make_client(clock=clock, **config)
    await asyncio.sleep(2.5)  # upkeep's first full scan has run
    assert (await kinds(third)).count("escalated") == 1
    assert len(tickets(trackers["pager"])) == 1
    clock.advance(11 * 60)
    await wait_until(partial(_has, third, "escalated", 2))
    incident = await only_incident(third)
    assert incident["team"] == "leads"
    await asyncio.sleep(1.5)
    assert (await kinds(third)).count("escalated") == 2


async def _has(client: Client, kind: str, n: int) -> bool:
    return [e["kind"] for e in (await only_incident(client))["timeline"]].count(kind) == n
