"""Stop background tasks for certain, even when a cancellation is swallowed.

Python 3.11's ``asyncio.wait_for`` loses an outer cancellation that arrives just as its
inner operation finishes (fixed in 3.12 only), and redis-py sends every command through
``wait_for`` once ``socket_timeout`` is set. A background loop cancelled at that moment
runs on, and a ``cancel(); await task`` shutdown waits for it forever: a Redis replica
that never exits on SIGTERM. So cancel again until the task is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

RECANCEL_EVERY = 0.1  # seconds between cancellations of a task that is still running


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and return once every one has finished; log (not raise) a crash."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_EVERY)
    for task in tasks:
        if not task.cancelled() and (err := task.exception()) is not None:
            log.error("background_task_crashed", task=task.get_name(), error=repr(err))
