"""An incident's view reads ``limit`` of its alerts in join order, by index, on both
stores; incidents written before that index are read as they were."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_daemon.store.conftest import Downgraded

from daemon.models import AlertStatus, Incident, IncidentAlert, IncidentStatus
from daemon.settings import Settings
from daemon.store import Store, build_store
from daemon.store.base import IncidentDetail
from daemon.store.redis_store import RedisStore
from daemon.workset import WorkSet

N = 60


def _members() -> list[IncidentAlert]:
    """Joins out of fingerprint order, some at the same instant (ties go by fingerprint)."""
    rng = random.Random(7)
    return [
        IncidentAlert(
            f"{rng.getrandbits(64):016x}", AlertStatus.FIRING, 1, 1000.0 + rng.randrange(20), 1000.0, "A"
        )
        for _ in range(N)
    ]


async def _incident(store: Store, incident_id: str, members: list[IncidentAlert], batches: int = 3) -> None:
    """Members join over several commits, as alerts do."""
    for i in range(batches):

        def add(ws: WorkSet, part: list[IncidentAlert] = members[i::batches], first: bool = i == 0) -> None:
            incident = Incident(incident_id, "g", "t", IncidentStatus.OPEN, "P2", [], 1.0, 1.0, 1, 1)
            ws.touch_incident(incident)
            if first:
                ws.new_incidents.add(incident_id)
            for m in part:
                ws.put_member(incident_id, m)

        await store.update_incident(incident_id, add)


def _fps(detail: IncidentDetail | None) -> list[str]:
    assert detail is not None
    return [a["fingerprint"] for a in detail.alerts]


async def test_the_view_holds_the_first_to_join_and_counts_all(store: Store) -> None:
    members = _members()
    await _incident(store, "i1", members)
    order = [m.fingerprint for m in sorted(members, key=lambda m: (m.first_seen, m.fingerprint))]
    page = await store.get_incident("i1", limit=7)
    assert _fps(page) == order[:7]
    assert page is not None
    assert page.alerts_total == N
    whole = await store.get_incident("i1")
    assert _fps(whole) == order
    assert whole is not None
    assert whole.alerts_total == N


async def test_a_schema_2_file_is_rebuilt_and_reads_the_same(
    sqlite_downgraded: Downgraded, tmp_path: Path
) -> None:
    async def fill(store: Store) -> IncidentDetail | None:
        await _incident(store, "i1", _members())
        return await store.get_incident("i1", limit=9)

    # Schema 2's table, without first_seen.
    store, before = await sqlite_downgraded(
        fill,
        """
        CREATE TABLE old (incident_id TEXT NOT NULL, fingerprint TEXT NOT NULL, doc BLOB NOT NULL,
                          PRIMARY KEY (incident_id, fingerprint));
        INSERT INTO old SELECT incident_id, fingerprint, doc FROM incident_alerts;
        DROP TABLE incident_alerts;
        ALTER TABLE old RENAME TO incident_alerts;
        CREATE INDEX incident_alerts_by_fp ON incident_alerts (fingerprint);
        PRAGMA user_version=2;
        """,
    )
    try:
        after = await store.get_incident("i1", limit=9)
        assert after is not None
        assert before is not None
        assert (after.alerts, after.alerts_total) == (before.alerts, before.alerts_total)
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "older.db") as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(incident_alerts)")}
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(incident_alerts)")}
    assert "first_seen" in columns
    assert {"incident_alerts_by_fp", "incident_alerts_by_join"} <= indexes


async def test_a_redis_incident_from_before_the_join_index_is_read_whole(
    make_settings: Callable[..., Settings], store_config: dict[str, Any]
) -> None:
    if store_config["kind"] != "redis":
        pytest.skip("Redis only")
    store = build_store(make_settings(store=store_config).store)
    assert isinstance(store, RedisStore)
    await store.open()
    try:
        members = _members()
        await _incident(store, "i1", members)
        expected = await store.get_incident("i1", limit=5)
        await store.client.delete(store.keys.joined("i1"))  # as written before the index
        assert _fps(await store.get_incident("i1", limit=5)) == _fps(expected)
        # Partly indexed (an old incident that kept growing): still exact.
        late = IncidentAlert("0" * 16, AlertStatus.FIRING, 1, 999.0, 999.0, "A")
        await _incident(store, "i1", [late], batches=1)
        page = await store.get_incident("i1", limit=5)
        assert _fps(page) == ["0" * 16, *_fps(expected)[:4]]
        assert page is not None
        assert page.alerts_total == N + 1
    finally:
        await store.close()
