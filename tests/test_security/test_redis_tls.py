"""TLS to Redis: a real redis-server with a TLS port, verified against the test's own CA."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import RedisServer, fixture_raw, free_port, settle
from test_security.certs import self_signed

from daemon.app import create_app
from daemon.settings import Settings

AM = "/api/v1/alerts/alertmanager"


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A redis-server answering TLS on its own port (plain port kept for the readiness probe)."""
    if shutil.which("redis-server") is None:  # pragma: no cover - make test installs it
        pytest.fail("redis-server is not installed (make test installs Debian's)")
    cert, key = self_signed(tmp_path, "redis")
    port = free_port()
    server = RedisServer(
        tmp_path / "redis",
        extra=[
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(cert),
            "--tls-auth-clients",
            "no",
        ],
    )
    server.start()
    yield port, cert
    server.stop()


async def test_rediss_with_a_ca_file_works_and_verification_is_on(
    tls_redis: tuple[int, Path], aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    """rediss:// with ssl_ca_certs stores and processes alerts; without that CA: 503, unverified."""
    port, cert = tls_redis
    raw = fixture_raw("firing_grouped")
    headers = {"Content-Type": "application/json"}
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    client = await aiohttp_client(
        create_app(make_settings(store={"kind": "redis", "url": url, "prefix": "tls"}))
    )
    assert (await client.post(AM, data=raw, headers=headers)).status == 202
    await settle(client.app)
    incidents = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert len(incidents) == 1
    await client.close()

    unverified = f"rediss://127.0.0.1:{port}/0"  # the system CAs do not know the test's certificate
    settings = make_settings(store={"kind": "redis", "url": unverified, "prefix": "tls2", "timeout": "2s"})
    client = await aiohttp_client(create_app(settings))
    resp = await client.post(AM, data=raw, headers=headers)
    assert resp.status == 503
    assert "Retry-After" in resp.headers
