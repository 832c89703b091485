"""Captured Alertmanager sequences through the real app: the incidents an SRE should see."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient
from support import FIXTURES, fixture_body, fixture_raw, settle

HEADERS = {"Content-Type": "application/json"}
GROUPED = [
    "firing_grouped",
    "firing_grouped_update",
    "firing_grouped_partially_resolved",
    "resolved_grouped",
]


async def post(client: TestClient[Any, Any], name: str) -> dict[str, Any]:
    """Post a captured body byte for byte, as Alertmanager did; expect 202."""
    resp = await client.post("/api/v1/alerts/alertmanager", data=fixture_raw(name), headers=HEADERS)
    body: dict[str, Any] = await resp.json()
    assert resp.status == 202, body
    return body


async def incidents(client: TestClient[Any, Any], **query: str) -> list[dict[str, Any]]:
    """All incidents, after the pipeline has caught up."""
    await settle(client.app)
    resp = await client.get("/api/v1/incidents", params=query)
    assert resp.status == 200
    result: list[dict[str, Any]] = (await resp.json())["incidents"]
    return result


async def detail(client: TestClient[Any, Any], incident_id: str) -> dict[str, Any]:
    """One incident's detail view."""
    resp = await client.get(f"/api/v1/incidents/{incident_id}")
    assert resp.status == 200
    result: dict[str, Any] = await resp.json()
    return result


async def test_grouped_sequence_is_one_incident_that_resolves(client: TestClient[Any, Any]) -> None:
    """Firing, update, partial resolve, resolve of one group: one incident, resolved, right states."""
    for name in GROUPED[:3]:
        await post(client, name)
    [open_incident] = await incidents(client)
    assert open_incident["status"] == "open"
    assert open_incident["alert_count"] == 3
    assert open_incident["firing_count"] == 2
    assert open_incident["priority"] == "P1"  # severity=critical
    assert open_incident["title"] == "HighErrorRate (cluster=prod-eu)"

    await post(client, GROUPED[3])
    [incident] = await incidents(client)
    assert incident["id"] == open_incident["id"]
    assert incident["status"] == "resolved"
    d = await detail(client, incident["id"])
    states = {a["labels"]["instance"]: a["status"] for a in d["alerts"]}
    assert states == {"api-1:8080": "resolved", "api-2:8080": "resolved", "api-4:8080": "resolved"}
    counts = {a["labels"]["instance"]: a["count"] for a in d["alerts"]}
    # api-2 was in all four notifications; api-1 left the group once resolved.
    assert counts == {"api-1:8080": 3, "api-2:8080": 4, "api-4:8080": 3}
    assert sorted(d["fingerprints"]) == sorted(["06359bc0f254a8a0", "7844368f6479aefd", "8766fffc53438e9f"])
    kinds = [e["kind"] for e in d["timeline"]]
    assert kinds[0] == "opened"
    assert kinds.count("alert_joined") == 2  # api-2 in the first batch, api-4 later
    assert kinds.count("alert_resolved") == 3
    assert kinds[-1] == "resolved"
    assert d["resolved_at"] is not None


async def test_other_groups_make_other_incidents(client: TestClient[Any, Any]) -> None:
    """Same alertname in another cluster, and another alertname: separate incidents."""
    for name in ("firing_grouped", "firing_grouped_single_alert", "firing_grouped_other_alertname"):
        await post(client, name)
    found = await incidents(client)
    assert sorted(i["title"] for i in found) == [
        "HighErrorRate (cluster=prod-eu)",
        "HighErrorRate (cluster=prod-us)",
        "PodCrashLooping (cluster=prod-eu)",
    ]
    for name in ("resolved_grouped_single_alert", "resolved_grouped_other_alertname"):
        await post(client, name)
    still_open = await incidents(client, status="open")
    assert [i["title"] for i in still_open] == ["HighErrorRate (cluster=prod-eu)"]


async def test_ungrouped_alerts_make_separate_incidents(client: TestClient[Any, Any]) -> None:
    """group_by ['...'] (the storage route): each alert is its own incident."""
    for name in ("ungrouped", "ungrouped_2", "ungrouped_3", "ungrouped_resolved"):
        await post(client, name)
    found = await incidents(client)
    assert len(found) == 3
    by_status = sorted((i["status"], i["alert_count"]) for i in found)
    assert by_status == [("open", 1), ("open", 1), ("resolved", 1)]
    # Production (cluster=prod-eu) raises impact: critical lag P1, warning disk P2.
    assert {i["priority"] for i in found} == {"P1", "P2"}


async def test_repeats_are_deduplicated(client: TestClient[Any, Any]) -> None:
    """Byte-identical repeats (repeat_interval) and retries count, but open nothing new."""
    for name in ("repeat_first", "repeat_second", "repeat_second", "repeat_first"):
        await post(client, name)
    [incident] = await incidents(client)
    d = await detail(client, incident["id"])
    assert d["alerts"][0]["count"] == 4
    assert [e["kind"] for e in d["timeline"]] == ["opened"]
    metrics = await (await client.get("/metrics")).text()
    assert 'triaged_alerts_processed_total{outcome="repeat"} 3.0' in metrics
    assert 'triaged_alerts_dropped_total{reason="repeat"} 3.0' in metrics

    await post(client, "repeat_resolved")
    await post(client, "repeat_resolved")
    [incident] = await incidents(client)
    assert incident["status"] == "resolved"
    assert 'triaged_alerts_dropped_total{reason="resolve_repeat"} 1.0' in (
        await (await client.get("/metrics")).text()
    )


async def test_late_retry_of_a_resolved_alert_does_not_reopen(client: TestClient[Any, Any]) -> None:
    """A firing notification arriving after its own resolution is stale, not a new outage."""
    await post(client, "repeat_first")
    await post(client, "repeat_resolved")
    await post(client, "repeat_second")  # same startsAt as the resolved occurrence
    [incident] = await incidents(client)
    assert incident["status"] == "resolved"
    metrics = await (await client.get("/metrics")).text()
    assert 'triaged_alerts_processed_total{outcome="stale"} 1.0' in metrics


async def test_new_outage_after_resolution_is_a_new_incident(client: TestClient[Any, Any]) -> None:
    """A resolved incident does not swallow the group's next outage."""
    await post(client, "firing_grouped_single_alert")
    await post(client, "resolved_grouped_single_alert")
    body = fixture_body("firing_grouped_single_alert")
    body["alerts"][0]["startsAt"] = "2026-11-26T19:00:00Z"  # a later occurrence
    resp = await client.post("/api/v1/alerts/alertmanager", json=body)
    assert resp.status == 202
    found = await incidents(client)
    assert sorted(i["status"] for i in found) == ["open", "resolved"]
    assert len({i["group_key"] for i in found}) == 1


async def test_truncated_alerts_are_visible(client: TestClient[Any, Any]) -> None:
    """Alertmanager's max_alerts truncation shows on the incident and in its timeline."""
    await post(client, "truncated")
    [incident] = await incidents(client)
    assert incident["alert_count"] == 2
    assert incident["truncated_alerts"] == 3
    d = await detail(client, incident["id"])
    [event] = [e for e in d["timeline"] if e["kind"] == "truncated"]
    assert event["detail"]["truncated_alerts"] == 3


async def test_every_capture_in_order_gives_consistent_incidents(
    client: TestClient[Any, Any],
) -> None:
    """All captures in capture order: every incident's counts agree with its alerts' states."""
    index = json.loads((FIXTURES / "index.json").read_text())
    names = [f["file"].removesuffix(".json") for f in index["fixtures"]]
    for name in names:
        await post(client, name)
    found = await incidents(client, limit="1000")
    assert found
    for incident in found:
        d = await detail(client, incident["id"])
        firing = sum(1 for a in d["alerts"] if a["status"] == "firing")
        assert firing == d["firing_count"], d
        assert len(d["alerts"]) == d["alert_count"]
        assert (d["status"] == "resolved") == (firing == 0), d
