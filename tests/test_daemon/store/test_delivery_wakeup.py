"""A commit that enqueues deliveries wakes the delivery worker: no wait for its next poll.

An incident's first tracker call waited up to ``idle_poll`` (0.2 s) after its commit;
with the wake it goes out as soon as the worker runs. The worker here polls every 30 s,
so a call that arrives within seconds can only have come from the wake.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from connectors.base import IncidentRequest
from connectors.delivery import DeliveryMetrics, DeliveryPolicy, DeliveryWorker
from connectors.webhook import WebhookConfig, WebhookConnector
from daemon.models import OutboxJob
from daemon.store import Store
from daemon.store.codec import request_to_json
from daemon.workset import WorkSet

LONG_POLL = 30.0


async def enqueue(store: Store, incident_id: str, connector: str = "hook") -> None:
    """An ``open`` job committed as the router commits one (with the incident's work)."""
    req = IncidentRequest(incident_id=incident_id, title="DiskFull", priority="P2", status="open")

    def fn(ws: WorkSet) -> None:
        ws.enqueue(
            OutboxJob(
                f"{incident_id}:{connector}:open:1", incident_id, connector, "open", 1.0, request_to_json(req)
            )
        )

    await store.update_incident(incident_id, fn)


async def test_a_commit_with_deliveries_ends_the_wait(store: Store) -> None:
    waiting = asyncio.create_task(store.wait_for_deliveries(LONG_POLL))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await enqueue(store, "inc_wake")
    await asyncio.wait_for(waiting, 5.0)


async def test_a_commit_without_deliveries_does_not(store: Store) -> None:
    await store.update_incident("inc_none", lambda ws: None)
    t0 = time.monotonic()
    await store.wait_for_deliveries(0.3)
    assert time.monotonic() - t0 >= 0.25


async def test_a_commit_while_the_worker_was_busy_is_not_missed(store: Store) -> None:
    """Enqueued between the worker's claim and its wait: the next wait returns at once, once."""
    await enqueue(store, "inc_busy")
    await asyncio.wait_for(store.wait_for_deliveries(LONG_POLL), 5.0)
    t0 = time.monotonic()
    await store.wait_for_deliveries(0.3)
    assert time.monotonic() - t0 >= 0.25


async def test_a_dead_letter_retried_by_hand_wakes_the_worker(store: Store) -> None:
    await enqueue(store, "inc_dead")
    await store.wait_for_deliveries(0.0)
    [job] = await store.claim_deliveries(10, lease=60)
    await store.dead_letter(job, "gave up")
    [listed] = await store.list_deliveries("dead", 10)
    waiting = asyncio.create_task(store.wait_for_deliveries(LONG_POLL))
    await asyncio.sleep(0.05)
    assert await store.retry_dead_letter(str(listed["id"]))
    await asyncio.wait_for(waiting, 5.0)


async def test_the_worker_calls_the_tracker_without_waiting_for_its_poll(
    store: Store, aiohttp_server: Callable[..., Any]
) -> None:
    arrived: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await arrived.put((time.monotonic(), await request.json()))
        return web.json_response({"id": "T-1"})

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    config = WebhookConfig(endpoint=str(server.make_url("/hook")))
    async with aiohttp.ClientSession() as session:
        worker = DeliveryWorker(
            store,
            {"hook": WebhookConnector(config, session)},
            DeliveryMetrics.build(CollectorRegistry()),
            DeliveryPolicy(idle_poll=LONG_POLL),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            await asyncio.sleep(0.2)  # the worker found nothing and sleeps on its 30 s poll
            t0 = time.monotonic()
            await enqueue(store, "inc_page")
            at, body = await asyncio.wait_for(arrived.get(), 10.0)
            assert body["action"] == "open"
            assert body["incident_id"] == "inc_page"
            assert at - t0 < 10.0
        finally:
            stop.set()
            await asyncio.wait_for(task, 10.0)
