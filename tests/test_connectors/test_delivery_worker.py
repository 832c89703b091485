"""The delivery worker with a real outbox (SQLite) and a fake tracker: no duplicate tickets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from fakes import github as fake_github
from fakes.base import FAKE, FakeTracker
from prometheus_client import CollectorRegistry

from connectors.base import IncidentRequest
from connectors.delivery import DeliveryMetrics, DeliveryPolicy, DeliveryWorker
from connectors.github import GitHubConnector
from daemon.models import OutboxJob
from daemon.store.codec import request_to_json
from daemon.store.sqlite import SqliteStore
from daemon.workset import WorkSet

REQ = IncidentRequest(incident_id="inc_01W", title="DiskFull", priority="P2", status="open")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A real outbox."""
    s = SqliteStore(tmp_path / "t.db", synchronous="normal")
    await s.open()
    yield s
    await s.close()


async def enqueue(store: SqliteStore, action: str, rev: int, req: IncidentRequest = REQ) -> None:
    """An outbox job, committed as the router would."""
    key = f"{req.incident_id}:gh:{action}:{rev}"

    def fn(ws: WorkSet) -> None:
        ws.enqueue(OutboxJob(key, req.incident_id, "gh", action, float(rev), request_to_json(req)))

    await store.update_incident(req.incident_id, fn)


async def test_open_that_timed_out_after_commit_is_found_not_duplicated(
    store: SqliteStore, aiohttp_server: Callable[..., Any]
) -> None:
    """The tracker creates the issue but answers too late; the retry finds it by marker.

    Then update and resolve apply to that one issue, and the outbox shows all three done.
    """
    server: TestServer = await aiohttp_server(fake_github.create_app())
    fake: FakeTracker = server.app[FAKE]
    config = GitHubConnector.Config.model_validate(
        {**fake_github.connector_config(str(server.make_url("")).rstrip("/")), "timeout": 0.5}
    )
    async with aiohttp.ClientSession() as session:
        worker = DeliveryWorker(
            store,
            {"gh": GitHubConnector(config, session)},
            DeliveryMetrics.build(CollectorRegistry()),
            DeliveryPolicy(base_delay=0.05, max_delay=0.1, lease=5),
        )
        fake.commit_then_hang(1.0, method="POST")
        await enqueue(store, "open", 1)
        await enqueue(store, "update", 2, replace(REQ, priority="P1", note="worse"))
        await enqueue(store, "resolve", 3)
        done: list[dict[str, Any]] = []

        async def all_done() -> None:
            done[:] = await store.list_deliveries("done", 10)

        def finished() -> bool:
            return len(done) == 3

        deadline = asyncio.get_running_loop().time() + 15
        while not finished():
            assert asyncio.get_running_loop().time() < deadline
            await worker.step()
            await all_done()
            await asyncio.sleep(0.05)
    # The first create was applied by the tracker but answered too late; the retry looked
    # the issue up by its marker label instead of creating a second one.
    lookups = [p for m, p, _, _ in fake.requests if m == "GET" and "labels=triaged-inc_01W" in p]
    assert lookups
    [ticket] = fake.by_marker(REQ.marker)
    assert ticket.status == "resolved"
    assert len(fake.tickets) == 1
    failed = await store.list_deliveries("pending", 10)
    assert failed == []
