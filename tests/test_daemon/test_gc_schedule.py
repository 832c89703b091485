"""The cyclic collector's schedule: young collections on their own, full ones only when
the daemon asks, between pipeline batches (``daemon/gc_schedule.py``)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Histogram

from daemon import gc_schedule


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def tuned() -> Iterator[None]:
    gc.collect()
    previous = gc_schedule.tune()
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def test_the_collector_never_starts_a_full_collection_itself(tuned: None) -> None:
    """2.5 million surviving objects: with CPython's defaults (or the daemon's former
    2000/10/100) that makes several full collections; tuned, only young ones."""
    before = [s["collections"] for s in gc.get_stats()]
    kept = [[] for _ in range(2_500_000)]  # type: ignore[var-annotated]
    after = [s["collections"] for s in gc.get_stats()]
    del kept
    assert after[2] == before[2]
    assert after[0] + after[1] - before[0] - before[1] >= 1_000
    assert after[1] - before[1] >= 200  # gen 1 after every 3 young collections


async def test_a_scheduled_full_collection_frees_old_cycles_between_batches(tuned: None) -> None:
    registry = CollectorRegistry()
    pauses = Histogram("t_gc_pause_seconds", "pauses", ["generation"], registry=registry)
    callback = gc_schedule.observe_pauses(pauses)
    lock = asyncio.Lock()
    task: asyncio.Task[None] | None = None
    try:
        node = Node()
        alive = weakref.ref(node)
        gc.collect(1)  # it survives the young generations: now it is old
        del node
        gc.collect(1)
        assert alive() is not None, "an old cycle waits for a full collection"

        await lock.acquire()  # a pipeline batch is running
        task = asyncio.create_task(gc_schedule.run_full_collections(lock, every=0.01))
        await asyncio.sleep(0.2)
        assert alive() is not None, "no full collection inside a batch"
        lock.release()
        for _ in range(200):
            if alive() is None:
                break
            await asyncio.sleep(0.01)
        assert alive() is None
        assert registry.get_sample_value("t_gc_pause_seconds_count", {"generation": "2"}) >= 1
        assert registry.get_sample_value("t_gc_pause_seconds_count", {"generation": "1"}) >= 2
    finally:
        gc.callbacks.remove(callback)
        if task is not None:
            task.cancel()
