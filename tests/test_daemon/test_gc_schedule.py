"""The cyclic collector's schedule: young collections on their own, older ones only when
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


def test_the_collector_starts_young_collections_only(tuned: None) -> None:
    """2.5 million surviving objects: with CPython's defaults (or the daemon's former
    2000/10/100 and 2000/3/∞) that makes gen-1 and full collections; tuned, only young ones."""
    before = [s["collections"] for s in gc.get_stats()]
    kept = [[] for _ in range(2_500_000)]  # type: ignore[var-annotated]
    after = [s["collections"] for s in gc.get_stats()]
    del kept
    assert after[0] - before[0] >= 1_000
    assert after[1] == before[1]
    assert after[2] == before[2]


async def test_scheduled_collections_free_cycles_between_batches_only(tuned: None) -> None:
    """A cycle that outlived a young collection is freed by the gen-1 pass, an old one by
    the full pass; neither runs while a batch holds the pipeline's lock."""
    registry = CollectorRegistry()
    pauses = Histogram("t_gc_pause_seconds", "pauses", ["generation"], registry=registry)
    callback = gc_schedule.observe_pauses(pauses)
    lock = asyncio.Lock()
    task: asyncio.Task[None] | None = None
    try:
        old = Node()
        gc.collect(1)  # it survives gen 0 and 1: it is old now
        young = Node()
        gc.collect(0)  # it survives gen 0 only: it is in gen 1
        young_alive, old_alive = weakref.ref(young), weakref.ref(old)
        del young, old
        for _ in range(5):
            gc.collect(0)  # young collections alone free neither
        assert young_alive() is not None
        assert old_alive() is not None

        await lock.acquire()  # a pipeline batch is running
        task = asyncio.create_task(gc_schedule.run_collections(lock, young_every=0.01, full_every=0.3))
        await asyncio.sleep(0.2)
        assert young_alive() is not None, "no gen-1 collection inside a batch"
        lock.release()
        for _ in range(100):
            if young_alive() is None:
                break
            await asyncio.sleep(0.01)
        assert young_alive() is None
        assert old_alive() is not None, "an old cycle waits for the full pass"
        for _ in range(200):
            if old_alive() is None:
                break
            await asyncio.sleep(0.01)
        assert old_alive() is None
        assert registry.get_sample_value("t_gc_pause_seconds_count", {"generation": "1"}) >= 2
        assert registry.get_sample_value("t_gc_pause_seconds_count", {"generation": "2"}) >= 1
    finally:
        gc.callbacks.remove(callback)
        if task is not None:
            task.cancel()
