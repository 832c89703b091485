"""The incident API, health endpoints, metrics and the OpenAPI document."""

from __future__ import annotations

import io
import re
from typing import Any

from aiohttp.test_utils import TestClient
from support import fixture_raw, settle

URL = "/api/v1/alerts/alertmanager"


async def _open_incident(client: TestClient[Any, Any]) -> str:
    resp = await client.post(
        URL, data=fixture_raw("firing_grouped"), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 202
    await settle(client.app)
    incidents = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    incident_id: str = incidents[0]["id"]
    return incident_id


async def test_acknowledge_then_resolve_by_hand(client: TestClient[Any, Any]) -> None:
    """ack and resolve change status, stamp times, record the actor and note in the timeline."""
    incident_id = await _open_incident(client)
    resp = await client.post(
        f"/api/v1/incidents/{incident_id}/ack", json={"actor": "alice", "note": "looking"}
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "acknowledged"
    # Times are RFC 3339 in UTC for people reading the API at 3 a.m., not Unix seconds.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["acknowledged_at"])
    assert body["opened_at"] <= body["acknowledged_at"]
    again = await client.post(f"/api/v1/incidents/{incident_id}/ack")
    assert (await again.json())["acknowledged_at"] == body["acknowledged_at"]  # idempotent

    resp = await client.post(f"/api/v1/incidents/{incident_id}/resolve", json={"actor": "bob"})
    assert resp.status == 200
    assert (await resp.json())["status"] == "resolved"
    detail = await (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    events = [(e["kind"], e["actor"]) for e in detail["timeline"]]
    assert ("acknowledged", "alice") in events
    assert ("resolved", "bob") in events
    ack = next(e for e in detail["timeline"] if e["kind"] == "acknowledged")
    assert ack["detail"]["note"] == "looking"
    resolved = next(e for e in detail["timeline"] if e["kind"] == "resolved")
    assert resolved["detail"]["still_firing"] == 2

    conflict = await client.post(f"/api/v1/incidents/{incident_id}/ack")
    assert conflict.status == 409
    assert "resolved" in (await conflict.json())["error"]


async def test_the_detail_keeps_the_first_alerts_and_latest_events_up_to_its_limit(
    client: TestClient[Any, Any],
) -> None:
    """Both stores: ``?limit=N`` bounds the alerts (the first to join) and the timeline (the
    latest events) of one view, and says how many there are; without it a view holds up
    to 1,000 of each, and a limit out of range is a 400 naming the range."""
    incident_id = await _open_incident(client)
    resp = await client.post(
        URL, data=fixture_raw("firing_grouped_update"), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 202
    await settle(client.app)
    for actor in ("alice", "bob"):
        note = {"actor": actor, "note": "looking"}
        assert (await client.post(f"/api/v1/incidents/{incident_id}/note", json=note)).status == 200
    whole = await (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    assert whole["alerts_total"] == len(whole["alerts"]) == whole["alert_count"] == 3
    assert whole["timeline_total"] == len(whole["timeline"]) >= 4
    some = await (await client.get(f"/api/v1/incidents/{incident_id}?limit=2")).json()
    assert some["alerts"] == whole["alerts"][:2]
    assert some["fingerprints"] == whole["fingerprints"][:2]
    assert some["timeline"] == whole["timeline"][-2:]
    assert [e["actor"] for e in some["timeline"]] == ["alice", "bob"]
    assert (some["alerts_total"], some["timeline_total"]) == (3, whole["timeline_total"])
    for bad in ("0", "10001", "x", "-1"):
        resp = await client.get(f"/api/v1/incidents/{incident_id}?limit={bad}")
        assert resp.status == 400
        assert "from 1 to 10000" in (await resp.json())["error"]


async def test_manual_resolve_frees_the_group(client: TestClient[Any, Any]) -> None:
    """After a manual resolve, a new alert of the group opens a new incident."""
    first = await _open_incident(client)
    await client.post(f"/api/v1/incidents/{first}/resolve")
    resp = await client.post(
        URL, data=fixture_raw("firing_grouped_update"), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 202
    await settle(client.app)
    incidents = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert len(incidents) == 2
    newest = incidents[0]
    assert newest["id"] != first
    assert newest["status"] == "open"
    assert newest["alert_count"] == 1  # api-4; api-1/api-2 still belong to the resolved one


async def test_status_filter_and_errors(client: TestClient[Any, Any]) -> None:
    """?status filters; bad filters, unknown ids and bad bodies are clear 4xx JSON."""
    incident_id = await _open_incident(client)
    ok = await client.get("/api/v1/incidents", params={"status": "open"})
    assert [i["id"] for i in (await ok.json())["incidents"]] == [incident_id]
    none = await client.get("/api/v1/incidents", params={"status": "resolved"})
    assert (await none.json())["incidents"] == []
    bad = await client.get("/api/v1/incidents", params={"status": "closed"})
    assert bad.status == 400
    assert "open, acknowledged, resolved" in (await bad.json())["error"]
    bad_limit = await client.get("/api/v1/incidents", params={"limit": "0"})
    assert bad_limit.status == 400
    missing = await client.get("/api/v1/incidents/inc_nope")
    assert missing.status == 404
    assert (await missing.json())["error"] == "no incident inc_nope"
    for body in (b"{", b"[]", b'{"actor": 5}'):
        resp = await client.post(f"/api/v1/incidents/{incident_id}/ack", data=body)
        assert resp.status == 400, body
    missing_ack = await client.post("/api/v1/incidents/inc_nope/ack")
    assert missing_ack.status == 404


async def test_health_and_readiness(client: TestClient[Any, Any]) -> None:
    """healthz answers; readyz is ready while the store and pipeline run."""
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["status"] == "ready"


async def test_metrics_exposed_with_prefix(client: TestClient[Any, Any]) -> None:
    """/metrics carries the documented triaged_ series after some traffic."""
    await _open_incident(client)
    text = await (await client.get("/metrics")).text()
    for name in (
        "triaged_alerts_received_total",
        "triaged_alerts_accepted_total",
        "triaged_alerts_processed_total",
        "triaged_incidents_opened_total",
        "triaged_pipeline_stage_seconds_bucket",
        "triaged_intake_backlog",
        "triaged_ingest_seconds_bucket",
        "triaged_gc_pause_seconds_bucket",
        "triaged_process_resident_memory_bytes",
    ):
        assert name in text, name
    assert 'triaged_incidents_opened_total{priority="P1"} 1.0' in text
    metric_lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert all(ln.startswith("triaged_") for ln in metric_lines)


async def test_openapi_describes_every_route(client: TestClient[Any, Any]) -> None:
    """Every route the app serves is in the OpenAPI document, with each of its methods."""
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    served: set[tuple[str, str]] = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method == "HEAD":  # aiohttp adds HEAD beside every GET
            continue
        served.add((path, route.method.lower()))
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert served == documented


async def test_deliveries_and_feedback_refuse_bad_input(client: TestClient[Any, Any]) -> None:
    """Bad filters, unknown ids and oversized bodies are clear JSON 4xx, never a 500."""
    bad = await client.get("/api/v1/deliveries", params={"status": "lost"})
    assert bad.status == 400
    assert "pending, done, dead" in (await bad.json())["error"]
    assert (await client.get("/api/v1/deliveries", params={"limit": "-5"})).status == 400
    missing = await client.post("/api/v1/deliveries/999999/retry")
    assert missing.status == 404
    assert (await missing.json())["error"] == "no dead letter 999999"
    incident_id = await _open_incident(client)
    huge = b'{"note": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    resp = await client.post(f"/api/v1/incidents/{incident_id}/feedback", data=io.BytesIO(huge))
    assert resp.status == 413
    assert "error" in await resp.json()
