"""The baseline for ``benchmarks/ingest.py``: an aiohttp server that does the least a webhook receiver can.

It reads the body, parses it with orjson, and answers 202 ``{"accepted": N}``, on
uvloop like ``triaged serve``. Nothing is validated or stored. Whatever triaged
costs on top of this (validation, fingerprints, the durable SQLite group commit,
the pipeline sharing its core) is what the benchmark's daemon/no-op ratio shows;
the HTTP stack, the event loop, the loopback network and the load generator are
common to both and cancel out.

With ``--append FILE`` it is the *floor* of a durable receiver instead: each body,
as received, is appended to FILE and the answer waits for its ``fdatasync`` (bodies that
arrive meanwhile share the next one, as triaged's group commit does). ``--check`` adds
triaged's one-pass Alertmanager decode (``daemon/sources/alertmanager_decode.py``: every
type and limit checked). Nothing builds alerts, fingerprints or rows: what a receiver
that acknowledges only stored alerts cannot do without (``ingest.py --floor``).

Run: ``python benchmarks/noop_server.py --listen 127.0.0.1:PORT``. SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import uvloop
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.Response]]


async def accept(request: web.Request) -> web.Response:
    """Parse the webhook and count its alerts: the same work every receiver has to do at least."""
    return _accepted(_count(await request.read()))


def _count(raw: bytes) -> int:
    payload = orjson.loads(raw)
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    return len(alerts) if isinstance(alerts, list) else 0


def _accepted(n: int) -> web.Response:
    return web.Response(body=orjson.dumps({"accepted": n}), status=202, content_type="application/json")


class AppendLog:
    """Length-prefixed bodies appended to one file; callers wait for the ``fdatasync`` of theirs
    (triaged's ``GroupCommit``: bodies that arrive during a sync share the next one)."""

    def __init__(self, path: Path) -> None:
        from daemon.store.group_commit import GroupCommit

        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._commits: GroupCommit[bytes, None] = GroupCommit(self._commit)

    async def append(self, body: bytes) -> None:
        await self._commits.submit(body)

    async def _commit(self, bodies: list[bytes]) -> list[None]:
        data = b"".join(len(body).to_bytes(4, "little") + body for body in bodies)
        await asyncio.get_running_loop().run_in_executor(None, self._write, data)
        return [None] * len(bodies)

    def _write(self, data: bytes) -> None:
        os.write(self._fd, data)
        os.fdatasync(self._fd)


def durable_accept(path: Path, check: bool) -> Handler:
    """The floor: (checked) body appended and synced before the answer."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    log = AppendLog(path)
    count: Callable[[bytes], int] = _count
    if check:
        from daemon.settings import IntakeSettings
        from daemon.sources import alertmanager_decode

        limits = IntakeSettings()
        decoder: Any = alertmanager_decode.decoder_for(limits)
        count = lambda raw: len(decoder.decode(raw).alerts)  # noqa: E731

    async def handler(request: web.Request) -> web.Response:
        raw = await request.read()
        n = count(raw)
        await log.append(raw)
        return _accepted(n)

    return handler


async def ready(request: web.Request) -> web.Response:
    """Readiness, so the benchmark waits for both servers the same way."""
    return web.Response(body=b'{"status":"ready"}', content_type="application/json")


def build_app(handler: Handler = accept) -> web.Application:
    """Same route and body limit as triaged (1 MiB default plus slack), no middleware."""
    app = web.Application(client_max_size=1024 * 1024 + 1024)
    app.router.add_post("/api/v1/alerts/{source}", handler)
    app.router.add_get("/readyz", ready)
    return app


def main() -> None:
    """Serve until SIGTERM (aiohttp's run_app turns it into a clean shutdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9796", help="HOST:PORT (loopback only)")
    parser.add_argument("--append", type=Path, metavar="FILE", help="append each body to FILE, synced")
    parser.add_argument("--check", action="store_true", help="with --append: triaged's one-pass decode first")
    args = parser.parse_args()
    if args.check and args.append is None:
        parser.error("--check needs --append")
    host, _, port = args.listen.rpartition(":")
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    web.run_app(
        build_app(durable_accept(args.append, args.check) if args.append else accept),
        host=host,
        port=int(port),
        access_log=None,
        print=lambda *_: None,
        loop=loop,
        shutdown_timeout=5.0,
    )


if __name__ == "__main__":
    main()
