"""The deferral index: when the upkeep must look at an incident again (a delayed resolution,
the next escalation step), written with the incident, on both stores, for incidents stored
before the index existed too. The upkeep used to read every open incident, at most 5,000."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from test_daemon.store.conftest import Downgraded

from daemon.models import Incident, IncidentStatus
from daemon.settings import Settings
from daemon.store import Store, build_store
from daemon.store.redis_store import RedisStore
from daemon.workset import WorkSet


def _incident(
    incident_id: str, resolve_after: float | None = None, escalate_at: float | None = None
) -> Incident:
    incident = Incident(incident_id, f"g-{incident_id}", "t", IncidentStatus.OPEN, "P2", [], 1.0, 1.0, 1, 1)
    if resolve_after is not None:
        incident.correlation["resolve_after"] = resolve_after
    if escalate_at is not None:
        incident.lifecycle["escalate_at"] = escalate_at
    return incident


async def _put(store: Store, incident: Incident) -> None:
    def write(ws: WorkSet) -> None:
        ws.touch_incident(incident)

    await store.update_incident(incident.id, write)


async def _change(store: Store, incident_id: str, fn: Callable[[Incident], None]) -> None:
    def write(ws: WorkSet) -> None:
        incident = ws.incidents[incident_id]
        fn(incident)
        ws.touch_incident(incident)

    await store.update_incident(incident_id, write)


async def test_due_deferrals_soonest_first_up_to_a_time_and_a_count(store: Store) -> None:
    await _put(store, _incident("a", resolve_after=300.0))
    await _put(store, _incident("b", escalate_at=100.0))
    await _put(store, _incident("c", resolve_after=200.0, escalate_at=400.0))
    await _put(store, _incident("d"))  # nothing deferred
    assert await store.deferred(1000.0, 100) == [
        ("escalate", "b", 100.0),
        ("resolve", "c", 200.0),
        ("resolve", "a", 300.0),
        ("escalate", "c", 400.0),
    ]
    assert await store.deferred(250.0, 100) == [("escalate", "b", 100.0), ("resolve", "c", 200.0)]
    assert await store.deferred(1000.0, 1) == [("escalate", "b", 100.0)]
    assert await store.deferred(50.0, 100) == []
    assert len(await store.deferred(math.inf, 100)) == 4


async def test_the_index_follows_the_incident(store: Store) -> None:
    await _put(store, _incident("a", resolve_after=300.0, escalate_at=100.0))

    def later(incident: Incident) -> None:  # the next escalation step
        incident.lifecycle["escalate_at"] = 700.0

    await _change(store, "a", later)
    assert await store.deferred(1000.0, 10) == [("resolve", "a", 300.0), ("escalate", "a", 700.0)]

    def acknowledged(incident: Incident) -> None:  # escalation stops; the delayed resolution stays
        incident.status = IncidentStatus.ACKNOWLEDGED

    await _change(store, "a", acknowledged)
    assert await store.deferred(1000.0, 10) == [("resolve", "a", 300.0)]

    def fired_again(incident: Incident) -> None:
        incident.correlation.pop("resolve_after")

    await _change(store, "a", fired_again)
    assert await store.deferred(1000.0, 10) == []

    await _put(store, _incident("b", resolve_after=50.0))

    def resolved(incident: Incident) -> None:
        incident.status = IncidentStatus.RESOLVED

    await _change(store, "b", resolved)
    assert await store.deferred(1000.0, 10) == []


async def test_a_schema_3_file_is_indexed_when_opened(sqlite_downgraded: Downgraded) -> None:
    async def fill(store: Store) -> None:
        await _put(store, _incident("a", resolve_after=300.0))
        await _put(store, _incident("b", escalate_at=100.0))
        await _put(store, _incident("c", resolve_after=5.0))
        await _change(store, "c", lambda i: setattr(i, "status", IncidentStatus.RESOLVED))

    # What schema 3 left: the incidents' documents, no index.
    store, _ = await sqlite_downgraded(fill, "DROP TABLE deferred; PRAGMA user_version=3;")
    try:
        assert await store.deferred(1000.0, 10) == [("escalate", "b", 100.0), ("resolve", "a", 300.0)]
    finally:
        await store.close()


async def test_incidents_stored_before_the_index_are_indexed(
    make_settings: Callable[..., Settings], redis_config: dict[str, Any]
) -> None:
    store = build_store(make_settings(store=redis_config).store)
    assert isinstance(store, RedisStore)
    await store.open()
    for n in range(1203):  # more than one read of 500
        await _put(store, _incident(f"i{n:04d}", resolve_after=float(n)))
    await _put(store, _incident("ack", escalate_at=1.5))
    await _change(store, "ack", lambda i: setattr(i, "status", IncidentStatus.ACKNOWLEDGED))
    await store.client.delete(store.keys.deferred, store.keys.deferred_indexed)  # as before the index
    await store.close()

    again = build_store(make_settings(store=redis_config).store)
    await again.open()
    try:
        found = await again.deferred(10_000.0, 10_000)
        assert len(found) == 1203
        assert found[:3] == [("resolve", "i0000", 0.0), ("resolve", "i0001", 1.0), ("resolve", "i0002", 2.0)]
    finally:
        await again.close()
