"""Two-way sync end to end: a ticket opened in a (fake) GitHub, closed there, reported back by a
signed webhook; the incident resolves once, the redelivery changes nothing, and the change is
not echoed back to GitHub. On both stores."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from fakes import github as fake_github
from fakes.base import FAKE, FakeTracker
from support import REPO, settle

from daemon.app import create_app
from daemon.settings import Settings

SECRET = "inbound-secret-for-tests"
Client = TestClient[Any, Any]


def signed(payload: dict[str, Any], delivery: str) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(payload).encode()
    digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": delivery,
        "Content-Type": "application/json",
    }


async def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_closing_the_ticket_resolves_the_incident_once(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    aiohttp_client: Callable[..., Awaitable[Client]],
    make_settings: Callable[..., Settings],
    store_config: dict[str, Any],
) -> None:
    server = await aiohttp_server(fake_github.create_app())
    fake: FakeTracker = server.app[FAKE]
    gh = {
        "kind": "github",
        **fake_github.connector_config(str(server.make_url("")).rstrip("/")),
        "inbound_secret": SECRET,
    }
    client = await aiohttp_client(create_app(make_settings(store=store_config, connectors={"gh": gh})))
    alert = {"status": "firing", "labels": {"alertname": "DiskFull", "cluster": "c1", "severity": "critical"}}
    assert (await client.post("/api/v1/alerts/alertmanager", json={"alerts": [alert]})).status == 202
    await settle(client.app)
    await wait_for(lambda: len(fake.tickets) == 1)
    [ticket] = fake.tickets.values()
    [summary] = (await (await client.get("/api/v1/incidents")).json())["incidents"]

    payload = json.loads((REPO / "tests/fixtures/inbound/github/issues_closed.json").read_text())
    payload["issue"]["number"] = ticket.raw["number"]
    raw, headers = signed(payload, "delivery-1")
    bad = await client.post(
        "/api/v1/inbound/gh", data=raw, headers={**headers, "X-Hub-Signature-256": "sha256=00"}
    )
    assert bad.status == 401
    assert (await client.post("/api/v1/inbound/nope", data=raw, headers=headers)).status == 404
    resp = await client.post("/api/v1/inbound/gh", data=raw, headers=headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["applied"] == 1
    again = await client.post("/api/v1/inbound/gh", data=raw, headers=headers)  # GitHub redelivers
    assert again.status == 200
    detail = await (await client.get(f"/api/v1/incidents/{summary['id']}")).json()
    assert detail["status"] == "resolved"
    resolved = [e for e in detail["timeline"] if e["kind"] == "resolved"]
    assert len(resolved) == 1
    assert resolved[0]["detail"]["via"] == "gh"
    assert resolved[0]["actor"].startswith("gh:")
    # Not echoed: GitHub is not told of a change that came from GitHub.
    await asyncio.sleep(1.0)
    deliveries = (await (await client.get("/api/v1/deliveries")).json())["deliveries"]
    assert [d["action"] for d in deliveries if d["connector"] == "gh"] == ["open"]


async def test_inbound_without_a_configured_secret_is_refused(
    aiohttp_client: Callable[..., Awaitable[Client]], make_settings: Callable[..., Settings]
) -> None:
    gh = {"kind": "github", **fake_github.connector_config("http://127.0.0.1:9"), "enabled": False}
    client = await aiohttp_client(create_app(make_settings(connectors={"gh": gh})))
    resp = await client.post("/api/v1/inbound/gh", data=b"{}", headers={"X-GitHub-Event": "issues"})
    assert resp.status == 401
    assert await resp.json() == {"error": "unauthorized"}
