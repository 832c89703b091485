"""Shared fixtures: in-process apps over loopback HTTP, and real daemon processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from support import AM_ROUTES_CONFIG, DaemonProcess, RedisServer, free_port, write_config

from daemon.app import create_app
from daemon.config_loader import load_settings
from daemon.settings import Settings


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on a fresh SQLite file, with the fixtures' grouping plus overrides."""

    def make(**overrides: Any) -> Settings:
        data: dict[str, Any] = {
            "store": {"path": str(tmp_path / "triaged.db"), "synchronous": "normal"},
            "logging": {"level": "warning", "format": "json"},
            **AM_ROUTES_CONFIG,
        }
        for key, value in overrides.items():
            if key != "store" and isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return load_settings(write_config(tmp_path / "triaged.yaml", data))

    return make


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Any],
    make_settings: Callable[..., Settings],
    store_config: dict[str, Any],
) -> TestClient[Any, Any]:
    """An in-process app over real loopback HTTP, once per store kind (the contract suite)."""
    app = create_app(make_settings(store=store_config))
    result: TestClient[Any, Any] = await aiohttp_client(app)
    return result


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """Start real daemon processes on fresh ports; all are killed at the end of the test."""
    started: list[DaemonProcess] = []

    def start(extra: dict[str, Any] | None = None, name: str = "d", probe: str = "/readyz") -> DaemonProcess:
        data = {
            "store": {"path": str(tmp_path / f"{name}.db"), "synchronous": "normal"},
            "logging": {"level": "info", "format": "json"},
            **AM_ROUTES_CONFIG,
            **(extra or {}),
        }
        config = write_config(tmp_path / f"{name}.yaml", data)
        d = DaemonProcess(config, free_port(), tmp_path / f"{name}.log")
        started.append(d)
        d.start(probe=probe)
        return d

    yield start
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


@pytest.fixture
async def http() -> AsyncIterator[Any]:
    """A plain aiohttp client session for talking to real processes."""
    import aiohttp

    # No keep-alive: these tests restart servers, and a pooled connection to a dead one fails.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield session


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; tests isolate themselves with their own key prefix."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix unique to this test."""
    import hashlib

    return "t" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]


@pytest.fixture(params=["sqlite", "redis"])
def store_config(request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: str) -> dict[str, Any]:
    """The ``store`` section for each store kind: every test using it runs on both."""
    if request.param == "sqlite":
        return {"kind": "sqlite", "path": str(tmp_path / "triaged.db"), "synchronous": "normal"}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"kind": "redis", "url": server.url, "prefix": redis_prefix, "claim_idle": "2s"}
