"""The incident-action, silence and inbound endpoints answer bad bodies with a clear JSON 4xx,
and a refused request changes nothing."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fakes import github as fake_github
from support import settle

from daemon.app import create_app
from daemon.settings import Settings

ACTIONS = ["note", "priority", "assign", "reopen"]
BAD_BODIES: list[tuple[str, bytes]] = [
    ("not json", b"{nope"),
    ("a list", b"[1, 2]"),
    ("wrong type", b'{"actor": 42, "note": ["x"], "priority": 1, "team": {}}'),
    ("oversized", b'{"note": "' + b"x" * 70_000 + b'"}'),
    ("control characters", b'{"actor": "\\u0000\\u001b[31m", "note": "\\u0007", "priority": "P\\u0000"}'),
]


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[Any]], make_settings: Callable[..., Settings]
) -> Any:
    gh = {"kind": "github", **fake_github.connector_config("http://127.0.0.1:9"), "inbound_secret": "s3cret"}
    c = await aiohttp_client(create_app(make_settings(connectors={"gh": {**gh, "enabled": False}})))
    alert = {"status": "firing", "labels": {"alertname": "DiskFull", "cluster": "c1", "severity": "warning"}}
    assert (await c.post("/api/v1/alerts/alertmanager", json={"alerts": [alert]})).status == 202
    await settle(c.app)
    return c


@pytest.mark.parametrize(("case", "raw"), BAD_BODIES, ids=[c for c, _ in BAD_BODIES])
async def test_bad_action_bodies_are_400_and_change_nothing(client: Any, case: str, raw: bytes) -> None:
    [incident] = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    before = await (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    for action in ACTIONS:
        resp = await client.post(f"/api/v1/incidents/{incident['id']}/{action}", data=raw)
        if case == "control characters" and action in ("note", "reopen"):
            assert resp.status == 200  # stored as data, never interpreted
            continue
        assert resp.status == 400, (action, await resp.text())
        assert "error" in await resp.json()
    after = await (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    if case != "control characters":
        assert after["timeline"] == before["timeline"]
        assert after["priority"] == before["priority"]


@pytest.mark.parametrize(("case", "raw"), BAD_BODIES, ids=[c for c, _ in BAD_BODIES])
async def test_bad_silence_bodies_are_400_and_create_nothing(client: Any, case: str, raw: bytes) -> None:
    resp = await client.post("/api/v1/silences", data=raw)
    assert resp.status == 400, await resp.text()
    assert "error" in await resp.json()
    assert (await (await client.get("/api/v1/silences")).json())["silences"] == []


async def test_inbound_refuses_oversized_and_unsigned_bodies(client: Any) -> None:
    big = await client.post("/api/v1/inbound/gh", data=io.BytesIO(b"{" + b" " * (1024 * 1024 + 10) + b"}"))
    assert big.status == 413
    unsigned = await client.post(
        "/api/v1/inbound/gh", data=b'{"action": "closed"}', headers={"X-GitHub-Event": "issues"}
    )
    assert unsigned.status == 401
    assert await unsigned.json() == {"error": "unauthorized"}
    [incident] = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert incident["status"] == "open"
