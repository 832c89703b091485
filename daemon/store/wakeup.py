"""A signal a store raises when it commits work for a local worker, so the worker need not poll."""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """Set by a commit, waited for by one worker with a timeout (its poll, for what no commit signals).

    A set that comes while the worker is busy is kept until its next wait, which then
    returns at once: nothing committed between a worker's read and its wait is missed.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        """Call on the event loop, after the commit returned."""
        self._event.set()

    async def wait(self, timeout: float) -> None:
        """Return when set (then clear it), or after ``timeout`` seconds."""
        if not self._event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()
