"""When the cyclic garbage collector runs: young generations as it likes, the full
collection only on the daemon's schedule.

Why: everything a webhook or a batch allocates is freed by reference counting; the
cyclic collector only finds reference cycles, and under load it found none (``collected 0``
in every collection a probe saw). What it cost was pauses on the event loop: with
thresholds ``(2000, 10, 100)`` a gen-1 collection walked the survivors of ten young
collections (15-25 ms on the benchmark's pinned core), and a full one walked every
cached alert, incident and grouping (112 ms). At half the sustained rate those pauses
were the webhook's p99.

So gen-1 runs after 3 young collections (5-8 ms), the collector never starts a full
collection itself (its third threshold is out of reach), and the daemon runs one every
``FULL_EVERY_SECONDS`` between two pipeline batches. Cycles that die young are still
collected at once; those that die old wait for the next scheduled pass.
``triaged_gc_pause_seconds{generation}`` shows every pause.
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

THRESHOLDS = (2_000, 3, 1_000_000_000)
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


async def run_full_collections(lock: asyncio.Lock, every: float = FULL_EVERY_SECONDS) -> None:
    """Every ``every`` seconds, a full collection between two pipeline batches (``lock``
    is the pipeline's), so that it never lands inside a batch's slices."""
    while True:
        await asyncio.sleep(every)
        async with lock:
            t0 = time.perf_counter()
            found = gc.collect()
            log.info("gc_full_collection", seconds=round(time.perf_counter() - t0, 4), collected=found)
