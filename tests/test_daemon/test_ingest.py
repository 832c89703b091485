"""The webhook edge: durable 202s, and clear 4xx/503 answers for everything else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from support import fixture_body, fixture_raw, settle

from daemon.app import create_app
from daemon.keys import SETTINGS, STORE
from daemon.settings import Settings
from daemon.store import build_store

URL = "/api/v1/alerts/alertmanager"


async def test_accepts_captured_body_and_counts(client: TestClient[Any, Any]) -> None:
    """202 {"accepted": N} and the accepted counter moves by N."""
    resp = await client.post(
        URL, data=fixture_raw("firing_grouped"), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 202
    assert await resp.json() == {"accepted": 2}
    reg = client.app[STORE]
    await settle(client.app)
    assert reg.backlog() == 0
    text = await (await client.get("/metrics")).text()
    assert 'triaged_alerts_accepted_total{source="alertmanager"} 2.0' in text


async def test_a_body_left_to_the_general_path_is_accepted_and_counted_by_reason(
    client: TestClient[Any, Any],
) -> None:
    """A key the one-pass decode does not know costs CPU, not alerts: the body is accepted
    whole by the general path, and the metric says why it went there."""
    headers = {"Content-Type": "application/json"}
    assert (await client.post(URL, data=fixture_raw("firing_grouped"), headers=headers)).status == 202
    text = await (await client.get("/metrics")).text()
    assert "triaged_webhooks_general_path_total{" not in text
    body = fixture_body("firing_grouped") | {"newKey": {"nested": [1, 2]}}
    resp = await client.post(URL, json=body)
    assert resp.status == 202
    assert await resp.json() == {"accepted": 2}
    text = await (await client.get("/metrics")).text()
    assert 'triaged_webhooks_general_path_total{reason="unknown_field",source="alertmanager"} 1.0' in text


async def test_stored_before_answer(client: TestClient[Any, Any]) -> None:
    """When the 202 arrives the alert is already stored: a second store on the same backend sees it."""
    resp = await client.post(URL, json=fixture_body("truncated"))
    assert resp.status == 202
    other = build_store(client.app[SETTINGS].store)
    await other.open()
    try:
        assert other.backlog() + await _processed(other) >= 2
    finally:
        await other.close()


async def _processed(store: Any) -> int:
    incidents = await store.list_incidents(None, 10)
    return sum(i.alert_count for i in incidents)


@pytest.mark.parametrize(
    ("data", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"alerts": "nope"}', 400, "'alerts' must be a list"),
        (b'{"version": "9", "alerts": []}', 400, "unsupported webhook version"),
        (b"", 400, "not valid JSON"),
    ],
)
async def test_malformed_bodies_get_400_json(
    client: TestClient[Any, Any], data: bytes, status: int, needle: str
) -> None:
    """Malformed bodies: 400 with a JSON error naming the problem, never a 500."""
    resp = await client.post(URL, data=data, headers={"Content-Type": "application/json"})
    assert resp.status == status
    body = await resp.json()
    assert needle in body["error"]


async def test_partly_bad_batch_keeps_the_good_alerts(client: TestClient[Any, Any]) -> None:
    """One bad alert is reported by position; the rest of the batch is stored."""
    body = fixture_body("firing_grouped")
    body["alerts"].insert(1, {"status": "firing", "labels": {}})
    resp = await client.post(URL, json=body)
    assert resp.status == 202
    answer = await resp.json()
    assert answer["accepted"] == 2
    assert answer["rejected"][0]["where"] == "alerts[1]"
    assert "labels" in answer["rejected"][0]["error"]
    await settle(client.app)
    incidents = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert incidents[0]["alert_count"] == 2


async def test_all_bad_alerts_is_400(client: TestClient[Any, Any]) -> None:
    """A batch with no valid alert is a 400 that lists each problem."""
    body = fixture_body("firing_grouped")
    body["alerts"] = [{"status": "firing"}, {"labels": {"a": "b"}}]
    resp = await client.post(URL, json=body)
    assert resp.status == 400
    answer = await resp.json()
    assert len(answer["rejected"]) == 2


async def test_empty_alert_list_is_accepted_as_nothing(client: TestClient[Any, Any]) -> None:
    """An empty but well-formed webhook is a 202 with nothing accepted."""
    body = fixture_body("firing_grouped")
    body["alerts"] = []
    resp = await client.post(URL, json=body)
    assert resp.status == 202
    assert await resp.json() == {"accepted": 0}


async def test_oversized_body_is_413(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    """A body over intake.max_body_bytes gets 413 in JSON, by header or by actual size."""
    client = await aiohttp_client(create_app(make_settings(intake={"max_body_bytes": 1000})))
    resp = await client.post(
        URL, data=fixture_raw("firing_grouped"), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 413
    assert "max_body_bytes" in (await resp.json())["error"]

    async def chunks() -> Any:  # no Content-Length: chunked transfer
        for _ in range(10):
            yield b" " * 1000

    resp = await client.post(URL, data=chunks(), headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert "max_body_bytes" in (await resp.json())["error"]


async def test_bearer_token(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    """With a token configured: 401 without it or with a wrong one, 202 with the right one."""
    settings = make_settings(sources={"alertmanager": {"token": "harness-bearer-token-123"}})
    client = await aiohttp_client(create_app(settings))
    body = fixture_raw("firing_grouped")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        resp = await client.post(URL, data=body, headers=headers)
        assert resp.status == 401
        answer = await resp.json()
        assert answer == {"error": "unauthorized"}
        assert "harness" not in await resp.text()
    # The header Alertmanager really sent with this capture.
    resp = await client.post(URL, data=body, headers={"Authorization": "Bearer harness-bearer-token-123"})
    assert resp.status == 202
    text = await (await client.get("/metrics")).text()
    assert 'reason="unauthorized",source="alertmanager"} 3.0' in text


async def test_unknown_source_is_404(client: TestClient[Any, Any]) -> None:
    """An unknown sender name is a 404 that lists the enabled ones."""
    resp = await client.post("/api/v1/alerts/nagios", json={})
    assert resp.status == 404
    assert "alertmanager" in (await resp.json())["error"]


async def test_backlog_full_is_503_with_retry_after(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    """Past intake.max_backlog the edge sheds load with 503 + Retry-After instead of growing."""
    settings = make_settings(intake={"max_backlog": 1, "retry_after": "7s"})
    app = create_app(settings)
    client = await aiohttp_client(app)
    # Hold the pipeline's lock so nothing drains while we fill the intake.
    from daemon.keys import PIPELINE

    async with app[PIPELINE].lock:
        first = await client.post(URL, json=fixture_body("firing_grouped"))
        assert first.status == 202
        resp = await client.post(URL, json=fixture_body("firing_grouped"))
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "7"
        assert "retry" in (await resp.json())["error"]
    await settle(app)
    resp = await client.post(URL, json=fixture_body("firing_grouped"))
    assert resp.status == 202
