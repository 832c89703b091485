"""The KPI gauges on /metrics, computed from the store (both kinds) and cheap to scrape."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from support import fixture_raw, settle

from daemon.reports.kpi_metrics import KPI_REFRESHER

HEADERS = {"Content-Type": "application/json"}


async def scrape(client: TestClient[Any, Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    text = await (await client.get("/metrics")).text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_kpi_gauges_follow_the_incidents(client: TestClient[Any, Any]) -> None:
    """Two incidents, one acknowledged then resolved: counts, ratios and durations appear per priority."""
    before = await scrape(client)
    assert ("triaged_kpi_refresh_failures_total", ()) in before
    assert not any(name == "triaged_kpi_incidents" for name, _ in before)  # no pass yet: no figures
    for name in ("firing_grouped", "firing_grouped_other_alertname"):
        assert (
            await client.post("/api/v1/alerts/alertmanager", data=fixture_raw(name), headers=HEADERS)
        ).status == 202
    await settle(client.app)
    listed = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    first = listed[0]["id"]
    assert (await client.post(f"/api/v1/incidents/{first}/ack", json={"actor": "alice"})).status == 200
    assert (await client.post(f"/api/v1/incidents/{first}/resolve", json={"actor": "alice"})).status == 200
    refresher = client.app[KPI_REFRESHER]
    snap = await refresher.refresh()
    m = await scrape(client)
    assert m[("triaged_kpi_incidents", (("priority", "all"),))] == 2
    assert m[("triaged_kpi_resolution_ratio", (("priority", "all"),))] == 0.5
    assert m[("triaged_kpi_first_time_fix_ratio", (("priority", "all"),))] == 1.0
    assert m[("triaged_kpi_last_refresh_timestamp_seconds", ())] == snap.at
    per_priority = {i["priority"] for i in listed}
    for p in per_priority:
        assert m[("triaged_kpi_incidents", (("priority", p),))] == sum(i["priority"] == p for i in listed)
    mtta = m[("triaged_kpi_mtta_seconds", (("priority", "all"), ("stat", "median")))]
    mttr = m[("triaged_kpi_mttr_seconds", (("priority", "all"), ("stat", "p90")))]
    assert 0 <= mtta <= mttr < 60  # acknowledged, then resolved, within this test
    # Only one incident was acknowledged: no MTTA for the priority of the other one alone.
    assert ("triaged_kpi_mtti_seconds", (("priority", "all"), ("stat", "mean"))) in m


async def test_unchanged_resolved_incidents_are_not_read_again(client: TestClient[Any, Any]) -> None:
    """A second pass reads only open or changed incidents (the cost bound of the gauges)."""
    assert (
        await client.post("/api/v1/alerts/alertmanager", data=fixture_raw("firing_grouped"), headers=HEADERS)
    ).status == 202
    await settle(client.app)
    [incident] = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert (await client.post(f"/api/v1/incidents/{incident['id']}/resolve", json={})).status == 200
    refresher = client.app[KPI_REFRESHER]
    await refresher.refresh()
    store = refresher.store
    reads: list[str] = []
    real_get = store.get_incident

    async def counting_get(incident_id: str) -> Any:
        reads.append(incident_id)
        return await real_get(incident_id)

    # Counting calls on the real store (a wrapper, not a mock: the real read still happens).
    refresher.store = type(
        "Counting", (), {"list_incidents": store.list_incidents, "get_incident": counting_get}
    )()  # type: ignore[assignment]
    snap = await refresher.refresh()
    assert reads == []
    assert snap.by_priority["all"].resolved == 1
