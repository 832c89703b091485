"""The embedded store keeps alert counters apart: a repeat rewrites one short row."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from support import fixture_body

from daemon.metrics import build_metrics
from daemon.pipeline import Pipeline
from daemon.settings import Settings
from daemon.sources.alertmanager import parse
from daemon.store.base import IntakeEntry
from daemon.store.sqlite import SCHEMA_VERSION, SqliteStore
from daemon.workset import WorkSet

T0 = 1_800_000_000.0


async def _feed(store: SqliteStore, settings: Settings, fixture: str, at: float) -> None:
    await store.append(parse(fixture_body(fixture), at).notification)
    assert await Pipeline(store, settings, build_metrics()).drain(10) == 0


async def _receive_count(store: SqliteStore, fp: str) -> int:
    async def read(ws: WorkSet, pending: Sequence[IntakeEntry]) -> int:
        return ws.alerts[fp].receive_count

    return await store.process_batch([], [fp], [], read)


def _documents(path: Path) -> list[bytes]:
    with sqlite3.connect(path) as conn:
        alerts = conn.execute("SELECT doc FROM alerts ORDER BY fingerprint").fetchall()
        members = conn.execute("SELECT doc FROM incident_alerts ORDER BY fingerprint").fetchall()
        return [doc for (doc,) in alerts + members]


async def test_a_repeat_leaves_the_documents_alone(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """The alert's and the membership's documents are written when the alert first fires and
    not by its repeats; its counters row is, and reads are exact (checked after a reopen)."""
    settings = make_settings()
    path = tmp_path / "c.db"
    store = SqliteStore(path, synchronous="normal")
    await store.open()
    await _feed(store, settings, "repeat_first", T0)
    written = _documents(path)
    for i in range(1, 4):
        await _feed(store, settings, "repeat_second", T0 + i)
    assert _documents(path) == written
    await store.close()
    with sqlite3.connect(path) as conn:
        [(fp, count, member_count)] = conn.execute(
            "SELECT fingerprint, receive_count, member_count FROM alert_counters"
        ).fetchall()
    assert (count, member_count) == (4, 4)
    store = SqliteStore(path, synchronous="normal")
    await store.open()
    try:
        assert await _receive_count(store, fp) == 4
    finally:
        await store.close()


async def test_a_schema_1_file_reads_its_documents_and_counts_on(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A file of schema 1 (no counters table: every write was whole) is upgraded in place:
    its documents' counters are read as they are, and repeats count on from them."""
    settings = make_settings()
    path = tmp_path / "v1.db"
    store = SqliteStore(path, synchronous="normal")
    await store.open()
    await _feed(store, settings, "repeat_first", T0)
    await store.close()
    with sqlite3.connect(path) as conn:  # what schema 1 wrote for the same notification
        conn.execute("DROP TABLE alert_counters")
        conn.execute("PRAGMA user_version=1")
        [(fp,)] = conn.execute("SELECT fingerprint FROM alerts").fetchall()

    store = SqliteStore(path, synchronous="normal")
    await store.open()
    try:
        assert await _receive_count(store, fp) == 1
        await _feed(store, settings, "repeat_second", T0 + 1)
    finally:
        await store.close()
    store = SqliteStore(path, synchronous="normal")
    await store.open()
    try:
        assert await _receive_count(store, fp) == 2
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        await store.close()


def _counter_rows(path: Path) -> list[tuple[int, int | None]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT receive_count, member_count FROM alert_counters").fetchall()


async def test_a_new_alert_has_no_counters_row_until_it_repeats_and_the_row_keeps_up(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A new alert's documents hold its counters, so it gets no row of its own (one write
    less per new alert). Its first repeat adds the row; a later change that rewrites the
    documents (it resolves) brings the row up to date rather than leaving it behind them:
    a reopened store reads the right count at every step."""
    settings = make_settings()
    path = tmp_path / "c.db"

    async def reopened_count() -> int:
        store = SqliteStore(path, synchronous="normal")
        await store.open()
        try:
            with sqlite3.connect(path) as conn:
                [(fp,)] = conn.execute("SELECT fingerprint FROM alerts").fetchall()
            return await _receive_count(store, fp)
        finally:
            await store.close()

    steps = [("repeat_first", [], 1), ("repeat_second", [(2, 2)], 2), ("repeat_second", [(3, 3)], 3)]
    steps.append(("repeat_resolved", [(4, 4)], 4))
    for i, (fixture, rows, count) in enumerate(steps):
        store = SqliteStore(path, synchronous="normal")
        await store.open()
        try:
            await _feed(store, settings, fixture, T0 + i)
        finally:
            await store.close()
        assert _counter_rows(path) == rows, fixture
        assert await reopened_count() == count, fixture
