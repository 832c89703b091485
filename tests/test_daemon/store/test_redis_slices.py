"""A Redis batch lets the event loop run while it decodes and encodes its alerts' states.

Why it matters: webhooks are answered on the same event loop; a batch of a thousand
states decoded or encoded in one go held them for 10-20 ms (daemon/slices.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from support import RedisServer, group_body

from daemon import slices
from daemon.metrics import build_metrics
from daemon.pipeline import Pipeline
from daemon.settings import Settings
from daemon.sources.alertmanager import parse
from daemon.store import codec
from daemon.store.base import IntakeEntry
from daemon.store.redis_store import RedisStore
from daemon.workset import WorkSet

ALERTS = 300
AT = 1_800_000_000.0


async def test_a_batch_yields_to_the_event_loop_between_states_it_reads_and_writes(
    redis_server: RedisServer,
    redis_prefix: str,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(store={"kind": "redis", "url": redis_server.url, "prefix": redis_prefix})
    store = RedisStore(settings.store)  # type: ignore[arg-type]
    await store.open()
    try:
        pipeline = Pipeline(store, settings, build_metrics())
        body = json.loads(group_body(1, ALERTS))
        await store.append(parse(body, AT).notification)
        await pipeline.drain(10)  # 300 firing states stored
        for alert in body["alerts"]:
            alert["status"], alert["endsAt"] = "resolved", "2026-11-26T10:05:00Z"
        await store.append(parse(body, AT + 60).notification)
        entries = await store.take(1000)
        alerts = [a for e in entries for a in e.notification.alerts]
        keys = [pipeline.grouping_of(a).key for a in alerts]

        # Spies on the real codec: how many states were decoded / encoded when the loop ran.
        done = {"decoded": 0, "encoded": 0}
        for name, kind in (("decode_alert_state", "decoded"), ("encode_alert_state", "encoded")):
            monkeypatch.setattr(codec, name, _counting(getattr(codec, name), done, kind))
        seen: dict[str, set[int]] = {"decoded": set(), "encoded": set()}
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                await asyncio.sleep(0)
                for kind, n in done.items():
                    seen[kind].add(n)

        async def apply(ws: WorkSet, pending: Sequence[IntakeEntry]) -> None:
            pipeline.process(ws, [e.notification for e in pending])

        monkeypatch.setattr(slices, "SLICE_SECONDS", 0.0)  # every slice is used up at once
        task = asyncio.create_task(ticker())
        await store.process_batch(entries, [a.fingerprint for a in alerts], keys, apply)
        stop.set()
        await task
        incidents = await store.list_incidents(None, 10)
    finally:
        await store.close()
    # The loop ran between (nearly) every two states, not only before and after all of them.
    assert done["decoded"] >= ALERTS
    assert len(seen["decoded"] & set(range(1, ALERTS))) >= ALERTS - 10, "reading held the loop"
    assert done["encoded"] >= ALERTS
    assert len(seen["encoded"] & set(range(1, ALERTS))) >= ALERTS - 10, "writing held the loop"
    assert [i.status.value for i in incidents] == ["resolved"]


def _counting(fn: Callable[..., Any], done: dict[str, int], kind: str) -> Callable[..., Any]:
    def counted(*args: Any) -> Any:
        done[kind] += 1
        return fn(*args)

    return counted
