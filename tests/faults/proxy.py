"""A TCP proxy on loopback that can add latency or black-hole traffic (for Redis faults).

It sits between the daemon and redis-server so a test can make Redis slow or silent
without touching either process: ``latency`` delays every chunk in both directions,
``blackhole`` keeps connections open but forwards nothing (the packets "vanish", as
behind a dead switch), which only a client-side timeout can detect.
"""

from __future__ import annotations

import asyncio
import contextlib

from support import free_port


class TcpProxy:
    """Forward 127.0.0.1:<port> to ``target_port``; adjust ``latency`` and ``blackhole`` at any time."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.latency = 0.0
        self.blackhole = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """A redis:// URL through the proxy."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Listen on the proxy port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while chunk := await src.read(65536):
                if self.latency:
                    await asyncio.sleep(self.latency)
                while self.blackhole:  # hold the bytes: the peer sees silence, not a reset
                    await asyncio.sleep(0.05)
                dst.write(chunk)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(dst)
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()
