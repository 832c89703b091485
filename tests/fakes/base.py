"""What every fake tracker shares: a ticket table, a request log and fault injection.

A fake is a small ``web.Application`` that behaves like the vendor's API for the calls
triaged makes (paths, methods, auth, status codes, bodies). Tests reach its state
through ``app[FAKE]`` and inject faults that apply to the next matching requests:

    fake.fail(429, times=2, headers={"Retry-After": "1"})
    fake.delay(3.0)                       # answer slower than the client's timeout
    fake.commit_then_hang(5.0)            # apply the request, then answer too late
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    """One injected misbehaviour, applied to up to ``times`` requests matching ``method``."""

    kind: str  # "status" | "delay" | "commit_then_hang"
    times: int
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    seconds: float = 0.0
    method: str | None = None


@dataclass
class Ticket:
    """A remote ticket as the fake holds it, in a vendor-neutral view for contract tests."""

    key: str
    title: str
    status: str = "open"  # open | acknowledged | resolved
    priority: str | None = None
    body: Any = None
    comments: list[str] = field(default_factory=list)
    marker: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeTracker:
    """State and faults of one fake tracker."""

    tickets: dict[str, Ticket] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    next_id: int = 1

    def new_key(self, prefix: str = "") -> str:
        """The next ticket id."""
        key = f"{prefix}{self.next_id}"
        self.next_id += 1
        return key

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (without applying them)."""
        self.faults.append(Fault("status", times, status, headers or {}, body, method=method))

    def delay(self, seconds: float, *, times: int = 1, method: str | None = None) -> None:
        """Wait ``seconds`` before handling the next ``times`` requests."""
        self.faults.append(Fault("delay", times, seconds=seconds, method=method))

    def commit_then_hang(self, seconds: float, *, times: int = 1, method: str | None = None) -> None:
        """Apply the next requests, then hold the answer for ``seconds`` (client times out)."""
        self.faults.append(Fault("commit_then_hang", times, seconds=seconds, method=method))

    def by_marker(self, marker: str) -> list[Ticket]:
        """Tickets carrying a triaged marker."""
        return [t for t in self.tickets.values() if t.marker == marker]

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.method is None or fault.method == method:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None


FAKE = web.AppKey("fake", FakeTracker)


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log every request, then apply the next injected fault, if any."""
    fake = request.app[FAKE]
    body = await request.read()
    fake.requests.append((request.method, request.path_qs, dict(request.headers), body))
    fault = fake._take_fault(request.method)
    if fault is not None and fault.kind == "status":
        payload = fault.body if fault.body is not None else {"error": f"injected {fault.status}"}
        return web.Response(
            status=fault.status,
            headers=fault.headers,
            body=orjson.dumps(payload),
            content_type="application/json",
        )
    if fault is not None and fault.kind == "delay":
        await asyncio.sleep(fault.seconds)
    response = await handler(request)
    if fault is not None and fault.kind == "commit_then_hang":
        await asyncio.sleep(fault.seconds)
    return response


def make_app(routes: Iterable[web.AbstractRouteDef], fake: FakeTracker | None = None) -> web.Application:
    """A fake tracker app with the shared middleware."""
    app = web.Application(middlewares=[fault_middleware])
    app[FAKE] = fake or FakeTracker()
    app.add_routes(routes)
    return app


def json_response(body: Any, status: int = 200) -> web.Response:
    """JSON answer like the vendors send."""
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def error(status: int, message: str) -> web.Response:
    """A vendor-neutral JSON error body."""
    return json_response({"error": message}, status)
