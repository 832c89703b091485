"""A tracker behind a private CA: ``ca_file`` on its connector, real TLS over loopback."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from fakes import webhook as fake_webhook
from fakes.base import FAKE
from support import settle, triaged_executable, write_config
from test_security.certs import self_signed

from daemon.app import create_app
from daemon.settings import Settings

ALERT = {
    "version": "4",
    "status": "firing",
    "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "cluster": "c1"}}],
}


async def test_a_private_ca_is_trusted_for_its_tracker_only(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    aiohttp_client: Callable[..., Awaitable[Any]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    private = await aiohttp_server(fake_webhook.create_app(), ssl=server_tls)
    other = await aiohttp_server(fake_webhook.create_app(), ssl=server_tls)
    connectors = {
        "private": {
            "kind": "webhook",
            **fake_webhook.connector_config(f"https://127.0.0.1:{private.port}"),
            "ca_file": str(cert),
        },
        "system": {"kind": "webhook", **fake_webhook.connector_config(f"https://127.0.0.1:{other.port}")},
    }
    settings = make_settings(
        connectors=connectors, routing={"team": "ops", "connectors": ["private", "system"]}
    )
    client = await aiohttp_client(create_app(settings))
    assert (await client.post("/api/v1/alerts/alertmanager", json=ALERT)).status == 202
    await settle(client.app)

    deadline = time.monotonic() + 15
    errors: list[str] = []
    while time.monotonic() < deadline:
        jobs = (await (await client.get("/api/v1/deliveries")).json())["deliveries"]
        errors = [j["last_error"] for j in jobs if j["connector"] == "system" and j["last_error"]]
        if private.app[FAKE].tickets and errors:
            break
        await asyncio.sleep(0.1)
    assert len(private.app[FAKE].tickets) == 1
    # The system's roots do not know the private CA: refused, and said so plainly.
    assert other.app[FAKE].tickets == {}
    assert errors, "the untrusted tracker's delivery has no error"
    assert "TLS certificate not trusted" in errors[0]
    assert "ca_file" in errors[0]


def test_a_bad_ca_file_is_a_config_error_naming_the_connector(tmp_path: Path) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    for path, expected in (
        (tmp_path / "missing.pem", "no such file"),
        (not_pem, "holds no PEM CA certificate"),
    ):
        connectors = {"jira": {"kind": "webhook", "endpoint": "https://jira.example", "ca_file": str(path)}}
        cfg = write_config(
            tmp_path / "c.yaml", {"store": {"path": str(tmp_path / "t.db")}, "connectors": connectors}
        )
        result = subprocess.run(
            [triaged_executable(), "check-config", str(cfg)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, (result.stdout, result.stderr)
        assert "connectors.jira.ca_file" in result.stderr, result.stderr
        assert expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
