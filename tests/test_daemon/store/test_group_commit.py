"""GroupCommit: who shares a commit, and what each caller gets when it fails."""

from __future__ import annotations

import asyncio

import pytest

from daemon.store.group_commit import GroupCommit


async def test_callers_that_arrive_during_a_commit_share_the_next_one() -> None:
    """The first caller is committed alone and at once; those that arrive while it is in
    flight are committed together, each getting its own result, in order."""
    batches: list[list[int]] = []
    gate = asyncio.Event()

    async def commit(items: list[int]) -> list[int]:
        batches.append(items)
        if len(batches) == 1:
            await gate.wait()
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(commit)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(group.submit(i)) for i in range(2, 7)]
    await asyncio.sleep(0)
    gate.set()
    assert await first == 10
    assert await asyncio.gather(*rest) == [20, 30, 40, 50, 60]
    assert batches == [[1], [2, 3, 4, 5, 6]]


async def test_a_failed_commit_fails_each_of_its_callers_and_the_next_is_tried_afresh() -> None:
    """No caller waits forever on a commit that raised; a caller that gave up does not
    keep the others from their answers; the next submit is committed normally."""
    gate = asyncio.Event()
    calls = 0

    async def commit(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()
            return items
        if calls == 2:
            raise OSError("disk gone")
        return [s.upper() for s in items]

    group: GroupCommit[str, str] = GroupCommit(commit)
    head = asyncio.create_task(group.submit("head"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(group.submit(s)) for s in ("a", "b", "c")]
    await asyncio.sleep(0)
    waiting[1].cancel()  # this caller left (its client hung up)
    gate.set()
    assert await head == "head"
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert isinstance(results[0], OSError)
    assert isinstance(results[2], OSError)
    assert isinstance(results[1], asyncio.CancelledError)
    assert await asyncio.wait_for(group.submit("d"), 5) == "D"
    await group.finish()


@pytest.mark.parametrize("n", [1, 50])
async def test_finish_waits_for_the_commit_in_flight(n: int) -> None:
    """At close, the callers already submitted are answered before ``finish`` returns."""
    done: list[int] = []

    async def commit(items: list[int]) -> list[None]:
        await asyncio.sleep(0.01)
        done.extend(items)
        return [None] * len(items)

    group: GroupCommit[int, None] = GroupCommit(commit)
    tasks = [asyncio.create_task(group.submit(i)) for i in range(n)]
    await asyncio.sleep(0)
    await group.finish()
    assert sorted(done) == list(range(n))
    await asyncio.gather(*tasks)
