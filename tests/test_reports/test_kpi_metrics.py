"""The KPI gauges on /metrics, computed from the store (both kinds) and cheap to scrape."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from support import fixture_raw, settle

from daemon.reports.kpi import facts
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
    assert m[("triaged_kpi_last_refresh_duration_seconds", ())] == snap.took > 0
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


async def test_a_window_cut_by_the_cap_says_how_far_back_it_looks(client: TestClient[Any, Any]) -> None:
    """More incidents than the cap: the gauges count the newest only and say they were cut."""
    for name in ("firing_grouped", "firing_grouped_other_alertname", "ungrouped"):
        assert (
            await client.post("/api/v1/alerts/alertmanager", data=fixture_raw(name), headers=HEADERS)
        ).status == 202
        await settle(client.app)
    refresher = client.app[KPI_REFRESHER]
    opened = sorted((i.opened_at for i in await refresher.store.list_incidents(None, 10)), reverse=True)
    assert len(opened) == 3
    refresher.max_incidents = 2
    snap = await refresher.refresh()
    m = await scrape(client)
    assert snap.truncated
    assert m[("triaged_kpi_window_truncated", ())] == 1
    assert m[("triaged_kpi_incidents", (("priority", "all"),))] == 2
    # Back to the second newest incident's opening, not the configured seven days.
    assert m[("triaged_kpi_window_seconds", ())] == snap.window
    assert abs(snap.window - (snap.at - opened[1])) < 1e-3
    refresher.max_incidents = 3  # exactly all of them: nothing left out
    snap = await refresher.refresh()
    m = await scrape(client)
    assert not snap.truncated
    assert m[("triaged_kpi_window_truncated", ())] == 0
    assert m[("triaged_kpi_window_seconds", ())] == refresher.window == 7 * 86400
    assert m[("triaged_kpi_incidents", (("priority", "all"),))] == 3


SEQUENCE = (
    "firing_grouped",
    "firing_grouped_update",
    "firing_grouped_partially_resolved",
    "firing_grouped+60s",  # the resolved alert fires again while its incident is open
    "repeat_first",
    "repeat_resolved",
    "repeat_first+60s",  # a new occurrence of the same alert: it fires again in its incident
    "firing_grouped_other_alertname",
    "resolved_grouped_other_alertname",
    "ungrouped",
    "ungrouped_2",
)


def _later(raw: bytes, seconds: float) -> bytes:
    """The same webhook for a later occurrence: every alert starts ``seconds`` later."""
    payload = json.loads(raw)
    for alert in payload["alerts"]:
        start = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
        alert["startsAt"] = (start + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    return json.dumps(payload).encode()


class Reads:
    """The real store, with its reads counted (a wrapper, not a mock: every read happens)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.details: list[str] = []
        self.events: list[int] = []
        self.kinds: set[str] = set()

    async def list_incidents(self, status: Any, limit: int) -> Any:
        return await self.store.list_incidents(status, limit)

    async def get_incident(self, incident_id: str) -> Any:
        self.details.append(incident_id)
        return await self.store.get_incident(incident_id)

    async def timeline_since(self, incident_id: str, cursor: int, kinds: Any = None) -> Any:
        events, nxt = await self.store.timeline_since(incident_id, cursor, kinds)
        self.events.append(len(events))
        self.kinds.update(e.kind for e in events)
        return events, nxt


def _differences(refresher: Any, full: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per incident, the fields where the pass and a full read disagree (empty: none).
    Times within a millisecond agree: the alert view a full read uses holds RFC 3339 with
    milliseconds, the record the exact start."""
    kept = {i: f for i, (_, f) in refresher._cache.items()}
    assert kept.keys() == full.keys()
    out = {}
    for i, f in kept.items():
        other = asdict(full[i])
        diff = {k: (v, other[k]) for k, v in asdict(f).items() if not _same(v, other[k])}
        # An alert that fired again starts later in a full read (its latest start); the
        # record keeps the incident's earliest start.
        if "first_alert_at" in diff and f.first_alert_at < full[i].first_alert_at:
            del diff["first_alert_at"]
        if diff:
            out[i] = diff
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 0.001
    return bool(a == b)


async def _full_facts(store: Any) -> dict[str, Any]:
    """Every incident's facts the old way: every alert and the whole timeline read."""
    out = {}
    for incident in await store.list_incidents(None, 100):
        detail = await store.get_incident(incident.id)
        out[incident.id] = facts(detail)
    return out


async def test_a_pass_reads_records_and_new_events_only_and_agrees_with_a_full_read(
    client: TestClient[Any, Any],
) -> None:
    """Open incidents cost their new timeline events, never their alerts; the figures are
    those of reading every alert and the whole timeline (both stores)."""
    for name in SEQUENCE:
        body = _later(fixture_raw(name[:-4]), 60) if name.endswith("+60s") else fixture_raw(name)
        resp = await client.post("/api/v1/alerts/alertmanager", data=body, headers=HEADERS)
        assert resp.status == 202
        await settle(client.app)
    listed = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert len(listed) >= 3
    assert any(i["notifications"] > i["alert_count"] for i in listed)  # repeats were counted
    first = listed[0]["id"]
    assert (await client.post(f"/api/v1/incidents/{first}/ack", json={"actor": "alice"})).status == 200

    refresher = client.app[KPI_REFRESHER]
    store = refresher.store
    reads = Reads(store)
    refresher.store = reads  # type: ignore[assignment]
    await refresher.refresh()
    assert reads.details == []
    # The acknowledgement and the resolutions are read; the alerts' own events (one per
    # join, fire and resolve) and the openings are skipped.
    assert reads.kinds == {"acknowledged", "resolved"}
    assert _differences(refresher, await _full_facts(store)) == {}

    # A second pass reads only what was added: one note, on one incident.
    note = {"actor": "bob", "note": "the database"}
    assert (await client.post(f"/api/v1/incidents/{first}/note", json=note)).status == 200
    reads.events.clear()
    await refresher.refresh()
    assert sum(reads.events) == 1
    assert reads.details == []
    assert _differences(refresher, await _full_facts(store)) == {}


async def test_records_stored_before_the_figures_are_read_whole(client: TestClient[Any, Any]) -> None:
    """An incident without the record's figures (stored by an older triaged) still counts
    its notifications, read from its alerts."""
    for name in ("firing_grouped", "repeat_first", "repeat_second"):
        resp = await client.post("/api/v1/alerts/alertmanager", data=fixture_raw(name), headers=HEADERS)
        assert resp.status == 202
        await settle(client.app)
    store = client.app[KPI_REFRESHER].store
    old = (await store.list_incidents(None, 10))[0]

    def forget(ws: Any) -> None:
        incident = ws.incidents[old.id]
        incident.notifications = incident.first_alert_at = incident.service = None
        ws.touch_incident(incident)

    await store.update_incident(old.id, forget)
    refresher = client.app[KPI_REFRESHER]
    reads = Reads(store)
    refresher.store = reads  # type: ignore[assignment]
    await refresher.refresh()
    assert reads.details == [old.id]
    assert refresher._cache[old.id][1] == (await _full_facts(store))[old.id]


async def test_timeline_since_decodes_only_the_kinds_asked_and_moves_past_the_rest(
    client: TestClient[Any, Any],
) -> None:
    """Both stores: a reader asking for a few kinds gets exactly those events, in order, and
    the same cursor as a reader of everything, so its next read starts after the skipped ones."""
    for name in ("firing_grouped", "firing_grouped_update", "firing_grouped_partially_resolved"):
        resp = await client.post("/api/v1/alerts/alertmanager", data=fixture_raw(name), headers=HEADERS)
        assert resp.status == 202
        await settle(client.app)
    [incident] = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    ack = {"actor": "alice"}
    assert (await client.post(f"/api/v1/incidents/{incident['id']}/ack", json=ack)).status == 200
    store = client.app[KPI_REFRESHER].store
    everything, end = await store.timeline_since(incident["id"], 0)
    assert {"alert_joined", "alert_resolved", "acknowledged"} <= {e.kind for e in everything}
    wanted = {"acknowledged", "alert_resolved"}
    some, some_end = await store.timeline_since(incident["id"], 0, wanted)
    assert some == [e for e in everything if e.kind in wanted]
    assert some_end == end
    note = {"actor": "bob", "note": "disk"}
    assert (await client.post(f"/api/v1/incidents/{incident['id']}/note", json=note)).status == 200
    after, _ = await store.timeline_since(incident["id"], some_end, {"note"})
    assert [e.kind for e in after] == ["note"]
