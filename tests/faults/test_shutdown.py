"""Graceful shutdown under load: SIGTERM while webhooks stream in drains within pipeline.shutdown_timeout."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from collections.abc import Callable

import aiohttp
from support import DaemonProcess, all_incidents, group_body

from faults.common import post, record

SHUTDOWN_TIMEOUT = 10.0
SIZE = 20


async def test_sigterm_under_load_drains_in_time_and_loses_nothing(
    daemon_factory: Callable[..., DaemonProcess], http: aiohttp.ClientSession
) -> None:
    """8 senders stream 20-alert webhooks; SIGTERM mid-stream.

    The daemon exits 0 within the timeout, reports an empty backlog when it stops, and
    after a restart every webhook it answered 202 is an incident with all its alerts.
    """
    d = daemon_factory({"pipeline": {"shutdown_timeout": f"{SHUTDOWN_TIMEOUT:g}s"}})
    accepted: Counter[int] = Counter()
    statuses: Counter[int] = Counter()
    next_group = 0
    stopping = False

    async def sender() -> None:
        nonlocal next_group
        while not stopping:
            g, next_group = next_group, next_group + 1
            status, _ = await post(http, d, group_body(g, SIZE))
            statuses[status] += 1
            if status == 202:
                accepted[g] += 1
            else:
                await asyncio.sleep(0.05)  # refused or cut off: back off as a sender would

    tasks = [asyncio.create_task(sender()) for _ in range(8)]
    while sum(accepted.values()) < 150:
        await asyncio.sleep(0.01)
    assert d.proc is not None
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(d.proc.wait, SHUTDOWN_TIMEOUT + 15)
    took = time.monotonic() - t0
    stopping = True
    await asyncio.gather(*tasks)
    d.proc = None
    assert code == 0
    assert took < SHUTDOWN_TIMEOUT + 2, took  # the timeout, plus process teardown
    stopped = [json.loads(line) for line in d.logs().splitlines() if '"pipeline_stopped"' in line]
    assert stopped[-1]["backlog"] == 0
    d.start()
    incidents = await all_incidents(http, d)
    held = {int(i["title"].split()[0].removeprefix("Synthetic")): i for i in incidents}
    assert set(accepted) <= set(held)  # every 202 is there (a cut-off request may be too)
    processed = 0
    for g, incident in held.items():
        assert incident["alert_count"] == SIZE
        for alert in incident["alerts"]:
            assert alert["count"] >= accepted[g]
            processed += alert["count"]
    record(
        "SIGTERM under load (8 senders)",
        iterations=1,
        alerts_sent=sum(statuses.values()) * SIZE,
        alerts_accepted=sum(accepted.values()) * SIZE,
        alerts_processed=processed,
        refused_during_shutdown={str(s): n for s, n in statuses.items() if s != 202},
        incidents_expected=len(accepted),
        incidents_found=len(held),
        shutdown_s=round(took, 2),
        shutdown_timeout_s=SHUTDOWN_TIMEOUT,
        recover_s=round(took, 2),
        recover_note="SIGTERM -> exit 0 with backlog 0",
    )
