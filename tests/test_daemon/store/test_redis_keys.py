"""Redis specifics: one prefix for every key, TTLs on what can expire, trimming only what is acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from support import RedisServer, fixture_body

from daemon.errors import StoreUnavailable
from daemon.metrics import build_metrics
from daemon.pipeline import Pipeline
from daemon.settings import Settings
from daemon.sources.alertmanager import parse
from daemon.store.redis_store import RedisStore


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A redis-server of this test alone, so every key in it is ours."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def test_keys_prefix_and_ttls(own_redis: RedisServer, make_settings: Callable[..., Settings]) -> None:
    """Every key starts with the prefix; a resolved incident's keys and its alerts expire."""
    settings = make_settings(
        store={"kind": "redis", "url": own_redis.url, "prefix": "pfx", "retention": "1h"}
    )
    store = RedisStore(settings.store)  # type: ignore[arg-type]
    await store.open()
    raw: Any = aioredis.from_url(own_redis.url)
    try:
        pipeline = Pipeline(store, settings, build_metrics())
        for name in ("repeat_first", "repeat_resolved", "firing_grouped"):
            await store.append(parse(fixture_body(name), 1_800_000_000.0).notification)
            await pipeline.drain(10)
        keys = sorted(k.decode() for k in await raw.keys("*"))
        assert keys
        assert all(k.startswith("pfx:") for k in keys), keys
        resolved, open_ = None, None
        for incident in await store.list_incidents(None, 10):
            if incident.status.value == "resolved":
                resolved = incident
            else:
                open_ = incident
        assert resolved is not None
        assert open_ is not None
        for key in (
            f"pfx:incident:{resolved.id}",
            f"pfx:members:{resolved.id}",
            f"pfx:events:{resolved.id}",
            "pfx:alert:cb63a59e9c2f97a3",
            "pfx:counters:cb63a59e9c2f97a3",
        ):
            assert 0 < await raw.ttl(key) <= 3600, key
        for key in (
            f"pfx:incident:{open_.id}",
            "pfx:alert:06359bc0f254a8a0",
            "pfx:counters:06359bc0f254a8a0",
        ):
            assert await raw.ttl(key) == -1, key  # open and firing: kept
        done_keys = [k for k in keys if k.startswith("pfx:done:")]
        assert done_keys
        for key in done_keys:
            assert await raw.ttl(key) > 0, key
    finally:
        await raw.aclose()
        await store.close()


async def test_trim_keeps_unacknowledged_entries(
    own_redis: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    """The intake is trimmed below the oldest unacknowledged entry, never above it."""
    settings = make_settings(store={"kind": "redis", "url": own_redis.url, "prefix": "trim"})
    store = RedisStore(settings.store)  # type: ignore[arg-type]
    await store.open()
    raw: Any = aioredis.from_url(own_redis.url)
    try:
        pipeline = Pipeline(store, settings, build_metrics())
        for _ in range(5):
            await store.append(parse(fixture_body("firing_grouped"), 1.0).notification)
        await pipeline.drain(10)
        await store.append(parse(fixture_body("truncated"), 2.0).notification)
        held = await store.take(1000)  # delivered, not acknowledged
        assert len(held) == 1
        await store._trim_intake()
        entries = await raw.xrange("trim:intake")
        assert [e[0].decode() for e in entries] == [held[0].entry_id]
        await store.append(parse(fixture_body("truncated"), 3.0).notification)
        await store._trim_intake()
        assert await raw.xlen("trim:intake") == 2  # the held one and the undelivered one
    finally:
        await raw.aclose()
        await store.close()


async def _exec_calls(raw: Any) -> int:
    stats = await raw.info("commandstats")
    return int(stats.get("cmdstat_exec", {}).get("calls", 0))


async def test_concurrent_appends_share_one_transaction(
    own_redis: RedisServer, make_settings: Callable[..., Settings]
) -> None:
    """Webhooks that arrive while an append is in flight are stored together in the next
    transaction (one MULTI/EXEC, not one each), each once, in arrival order, all counted."""
    settings = make_settings(store={"kind": "redis", "url": own_redis.url, "prefix": "gc"})
    store = RedisStore(settings.store)  # type: ignore[arg-type]
    await store.open()
    raw: Any = aioredis.from_url(own_redis.url)
    try:
        sent = [parse(fixture_body("firing_grouped"), 1_800_000_000.0 + i).notification for i in range(50)]
        before = await _exec_calls(raw)
        await asyncio.gather(*(store.append(n) for n in sent))
        transactions = await _exec_calls(raw) - before
        assert 1 <= transactions <= 5, transactions  # the first alone, the rest together
        assert await store.backlog_now() == sum(len(n.alerts) for n in sent)
        taken = await store.take(100_000)
        assert [e.notification.received_at for e in taken] == [n.received_at for n in sent]
    finally:
        await raw.aclose()
        await store.close()


async def test_appends_sharing_a_transaction_all_fail_when_redis_is_gone(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """When the shared transaction cannot be sent, every webhook waiting on it gets the
    store's error (a 503 at the edge), none waits forever; a later append works again."""
    server = RedisServer(tmp_path / "aof", appendonly=True)  # keeps the first append across the restart
    server.start()
    settings = make_settings(store={"kind": "redis", "url": server.url, "prefix": "gc", "timeout": 1.0})
    store = RedisStore(settings.store)  # type: ignore[arg-type]
    await store.open()
    try:
        note = parse(fixture_body("firing_grouped"), 1_800_000_000.0).notification
        await store.append(note)
        server.stop()
        results = await asyncio.wait_for(
            asyncio.gather(*(store.append(note) for _ in range(20)), return_exceptions=True), 30
        )
        assert all(isinstance(r, StoreUnavailable) for r in results), results
        server.start()
        await asyncio.wait_for(store.append(note), 30)
        assert await store.backlog_now() == 2 * len(note.alerts)
    finally:
        await store.close()
        server.stop()
