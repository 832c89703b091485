"""Real process restarts: SIGTERM and kill -9 between and during posts lose and double nothing."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections.abc import Callable

import aiohttp
from support import DaemonProcess, all_incidents, drained, fixture_raw, group_body, post_raw


async def test_sigterm_restart_between_posts(
    daemon_factory: Callable[..., DaemonProcess], http: aiohttp.ClientSession
) -> None:
    """The grouped sequence split across a graceful restart still ends in one resolved incident."""
    d = daemon_factory()
    for name in ("firing_grouped", "firing_grouped_update"):
        assert await post_raw(http, d, fixture_raw(name)) == 202
    await drained(http, d)
    assert d.stop(signal.SIGTERM) == 0
    assert '"event": "pipeline_stopped"' in d.logs()
    d.start()
    for name in ("firing_grouped_update", "firing_grouped_partially_resolved", "resolved_grouped"):
        assert await post_raw(http, d, fixture_raw(name)) == 202
    await drained(http, d)
    [incident] = await all_incidents(http, d)
    assert incident["status"] == "resolved"
    assert {a["fingerprint"]: a["count"] for a in incident["alerts"]} == {
        "06359bc0f254a8a0": 4,
        "7844368f6479aefd": 5,
        "8766fffc53438e9f": 4,
    }
    assert [e["kind"] for e in incident["timeline"]].count("opened") == 1


async def test_kill_9_mid_stream_loses_and_doubles_nothing(
    daemon_factory: Callable[..., DaemonProcess], http: aiohttp.ClientSession
) -> None:
    """kill -9 at random points while webhooks stream in; senders retry what was not answered 202.

    After the last restart every group is exactly one incident holding exactly its alerts,
    although some webhooks were stored but never answered (the sender retried them) and
    some were answered and then re-sent anyway.
    """
    rng = random.Random(20261126)
    groups, size = 400, 5
    d = daemon_factory()
    acked: set[int] = set()
    refused = 0
    for _round in range(3):
        pending = [g for g in range(groups) if g not in acked]
        rng.shuffle(pending)

        async def sender(batch: list[int]) -> None:
            nonlocal refused
            for g in batch:
                if await post_raw(http, d, group_body(g, size)) == 202:
                    acked.add(g)
                else:
                    refused += 1

        tasks = [asyncio.create_task(sender(pending[i::8])) for i in range(8)]
        # Kill after a random number of answered webhooks, while the others are in flight.
        target = len(acked) + rng.randint(10, 90)
        deadline = time.monotonic() + 20
        while len(acked) < target and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        assert d.proc is not None
        d.proc.kill()  # SIGKILL: no drain, no cleanup
        d.proc.wait()
        d.proc = None
        await asyncio.gather(*tasks)
        d.start()
    # The kills really landed mid-stream: some posts were cut off, some were answered.
    assert refused > 0
    assert acked
    # The sender retries everything not acknowledged, and repeats some acknowledged ones.
    for g in range(groups):
        if g not in acked or rng.random() < 0.2:
            assert await post_raw(http, d, group_body(g, size)) == 202
    await drained(http, d)
    incidents = await all_incidents(http, d)
    titles = sorted(i["title"] for i in incidents)
    assert titles == sorted(f"Synthetic{g} (cluster=test)" for g in range(groups))
    for incident in incidents:
        assert incident["alert_count"] == size
        assert len(incident["alerts"]) == size
        assert [e["kind"] for e in incident["timeline"]].count("opened") == 1


async def test_sigterm_drains_the_intake(
    daemon_factory: Callable[..., DaemonProcess], http: aiohttp.ClientSession
) -> None:
    """SIGTERM right after a burst: the daemon exits 0 having processed everything accepted."""
    d = daemon_factory()
    statuses = await asyncio.gather(*(post_raw(http, d, group_body(g, 20)) for g in range(60)))
    assert statuses == [202] * 60
    assert d.stop(signal.SIGTERM) == 0
    stopped = [json.loads(line) for line in d.logs().splitlines() if '"pipeline_stopped"' in line]
    assert stopped[-1]["backlog"] == 0
    d.start()
    incidents = await all_incidents(http, d)
    assert len(incidents) == 60
    assert {i["alert_count"] for i in incidents} == {20}
