"""Group commit: callers that arrive while a commit is in flight share the next one.

Why: a webhook is answered only once its alerts are durable, and each commit has a fixed
cost (an fsync on SQLite; a MULTI/EXEC round trip on Redis). Under load, the webhooks that
arrive during one commit are written together by the next, so that cost is paid once per
commit instead of once per webhook, while a lone webhook is still written at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """``submit`` items; ``commit`` writes a batch of them and returns one result each, in order.

    When ``commit`` raises, every caller of that batch gets the exception: none waits
    forever, and the next batch is tried afresh.
    """

    def __init__(self, commit: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self._commit = commit
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Wait until ``item`` is committed (with whatever else was waiting); its result."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def finish(self) -> None:
        """Wait for the commits in flight (at close: their callers are answered first)."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._commit([item for item, _ in batch])
            except Exception as err:  # each waiter gets the error; a caller that left is skipped
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
