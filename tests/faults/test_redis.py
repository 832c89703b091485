"""Redis faults: killed and restarted, slow, silent (black-holed), full (maxmemory, noeviction).

While the daemon cannot store it answers 503 with Retry-After; it recovers by itself
once Redis does; everything it answered 202 ends up processed, one incident per group.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from support import DaemonProcess, RedisServer, drained, group_body

from faults.common import Stream, check_all_processed, post, processed_alerts, record
from faults.proxy import TcpProxy


def redis_store(url: str, prefix: str, **extra: Any) -> dict[str, Any]:
    """The daemon's store section."""
    return {"store": {"kind": "redis", "url": url, "prefix": prefix, **extra}}


async def test_redis_killed_and_restarted(
    daemon_factory: Callable[..., DaemonProcess], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """kill -9 of Redis (AOF, fsync always) mid-stream, down 3s: 503s, then recovery, nothing lost."""
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        d = daemon_factory(redis_store(server.url, "kill", timeout="1s", connect_timeout="1s"))
        groups = 150
        stream = Stream(http, d, 3)
        tasks = stream.run(groups, pause=0.01)
        while stream.statuses[202] < 40:
            await asyncio.sleep(0.005)
        server.stop(sig=9)
        await asyncio.sleep(3)
        async with http.get(d.url + "/readyz") as resp:
            assert resp.status == 503
        server.start()
        stream.mark = t0 = time.monotonic()
        await asyncio.gather(*tasks)
        assert stream.statuses[503] > 0
        incidents, processed = await check_all_processed(http, d, stream, groups)
        assert stream.first_202_after is not None
        record(
            "Redis killed -9 and restarted",
            iterations=1,
            alerts_sent=stream.sent,
            alerts_accepted=stream.statuses[202] * stream.size,
            alerts_processed=processed,
            answered_503=stream.statuses[503],
            incidents_expected=groups,
            incidents_found=incidents,
            recover_s=round(stream.first_202_after - t0, 2),
            recover_note="Redis back -> first 202",
        )
    finally:
        server.stop()


async def test_redis_slow_then_silent_then_back(
    daemon_factory: Callable[..., DaemonProcess], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """50ms added each way: slower, all accepted. Black-holed: 503 within the timeout. Back: recovers."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    proxy = TcpProxy(server.port)
    await proxy.start()
    try:
        # In a thread: start() polls synchronously, and the proxy runs on this event loop.
        store = redis_store(proxy.url, "slow", timeout="1s", connect_timeout="1s")
        d = await asyncio.to_thread(daemon_factory, store)
        proxy.latency = 0.05
        slow = Stream(http, d, 3)
        t0 = time.monotonic()
        await asyncio.gather(*slow.run(40))
        slow_s = time.monotonic() - t0
        assert set(slow.statuses) == {202}
        proxy.latency = 0.0

        silent = Stream(http, d, 3)
        proxy.blackhole = True
        t0 = time.monotonic()
        status, retry_after = await post(http, d, group_body(1000, 3))
        refused_in = time.monotonic() - t0
        assert status == 503
        assert retry_after
        assert refused_in < 10, refused_in  # the client timeout (1s) bounds it, not the sender's
        tasks = [asyncio.create_task(silent.send(list(range(40, 100)), 0.01))]
        await asyncio.sleep(3)
        assert silent.statuses[202] == 0
        proxy.blackhole = False
        silent.mark = t0 = time.monotonic()
        await asyncio.gather(*tasks)
        assert silent.statuses[503] > 0
        await drained(http, d, timeout=60)
        incidents, processed = await processed_alerts(http, d)
        # Group 1000 was refused once and never resent: it may exist (stored before the timeout).
        assert incidents in (100, 101)
        assert processed >= (slow.statuses[202] + silent.statuses[202]) * 3
        assert silent.first_202_after is not None
        record(
            "Redis slow (50ms each way) then black-holed 3s",
            iterations=1,
            alerts_sent=slow.sent + silent.sent + 3,
            alerts_accepted=(slow.statuses[202] + silent.statuses[202]) * 3,
            alerts_processed=processed,
            answered_503=silent.statuses[503] + 1,
            incidents_expected=100,
            incidents_found=incidents,
            slow_phase_s=round(slow_s, 2),
            first_503_s=round(refused_in, 2),
            recover_s=round(silent.first_202_after - t0, 2),
            recover_note="proxy passes again -> first 202",
        )
    finally:
        await proxy.close()
        server.stop()


async def test_redis_full_answers_503_then_recovers(
    daemon_factory: Callable[..., DaemonProcess], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """maxmemory reached with noeviction: 503 with Retry-After, not 500; more memory: recovers alone."""
    server = RedisServer(tmp_path / "redis", extra=["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"])
    server.start()
    client = aioredis.Redis(host="127.0.0.1", port=server.port)
    try:
        d = daemon_factory(redis_store(server.url, "full"))
        stream = Stream(http, d, 40)
        tasks = stream.run(400, senders=4)
        t_full = time.monotonic()
        while stream.statuses[503] < 5:
            assert time.monotonic() - t_full < 60, stream.statuses
            await asyncio.sleep(0.05)
        async with http.get(d.url + "/readyz") as resp:
            assert resp.status in (200, 503)  # readiness may or may not notice a full Redis
        await asyncio.sleep(1)
        await client.config_set("maxmemory", "0")  # space returns
        stream.mark = t0 = time.monotonic()
        await asyncio.gather(*tasks)
        incidents, processed = await check_all_processed(http, d, stream, 400)
        assert stream.first_202_after is not None
        record(
            "Redis full (maxmemory 4mb, noeviction)",
            iterations=1,
            alerts_sent=stream.sent,
            alerts_accepted=stream.statuses[202] * stream.size,
            alerts_processed=processed,
            answered_503=stream.statuses[503],
            incidents_expected=400,
            incidents_found=incidents,
            recover_s=round(stream.first_202_after - t0, 2),
            recover_note="maxmemory raised -> first 202",
        )
    finally:
        await client.aclose()
        server.stop()
