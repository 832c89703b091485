"""The baseline for ``benchmarks/ingest.py``: an aiohttp server that does the least a webhook receiver can.

It reads the body, parses it with orjson, and answers 202 ``{"accepted": N}``, on
uvloop like ``triaged serve``. Nothing is validated or stored. Whatever triaged
costs on top of this (validation, fingerprints, the durable SQLite group commit,
the pipeline sharing its core) is what the benchmark's daemon/no-op ratio shows;
the HTTP stack, the event loop, the loopback network and the load generator are
common to both and cancel out.

Run: ``python benchmarks/noop_server.py --listen 127.0.0.1:PORT``. SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
import uvloop
from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    """Parse the webhook and count its alerts: the same work every receiver has to do at least."""
    payload = orjson.loads(await request.read())
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    n = len(alerts) if isinstance(alerts, list) else 0
    return web.Response(body=orjson.dumps({"accepted": n}), status=202, content_type="application/json")


async def ready(request: web.Request) -> web.Response:
    """Readiness, so the benchmark waits for both servers the same way."""
    return web.Response(body=b'{"status":"ready"}', content_type="application/json")


def build_app() -> web.Application:
    """Same route and body limit as triaged (1 MiB default plus slack), no middleware."""
    app = web.Application(client_max_size=1024 * 1024 + 1024)
    app.router.add_post("/api/v1/alerts/{source}", accept)
    app.router.add_get("/readyz", ready)
    return app


def main() -> None:
    """Serve until SIGTERM (aiohttp's run_app turns it into a clean shutdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9796", help="HOST:PORT (loopback only)")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    web.run_app(
        build_app(),
        host=host,
        port=int(port),
        access_log=None,
        print=lambda *_: None,
        loop=loop,
        shutdown_timeout=5.0,
    )


if __name__ == "__main__":
    main()
