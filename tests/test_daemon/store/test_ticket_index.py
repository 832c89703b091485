"""The ticket index: a tracker's inbound webhook names a ticket; the store finds its
incident in one lookup, on both stores, for tickets stored before the index existed too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from test_daemon.store.conftest import Downgraded

from connectors.base import IncidentRef, IncidentRequest
from daemon.models import Incident, IncidentStatus, OutboxJob
from daemon.settings import Settings
from daemon.store import Store, build_store
from daemon.store.codec import request_to_json
from daemon.store.redis_store import RedisStore
from daemon.workset import WorkSet


async def _open_ticket(store: Store, incident_id: str, connector: str, key: str) -> None:
    """An incident whose open was delivered to ``connector`` as ticket ``key``."""
    req = IncidentRequest(incident_id=incident_id, title="t", priority="P2", status="open")
    job = OutboxJob(
        f"{incident_id}:{connector}:open:1", incident_id, connector, "open", 1.0, request_to_json(req)
    )

    def create(ws: WorkSet) -> None:
        ws.touch_incident(Incident(incident_id, "g", "t", IncidentStatus.OPEN, "P2", [], 1.0, 1.0, 1, 1))
        ws.new_incidents.add(incident_id)
        ws.enqueue(job)

    await store.update_incident(incident_id, create)
    [claimed] = [j for j in await store.claim_deliveries(10, lease=30) if j.incident_id == incident_id]
    await store.finish_delivery(claimed, IncidentRef(key, f"https://tracker.example/{key}"))


async def test_a_ticket_key_finds_its_incident_and_nothing_else_does(store: Store) -> None:
    await _open_ticket(store, "i1", "jira", "OPS-7")
    await _open_ticket(store, "i2", "jira", "OPS-8")
    await _open_ticket(store, "i3", "github", "OPS-7")
    assert await store.incident_of_ticket("jira", "OPS-7") == "i1"
    assert await store.incident_of_ticket("jira", "OPS-8") == "i2"
    assert await store.incident_of_ticket("github", "OPS-7") == "i3"
    assert await store.incident_of_ticket("slack", "OPS-7") is None
    assert await store.incident_of_ticket("jira", "OPS-9") is None
    # The ticket's key, as the inbound parsers give it; not its URL.
    assert await store.incident_of_ticket("jira", "https://tracker.example/OPS-7") is None


async def test_a_schema_2_file_is_indexed_when_opened(sqlite_downgraded: Downgraded) -> None:
    async def fill(store: Store) -> None:
        await _open_ticket(store, "i1", "jira", "OPS-7")

    # What schema 2 left: refs, no index.
    store, _ = await sqlite_downgraded(fill, "DROP TABLE tickets; PRAGMA user_version=2;")
    try:
        assert await store.incident_of_ticket("jira", "OPS-7") == "i1"
    finally:
        await store.close()


async def test_tickets_stored_before_the_index_are_indexed_at_open(
    make_settings: Callable[..., Settings], redis_config: dict[str, Any]
) -> None:
    store = build_store(make_settings(store=redis_config).store)
    assert isinstance(store, RedisStore)
    await store.open()
    await _open_ticket(store, "i1", "jira", "OPS-7")
    await _open_ticket(store, "i2", "opsgenie", "alias-2")
    await store.client.delete(store.keys.tickets, store.keys.tickets_indexed)  # as before the index
    await store.close()

    again = build_store(make_settings(store=redis_config).store)
    await again.open()
    try:
        assert await again.incident_of_ticket("jira", "OPS-7") == "i1"
        assert await again.incident_of_ticket("opsgenie", "alias-2") == "i2"
    finally:
        await again.close()


async def test_entries_of_expired_incidents_are_dropped(
    make_settings: Callable[..., Settings], redis_config: dict[str, Any]
) -> None:
    store = build_store(make_settings(store=redis_config).store)
    assert isinstance(store, RedisStore)
    await store.open()
    try:
        for n in range(3):
            await _open_ticket(store, f"i{n}", "jira", f"OPS-{n}")
        k = store.keys
        await store.client.delete(k.incident("i0"), k.incident("i1"))  # what retention does
        # A lookup of an expired incident's ticket finds nothing, and forgets it.
        assert await store.incident_of_ticket("jira", "OPS-0") is None
        assert not await store.client.hexists(k.tickets, k.ticket_field("jira", "OPS-0"))
        # Housekeeping sweeps the one nobody asked about.
        assert await store.client.hexists(k.tickets, k.ticket_field("jira", "OPS-1"))
        await store._housekeeping()
        assert await store.client.hlen(k.tickets) == 1
        assert await store.incident_of_ticket("jira", "OPS-2") == "i2"
    finally:
        await store.close()
