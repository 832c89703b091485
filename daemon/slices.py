"""Long synchronous work on the event loop, cut into slices: webhooks are answered between them.

Why: the daemon is one event loop. A batch's work (dedupe, correlation, decoding and
encoding its states) runs for tens of milliseconds, and a webhook that arrives meanwhile
waits for all of it: at half the sustained rate, those waits were the webhooks' p99.
A loop that calls ``pause`` after each item lets the event loop run once about every
``SLICE_SECONDS``: a few microseconds an item when there is nothing to do.
"""

from __future__ import annotations

import asyncio
import time

# About one slice of work between two turns of the event loop.
SLICE_SECONDS = 0.004


class Slicer:
    """Times one piece of work; ``pause`` yields to the event loop once a slice is used up."""

    __slots__ = ("_start", "seconds")

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = SLICE_SECONDS if seconds is None else seconds
        self._start: float | None = time.perf_counter()

    def due(self) -> bool:
        """Whether this slice is used up; a generator yields on True and its caller lets
        the loop run. The next slice starts at the next call, after the loop's turn, so
        time spent elsewhere meanwhile never counts against it."""
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        if now - self._start < self.seconds:
            return False
        self._start = None
        return True

    async def pause(self) -> None:
        """Let the event loop run if this slice is used up."""
        if self.due():
            await asyncio.sleep(0)
