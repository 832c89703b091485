"""Fixtures the store suites share: an opened store of each kind, and an older SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from daemon.settings import Settings
from daemon.store import Store, build_store

T = TypeVar("T")
Downgraded = Callable[[Callable[[Store], Awaitable[Any]], str], Awaitable[tuple[Store, Any]]]


@pytest.fixture
async def store(make_settings: Callable[..., Settings], store_config: dict[str, Any]) -> AsyncIterator[Store]:
    """An opened store of each kind."""
    s = build_store(make_settings(store=store_config).store)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def redis_config(store_config: dict[str, Any]) -> dict[str, Any]:
    """The Redis half of ``store_config``; the SQLite half of a test using it is skipped."""
    if store_config["kind"] != "redis":
        pytest.skip("Redis only")
    return store_config


@pytest.fixture
def sqlite_downgraded(make_settings: Callable[..., Settings], tmp_path: Path) -> Downgraded:
    """``run(fill, sql)``: fill a SQLite store, close it, rewrite its file with ``sql`` (what an
    older schema left), and open it again; returns the reopened store (the caller closes it)
    and what ``fill`` returned."""

    async def run(fill: Callable[[Store], Awaitable[Any]], sql: str) -> tuple[Store, Any]:
        path = tmp_path / "older.db"
        config = {"kind": "sqlite", "path": str(path), "synchronous": "normal"}
        first = build_store(make_settings(store=config).store)
        await first.open()
        filled = await fill(first)
        await first.close()
        with sqlite3.connect(path) as conn:
            conn.executescript(sql)
        again = build_store(make_settings(store=config).store)
        await again.open()
        return again, filled

    return run
