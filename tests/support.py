"""Helpers shared by the tests: captured payloads, config files, real daemon processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from daemon.keys import STORE

FIXTURES = Path(__file__).parent / "test_daemon" / "sources" / "fixtures" / "alertmanager"
REPO = Path(__file__).resolve().parent.parent

# The grouping of the Alertmanager that produced the fixtures (see the fixture README),
# so that one Alertmanager group is one triaged incident in these tests.
AM_ROUTES_CONFIG: dict[str, Any] = {
    # Deterministic priorities from severity labels; the model has its own tests.
    "triage": {"model": "none"},
    "correlation": {
        # Plain Alertmanager grouping: these tests check grouping through crashes and
        # restarts; topology and storms have their own tests (test_correlation.py).
        "topology": {"enabled": False},
        "storm": {"enabled": False},
        "group_by": ["alertname", "cluster"],
        "routes": [
            {"matchers": ['team="storage"'], "group_by": ["..."]},
            {"matchers": ['team=~"batch|oncall"'], "group_by": ["alertname"]},
            {"matchers": ['prometheus="harness/prometheus"'], "group_by": ["prometheus"]},
        ],
    },
}


def fixture_body(name: str) -> dict[str, Any]:
    """A captured webhook body, parsed."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def fixture_raw(name: str) -> bytes:
    """A captured webhook body, byte for byte as Alertmanager sent it."""
    return (FIXTURES / "raw" / f"{name}.body.raw").read_bytes()


def webhook_names() -> list[str]:
    """Every captured webhook (not the API responses)."""
    return sorted(
        p.stem
        for p in FIXTURES.glob("*.json")
        if not p.stem.startswith("api_") and p.stem not in ("index", "timeline")
    )


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """Write a YAML config file and return its path."""
    path.write_text(yaml.safe_dump(data))
    return path


async def settle(app: web.Application, timeout: float = 10.0) -> None:
    """Wait until the pipeline has committed everything accepted so far."""
    deadline = time.monotonic() + timeout
    while await app[STORE].backlog_now() > 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"pipeline did not drain: backlog {app[STORE].backlog()}")
        await asyncio.sleep(0.01)


def free_port() -> int:
    """A port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def triaged_executable() -> str:
    """The installed console script next to this interpreter."""
    candidate = Path(sys.executable).parent / "triaged"
    return str(candidate) if candidate.exists() else shutil.which("triaged") or "triaged"


class DaemonProcess:
    """A real ``triaged serve`` process, restartable, with its stderr kept for failures."""

    def __init__(self, config: Path, port: int, log_path: Path) -> None:
        self.config, self.port, self.log_path = config, port, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 20.0, probe: str = "/readyz") -> None:
        """Start and wait until ``probe`` answers 200."""
        import urllib.request

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [
                    triaged_executable(),
                    "serve",
                    "--config",
                    str(self.config),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=log,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.url + probe, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready in {timeout}s:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def logs(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class RedisServer:
    """A real redis-server on a free loopback port, in its own directory; restartable."""

    def __init__(self, directory: Path, *, appendonly: bool = False, extra: list[str] | None = None):
        self.dir = directory
        self.port = free_port()
        self.appendonly = appendonly
        self.extra = extra or []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The redis:// URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until it answers PING."""
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
            "--protected-mode",
            "no",
            *self.extra,
        ]
        with (self.dir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError("redis-server did not start:\n" + (self.dir / "redis.log").read_text())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop (SIGKILL to simulate a crash)."""
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
            self.proc = None


ALERTMANAGER_URL = "/api/v1/alerts/alertmanager"


async def post_raw(http: aiohttp.ClientSession, d: DaemonProcess, body: bytes) -> int:
    """Post a body; return the status (0 when the connection failed)."""
    try:
        async with http.post(
            d.url + ALERTMANAGER_URL, data=body, headers={"Content-Type": "application/json"}
        ) as resp:
            await resp.read()
            return resp.status
    except (aiohttp.ClientError, OSError):
        return 0


async def drained(http: aiohttp.ClientSession, d: DaemonProcess, timeout: float = 20.0) -> None:
    """Wait until the daemon's pipeline has processed everything accepted."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        async with http.get(d.url + "/readyz") as resp:
            last = await resp.json()
            if last["backlog"] == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"backlog did not drain (last /readyz: {last})\n" + d.logs())


async def all_incidents(http: aiohttp.ClientSession, d: DaemonProcess) -> list[dict[str, Any]]:
    """Every incident with its detail."""
    async with http.get(d.url + "/api/v1/incidents", params={"limit": "1000"}) as resp:
        listing = (await resp.json())["incidents"]
    details = []
    for incident in listing:
        async with http.get(d.url + f"/api/v1/incidents/{incident['id']}") as resp:
            details.append(await resp.json())
    return details


def group_body(group: int, size: int) -> bytes:
    """An Alertmanager-shaped webhook: one group (alertname) of ``size`` firing alerts."""
    alerts = []
    for i in range(size):
        labels = {
            "alertname": f"Synthetic{group}",
            "cluster": "test",
            "instance": f"host-{i}",
            "severity": "warning",
        }
        alerts.append(
            {
                "status": "firing",
                "labels": labels,
                "annotations": {},
                "startsAt": "2026-11-26T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "",
            }
        )
    return json.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "r",
            "groupKey": f"g{group}",
            "truncatedAlerts": 0,
            "alerts": alerts,
        }
    ).encode()
