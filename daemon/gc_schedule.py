"""When the cyclic garbage collector runs: young collections as it likes, older ones only
between two pipeline batches, on the daemon's schedule.

Why: everything a webhook or a batch allocates is freed by reference counting; the
cyclic collector only finds reference cycles, and under load it found none (``collected 0``
in every collection a probe saw). What it cost was pauses on the event loop. With
thresholds ``(2000, 10, 100)`` a gen-1 collection walked the survivors of ten young
collections (15-25 ms on the benchmark's pinned core), and a full one walked every
cached alert, incident and grouping (112 ms): at half the sustained rate those pauses
were the webhook's p99. Gen 1 after 3 young collections (session 7) still paused 12-16 ms:
inside a batch, gen 1 holds the whole batch's objects, all alive until its commit.

So the collector itself runs young collections only (gen 1 and gen 2 thresholds out of
reach). The daemon collects gen 1 every ``YOUNG_EVERY_SECONDS`` and everything every
``FULL_EVERY_SECONDS``, each between two pipeline batches, when the last batch's objects
are gone: gen-1 pauses of 3-5 ms instead of 12-16 (probe, paced phase of the ingest
benchmark). Cycles that die young are still collected within that time; those that die
old wait for the next full pass. ``triaged_gc_pause_seconds{generation}`` shows every pause.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

import structlog
from prometheus_client import Histogram

log = structlog.get_logger(__name__)

THRESHOLDS = (2_000, 1_000_000_000, 1_000_000_000)
YOUNG_EVERY_SECONDS = 0.1
FULL_EVERY_SECONDS = 300.0


def tune() -> tuple[int, int, int]:
    """Set the thresholds; returns the previous ones, to put back at shutdown."""
    previous = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    return previous


def observe_pauses(histogram: Histogram) -> Callable[[str, dict[str, Any]], None]:
    """Time every collection into ``histogram``; returns the callback (to remove it)."""
    started = [0.0]
    for generation in ("0", "1", "2"):
        histogram.labels(generation=generation)  # exported from the start, at zero

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            histogram.labels(generation=str(info["generation"])).observe(time.perf_counter() - started[0])

    gc.callbacks.append(callback)
    return callback


async def run_collections(
    lock: asyncio.Lock, young_every: float = YOUNG_EVERY_SECONDS, full_every: float = FULL_EVERY_SECONDS
) -> None:
    """Gen 1 every ``young_every`` seconds, and a full collection every ``full_every``,
    each between two pipeline batches (``lock`` is the pipeline's), so that none lands
    inside a batch's slices."""
    full_due = time.monotonic() + full_every
    while True:
        await asyncio.sleep(young_every)
        async with lock:
            if time.monotonic() < full_due:
                gc.collect(1)
                continue
            full_due = time.monotonic() + full_every
            t0 = time.perf_counter()
            found = gc.collect()
            log.info("gc_full_collection", seconds=round(time.perf_counter() - t0, 4), collected=found)
