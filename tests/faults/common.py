"""What the fault tests share: figures recording, polling, kill -9, fast delivery settings."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from fakes import webhook as fake_webhook
from fakes.base import FAKE, FakeTracker, Handler, fault_middleware
from support import ALERTMANAGER_URL, DaemonProcess, all_incidents, drained, group_body

# A file path to collect each fault's figures as JSON lines (report.py summarises them).
# Not TRIAGED_*: the daemon would read that as a config override and refuse to start.
RESULTS_ENV = "FAULTS_RESULTS_FILE"

# Retries fast enough for tests; the policy itself is unit-tested in test_connectors.
FAST_DELIVERY: dict[str, Any] = {
    "base_delay": "100ms",
    "max_delay": "1s",
    "breaker_failures": 3,
    "breaker_cooldown": "500ms",
    "lease": "3s",
}


def record(fault: str, **figures: Any) -> None:
    """Print one fault's figures (seen with -s or on failure) and append them to the results file."""
    line = json.dumps({"fault": fault, **figures}, sort_keys=True)
    print(line)
    path = os.environ.get(RESULTS_ENV)
    if path:
        with Path(path).open("a") as out:
            out.write(line + "\n")


async def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``cond`` until true; returns the seconds it took."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - t0


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    """Await ``check()`` until true; returns the seconds it took."""
    t0 = time.monotonic()
    while not await check():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - t0


def kill9(d: DaemonProcess) -> None:
    """SIGKILL: no drain, no cleanup, as a crash or the OOM killer."""
    assert d.proc is not None
    d.proc.kill()
    d.proc.wait()
    d.proc = None


async def post(http: aiohttp.ClientSession, d: DaemonProcess, body: bytes) -> tuple[int, str | None]:
    """Post an Alertmanager webhook; (status, Retry-After), status 0 when the connection failed."""
    try:
        async with http.post(
            d.url + ALERTMANAGER_URL,
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=30),
        ) as resp:
            await resp.read()
            return resp.status, resp.headers.get("Retry-After")
    except (aiohttp.ClientError, OSError, TimeoutError):
        return 0, None


async def deliveries(http: aiohttp.ClientSession, d: DaemonProcess, status: str) -> list[dict[str, Any]]:
    """The outbox jobs in ``status`` (pending or dead)."""
    async with http.get(d.url + "/api/v1/deliveries", params={"status": status, "limit": "1000"}) as resp:
        assert resp.status == 200, await resp.text()
        jobs: list[dict[str, Any]] = (await resp.json())["deliveries"]
        return jobs


APPLIED = web.AppKey("applied", list)


def ordered_webhook_app() -> web.Application:
    """The fake webhook receiver, also logging each request it applied as (marker, action).

    The log sits outside the fault middleware, so refused requests are not in it: it is
    exactly the sequence of effects the tracker saw, to check order and uniqueness.
    """

    @web.middleware
    async def applied(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.method == "POST" and response.status < 300:
            body = orjson.loads(await request.read())
            request.app[APPLIED].append((body["marker"], body["action"]))
        return response

    app = web.Application(middlewares=[applied, fault_middleware])
    app[FAKE] = FakeTracker()
    app[APPLIED] = []
    app.add_routes(fake_webhook.routes)
    return app


def per_marker(log: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The applied actions grouped by incident marker, in arrival order."""
    out: dict[str, list[str]] = {}
    for marker, action in log:
        out.setdefault(marker, []).append(action)
    return out


async def processed_alerts(http: aiohttp.ClientSession, d: DaemonProcess) -> tuple[int, int]:
    """(incidents, alert notifications counted in them): what the daemon holds after processing."""
    incidents = await all_incidents(http, d)
    return len(incidents), sum(a["count"] for i in incidents for a in i["alerts"])


class Stream:
    """Senders posting groups and retrying each until 202, as Alertmanager does; counts everything."""

    def __init__(self, http: aiohttp.ClientSession, d: DaemonProcess, size: int) -> None:
        self.http, self.d, self.size = http, d, size
        self.statuses: Counter[int] = Counter()
        self.retry_after_missing = 0
        self.first_202_after: float | None = None  # monotonic time of the first 202 after `mark`
        self.mark: float | None = None

    async def send(self, groups: list[int], pause: float = 0.0) -> None:
        """Post each group until it is accepted (bounded)."""
        for g in groups:
            for _ in range(2000):
                status, retry_after = await post(self.http, self.d, group_body(g, self.size))
                self.statuses[status] += 1
                if status == 202:
                    if self.mark is not None and self.first_202_after is None:
                        self.first_202_after = time.monotonic()
                    break
                assert status in (0, 503), status
                if status == 503 and not retry_after:
                    self.retry_after_missing += 1
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"group {g} never accepted")
            await asyncio.sleep(pause)

    def run(self, groups: int, senders: int = 4, pause: float = 0.0) -> list[asyncio.Task[None]]:
        """Start the senders."""
        batches = [list(range(i, groups, senders)) for i in range(senders)]
        return [asyncio.create_task(self.send(batch, pause)) for batch in batches]

    @property
    def sent(self) -> int:
        """Alerts posted, refused ones included."""
        return sum(self.statuses.values()) * self.size


async def check_all_processed(
    http: aiohttp.ClientSession, d: DaemonProcess, stream: Stream, groups: int
) -> tuple[int, int]:
    """Every group one incident with all its alerts; returns (incidents, alerts processed)."""
    await drained(http, d, timeout=60)
    incidents, processed = await processed_alerts(http, d)
    assert incidents == groups
    assert processed >= stream.statuses[202] * stream.size
    assert stream.retry_after_missing == 0
    return incidents, processed
