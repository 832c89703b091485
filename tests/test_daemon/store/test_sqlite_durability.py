"""The embedded store's fsync policy: what a 202 and a delivery rely on."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from support import fixture_body

from daemon.metrics import build_metrics
from daemon.pipeline import Pipeline
from daemon.settings import Settings
from daemon.sources.alertmanager import parse
from daemon.store.base import IntakeEntry
from daemon.store.sqlite import SqliteStore
from daemon.workset import WorkSet

FULL = 2  # PRAGMA synchronous reads back as a number


async def test_pipeline_commit_skips_its_fsync_and_leaves_full_for_everyone_else(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A pipeline batch commits at NORMAL (the next fsync covers it); every other commit on
    that connection (a delivery's claim, a person's action) is back at FULL, and the
    webhooks' own connection never leaves FULL."""
    settings = make_settings()
    store = SqliteStore(tmp_path / "d.db", synchronous="full")
    await store.open()
    try:
        pipeline = Pipeline(store, settings, build_metrics())
        await store.append(parse(fixture_body("firing_grouped"), 1_800_000_000.0).notification)
        seen: list[int] = []
        original = store._commit

        def spy(ws: WorkSet, entry_ids: list[int]) -> None:
            assert store._wconn is not None
            real_execute = store._wconn

            class Watch:
                def __getattr__(self, name: str) -> object:
                    return getattr(real_execute, name)

                def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
                    if sql == "COMMIT":
                        seen.append(real_execute.execute("PRAGMA synchronous").fetchone()[0])
                    return real_execute.execute(sql, *args)

            store._wconn = Watch()  # type: ignore[assignment]
            try:
                original(ws, entry_ids)
            finally:
                store._wconn = real_execute

        store._commit = spy  # type: ignore[method-assign]
        entries = await store.take(1000)

        async def apply(ws: WorkSet, pending: Sequence[IntakeEntry]) -> None:
            pipeline.process(ws, [e.notification for e in pending])

        fps = [a.fingerprint for e in entries for a in e.notification.alerts]
        await store.process_batch(entries, fps, [], apply)
        assert seen == [1]  # NORMAL for the batch
        assert store._wconn is not None
        assert store._iconn is not None
        assert store._wconn.execute("PRAGMA synchronous").fetchone()[0] == FULL
        assert store._iconn.execute("PRAGMA synchronous").fetchone()[0] == FULL
        assert store.backlog() == 0
    finally:
        await store.close()
