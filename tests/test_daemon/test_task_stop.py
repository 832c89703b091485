"""cancel_and_wait stops a loop even when one cancellation is lost, as Python 3.11's
asyncio.wait_for (used by redis-py for every write) loses one now and then."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from daemon.task_stop import cancel_and_wait


async def _loop_that_loses_one_cancel(iterations: list[int]) -> None:
    lost = False
    while True:
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            if lost:
                raise
            lost = True  # what wait_for does when its inner operation finishes first
        iterations.append(1)


async def test_a_loop_that_swallowed_a_cancellation_is_cancelled_again() -> None:
    iterations: list[int] = []
    task = asyncio.create_task(_loop_that_loses_one_cancel(iterations))
    await asyncio.sleep(0.05)
    # A plain cancel-and-await would never return here.
    await asyncio.wait_for(cancel_and_wait([task]), 5)
    assert task.cancelled()
    ran = len(iterations)
    await asyncio.sleep(0.05)
    assert len(iterations) == ran


async def test_a_crashed_task_is_logged_and_the_others_still_stopped() -> None:
    async def crash() -> None:
        raise RuntimeError("boom")

    crashed = asyncio.create_task(crash(), name="crasher")
    sleeper = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)
    with capture_logs() as logs:
        await cancel_and_wait([crashed, sleeper])
    assert sleeper.cancelled()
    [entry] = [e for e in logs if e["event"] == "background_task_crashed"]
    assert entry["task"] == "crasher"
    assert "boom" in entry["error"]


@pytest.mark.parametrize("tasks", [[], "done"])
async def test_nothing_to_stop_returns_at_once(tasks: object) -> None:
    finished = [asyncio.create_task(asyncio.sleep(0))] if tasks == "done" else []
    for task in finished:
        await task
    await asyncio.wait_for(cancel_and_wait(finished), 1)
