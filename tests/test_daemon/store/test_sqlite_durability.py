"""The embedded store's two files: the intake never waits for the pipeline, and an
entry is applied exactly once whatever is lost between the two files."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

from support import fixture_body

from daemon.metrics import build_metrics
from daemon.pipeline import Pipeline
from daemon.settings import Settings
from daemon.sources.alertmanager import parse
from daemon.store import codec
from daemon.store.sqlite import SqliteStore, intake_path

T0 = 1_800_000_000.0


def _notification(name: str, at: float = T0) -> object:
    return parse(fixture_body(name), at).notification


async def _open(path: Path) -> SqliteStore:
    store = SqliteStore(path, synchronous="full")
    await store.open()
    return store


def _delete_intake(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{intake_path(path)}{suffix}").unlink(missing_ok=True)


async def _drain(store: SqliteStore, settings: Settings) -> None:
    assert await Pipeline(store, settings, build_metrics()).drain(10) == 0


async def test_a_webhook_never_waits_for_the_state_files_write_lock(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Another writer holds the state file (as a long pipeline commit does): an append still
    commits at once, in the intake file, and is processed once the state file is free."""
    settings = make_settings()
    path = tmp_path / "s.db"
    store = await _open(path)
    try:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        await asyncio.wait_for(store.append(_notification("firing_grouped")), 2.0)  # type: ignore[arg-type]
        assert store.backlog() == 2
        blocker.execute("ROLLBACK")
        blocker.close()
        await _drain(store, settings)
        assert len(await store.list_incidents(None, 10)) == 1
    finally:
        await store.close()


async def test_an_applied_entry_left_in_the_intake_is_not_applied_again(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A crash after the batch's commit but before the intake's clean-up (simulated by putting
    the entry back) leaves the entry in the intake file: the applied mark skips it."""
    settings = make_settings()
    path = tmp_path / "s.db"
    store = await _open(path)
    await store.append(_notification("firing_grouped"))  # type: ignore[arg-type]
    await _drain(store, settings)
    [incident] = await store.list_incidents(None, 10)
    await store.close()
    with sqlite3.connect(intake_path(path)) as conn:
        assert conn.execute("SELECT count(*) FROM intake").fetchone() == (0,)  # cleaned up
        body = codec.encode_notification(_notification("firing_grouped"))  # type: ignore[arg-type]
        conn.execute("INSERT INTO intake (id, n_alerts, body) VALUES (1, 2, ?)", (body,))

    store = await _open(path)
    try:
        assert store.backlog() == 0
        detail = await store.get_incident(incident.id)
        assert detail is not None
        assert [a["count"] for a in detail.alerts] == [1, 1]
        with sqlite3.connect(intake_path(path)) as conn:
            assert conn.execute("SELECT count(*) FROM intake").fetchone() == (0,)
    finally:
        await store.close()


async def test_a_lost_intake_file_never_makes_new_entries_look_applied(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """An operator deletes the intake file (its ids would restart at 1, under the applied
    mark): new entries are still processed."""
    settings = make_settings()
    path = tmp_path / "s.db"
    store = await _open(path)
    for name in ("firing_grouped", "ungrouped", "ungrouped_2"):
        await store.append(_notification(name))  # type: ignore[arg-type]
    await _drain(store, settings)
    await store.close()
    _delete_intake(path)

    store = await _open(path)
    try:
        before = len(await store.list_incidents(None, 10))
        await store.append(_notification("ungrouped_3"))  # type: ignore[arg-type]
        assert store.backlog() == 1
        await _drain(store, settings)
        assert len(await store.list_incidents(None, 10)) == before + 1
    finally:
        await store.close()


async def test_a_schema_1_files_pending_intake_moves_and_is_processed(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Schema 1 kept the intake in the state file: entries pending there at the upgrade are
    moved to the intake file (same ids) and processed once."""
    settings = make_settings()
    path = tmp_path / "s.db"
    store = await _open(path)
    await store.close()
    _delete_intake(path)
    body = codec.encode_notification(_notification("firing_grouped"))  # type: ignore[arg-type]
    with sqlite3.connect(path) as conn:  # schema 1's layout, with one entry pending
        conn.execute("DROP TABLE intake_applied")
        conn.execute(
            "CREATE TABLE intake (id INTEGER PRIMARY KEY AUTOINCREMENT, n_alerts INTEGER NOT NULL,"
            " body BLOB NOT NULL)"
        )
        conn.execute("INSERT INTO intake (id, n_alerts, body) VALUES (7, 2, ?)", (body,))
        conn.execute("PRAGMA user_version=1")

    store = await _open(path)
    try:
        assert store.backlog() == 2
        await _drain(store, settings)
        [incident] = await store.list_incidents(None, 10)
        assert incident.alert_count == 2
        await store.append(_notification("ungrouped"))  # type: ignore[arg-type]
        with sqlite3.connect(intake_path(path)) as conn:
            assert conn.execute("SELECT min(id) FROM intake").fetchone()[0] > 7
        with sqlite3.connect(path) as conn:
            tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert "intake" not in tables
    finally:
        await store.close()


async def test_with_appends_and_the_pipeline_running_together_everything_is_counted_and_cleaned(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Appends racing the running pipeline: the backlog returns to zero (every alert counted
    once) and the applied entries are deleted from the intake file."""
    settings = make_settings()
    store = await _open(tmp_path / "s.db")
    try:
        pipeline = Pipeline(store, settings, build_metrics())
        stop = asyncio.Event()
        worker = asyncio.create_task(pipeline.run(stop))
        names = ("ungrouped", "ungrouped_2", "ungrouped_3", "firing_grouped")
        for round_ in range(40):
            await asyncio.gather(
                *(store.append(_notification(n, T0 + round_)) for n in names)  # type: ignore[arg-type]
            )
            await asyncio.sleep(0)
        for _ in range(200):
            if store.backlog() == 0:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await worker
        assert store.backlog() == 0
        with sqlite3.connect(intake_path(tmp_path / "s.db")) as conn:
            assert conn.execute("SELECT count(*) FROM intake").fetchone() == (0,)
    finally:
        await store.close()
