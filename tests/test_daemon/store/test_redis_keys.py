"""Redis specifics: one prefix for every key, TTLs on what can expire, trimming only what is acknowledged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from support import RedisServer, fixture_body

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
        ):
            assert 0 < await raw.ttl(key) <= 3600, key
        for key in (f"pfx:incident:{open_.id}", "pfx:alert:06359bc0f254a8a0"):
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
