"""kill -9 of the daemon at random points of a webhook stream, on SQLite and on Redis.

Each iteration streams new groups from 6 concurrent senders (what is not answered 202
is resent later, as Alertmanager does), kills the daemon after a random delay,
and restarts it; tickets go to the fake GitHub meanwhile, so kills also land between a
tracker call and the outbox's record of it. At the end: every group is one incident
with all its alerts, every accepted alert was processed, every incident one issue.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from fakes import github as fake_github
from fakes.base import FAKE, FakeTracker
from support import DaemonProcess, RedisServer, all_incidents, drained, group_body

from faults.common import FAST_DELIVERY, deliveries, eventually, kill9, post, record

ITERATIONS = 10
SIZE = 3
MAX_GROUPS_PER_ITERATION = 40  # under the API's listing limit in total


@pytest.mark.slow
@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
async def test_kill_9_at_random_points_loses_and_doubles_nothing(
    store_kind: str,
    daemon_factory: Callable[..., DaemonProcess],
    aiohttp_server: Callable[..., Any],
    http: aiohttp.ClientSession,
    redis_server: RedisServer,
    redis_prefix: str,
) -> None:
    """Ten kills per store at random points; then nothing lost, nothing doubled, one issue each."""
    seed = int(os.environ.get("FAULT_SEED", str(random.randrange(1 << 30))))
    print(f"seed={seed} (FAULT_SEED={seed} replays it)")
    rng = random.Random(seed)
    server: TestServer = await aiohttp_server(fake_github.create_app())
    fake: FakeTracker = server.app[FAKE]
    extra: dict[str, Any] = {
        "connectors": {"gh": {"kind": "github", **fake_github.connector_config(str(server.make_url("")))}},
        "delivery": FAST_DELIVERY,
    }
    if store_kind == "redis":
        extra["store"] = {"kind": "redis", "url": redis_server.url, "prefix": redis_prefix}
    d = daemon_factory(extra)
    accepted: Counter[int] = Counter()
    sent: Counter[int] = Counter()
    restarts: list[float] = []
    next_group = 0
    mid_stream = 0  # kills that cut the webhook stream (the others hit the pipeline or deliveries)

    async def sender(cap: int) -> None:
        nonlocal next_group
        # New groups until the kill cuts the stream mid-request (or the cap ends it first:
        # the kill then lands in the pipeline or in a delivery).
        while d.proc is not None and next_group < cap:
            g, next_group = next_group, next_group + 1
            sent[g] += 1
            status, _ = await post(http, d, group_body(g, SIZE))
            if status == 202:
                accepted[g] += 1
            await asyncio.sleep(rng.uniform(0, 0.05))

    for it in range(ITERATIONS):
        tasks = [asyncio.create_task(sender((it + 1) * MAX_GROUPS_PER_ITERATION)) for _ in range(6)]
        await asyncio.sleep(rng.uniform(0.02, 0.6))  # the random kill point
        mid_stream += any(not t.done() for t in tasks)
        kill9(d)
        await asyncio.gather(*tasks)
        t0 = time.monotonic()
        d.start()
        restarts.append(time.monotonic() - t0)
    groups = next_group
    # The sender retries everything never acknowledged, and repeats a few acknowledged ones.
    for g in range(groups):
        if not accepted[g] or rng.random() < 0.1:
            sent[g] += 1
            status, _ = await post(http, d, group_body(g, SIZE))
            assert status == 202, f"seed={seed}"
            accepted[g] += 1
    await drained(http, d, timeout=60)

    async def tickets_done() -> bool:
        return len(fake.tickets) >= groups and not await deliveries(http, d, "pending")

    await eventually(tickets_done, 90, f"every incident has its issue (seed={seed})")
    incidents = await all_incidents(http, d)
    assert sorted(i["title"] for i in incidents) == sorted(
        f"Synthetic{g} (cluster=test)" for g in range(groups)
    ), f"seed={seed}"
    processed = 0
    for incident in incidents:
        g = int(incident["title"].split()[0].removeprefix("Synthetic"))
        assert incident["alert_count"] == SIZE, f"seed={seed} {incident['title']}"
        assert [e["kind"] for e in incident["timeline"]].count("opened") == 1, f"seed={seed}"
        for alert in incident["alerts"]:
            # Counted once per 202 at least, and at most once per attempt (a cut-off request
            # may have been stored before the sender gave up on it).
            assert accepted[g] <= alert["count"] <= sent[g], (f"seed={seed}", g, alert)
            processed += alert["count"]
    markers = Counter(t.marker for t in fake.tickets.values())
    assert len(fake.tickets) == groups, f"seed={seed}"
    assert set(markers.values()) == {1}, f"seed={seed} {markers}"
    assert await deliveries(http, d, "dead") == []
    record(
        f"kill -9 daemon ({store_kind})",
        iterations=ITERATIONS,
        kills_mid_stream=mid_stream,
        requests_cut=sum(sent.values()) - sum(accepted.values()),
        seed=seed,
        alerts_sent=sum(sent.values()) * SIZE,
        alerts_accepted=sum(accepted.values()) * SIZE,
        alerts_processed=processed,
        incidents_expected=groups,
        incidents_found=len(incidents),
        tickets_expected=groups,
        tickets_found=len(fake.tickets),
        recover_s=round(max(restarts), 2),
        recover_note="max restart-to-ready",
    )
