"""The SSRF guard: metadata addresses and triaged's own API are refused as tracker targets."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from support import free_port, triaged_executable, write_config

from connectors.http import send
from connectors.ssrf import TargetPolicy, TargetRefused, guarded_connector, url_refusal

OWN = ("127.0.0.1", 9795)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://169.254.170.2/v2/credentials",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
        "http://127.0.0.1:9795/api/v1/model/reload",
        "http://localhost:9795/api/v1/deliveries",
        "http://[::1]:9795/metrics",
        "http://0.0.0.0:9795/",
        "http://127.0.0.2:9795/",
        "http://2852039166/",  # 169.254.169.254 as one number
        "http://0xa9.254.169.254/",
        "http://127.1:8080/",
    ],
)
def test_refused_targets(url: str) -> None:
    """Metadata (v4, v6, mapped, legacy forms, by name) and the daemon's own port on loopback are refused."""
    assert url_refusal(url, TargetPolicy(own_listen=OWN)) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",  # a tracker on this machine, not triaged
        "https://jira.example.com/rest/api/2/issue",
        "http://10.1.2.3/api",  # self-hosted trackers live on private networks
        "https://[2001:db8::1]:9795/",
    ],
)
def test_allowed_targets(url: str) -> None:
    """Loopback on other ports, private networks and public hosts stay allowed."""
    assert url_refusal(url, TargetPolicy(own_listen=OWN)) is None


def test_allow_options() -> None:
    """allow_private_targets turns the guard off; allowed_targets opens one host, host:port or CIDR."""
    url = "http://169.254.169.254/"
    assert url_refusal(url, TargetPolicy.build(True, [], OWN)) is None
    assert url_refusal(url, TargetPolicy.build(False, ["169.254.169.254/32"], OWN)) is None
    assert url_refusal(url, TargetPolicy.build(False, ["169.254.169.254:80"], OWN)) is None
    assert url_refusal(url, TargetPolicy.build(False, ["169.254.169.254:81"], OWN)) is not None
    assert url_refusal("http://127.0.0.1:9795/", TargetPolicy.build(False, ["127.0.0.1"], OWN)) is None


async def test_send_refuses_before_connecting() -> None:
    """connectors.http.send refuses a metadata URL with a permanent error naming the action, not the URL."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(TargetRefused) as info:
            await send(
                session,
                "POST",
                "http://169.254.169.254/secret-path?token=abc",
                what="webhook open",
                timeout=2,
            )
    assert "webhook open" in str(info.value)
    assert "secret-path" not in str(info.value)
    assert "abc" not in str(info.value)


async def test_resolved_names_are_checked_at_connect_time(aiohttp_server: Callable[..., Any]) -> None:
    """A host name that resolves to the daemon's own listener is refused by the guarded resolver.

    ``localhost`` stands in for a DNS name re-pointed after the config was checked: the
    check happens on the addresses actually connected to.
    """
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    server = await aiohttp_server(app, host="127.0.0.1")
    # The "daemon" listens on server.port: a name resolving to it is refused...
    async with aiohttp.ClientSession(
        connector=guarded_connector(TargetPolicy(own_listen=("0.0.0.0", server.port)))
    ) as s:
        with pytest.raises(TargetRefused):
            await send(s, "POST", f"http://localhost:{server.port}/api/v1/model/reload", what="t", timeout=5)
    assert hits == []
    # ...while a tracker on another port of this machine is reached through the same guard.
    async with aiohttp.ClientSession(
        connector=guarded_connector(TargetPolicy(own_listen=("0.0.0.0", 1)))
    ) as s:
        answer = await send(s, "POST", f"http://localhost:{server.port}/hook", what="t", timeout=5, json={})
    assert answer.status == 200
    assert hits == ["/hook"]


def _check_config(tmp_path: Path, port: int, endpoint: str, **extra: Any) -> subprocess.CompletedProcess[str]:
    cfg = write_config(
        tmp_path / "c.yaml",
        {
            "listen": f"127.0.0.1:{port}",
            "store": {"path": str(tmp_path / "t.db")},
            "connectors": {"hooks": {"kind": "webhook", "endpoint": endpoint, "timeout": 1}},
            **extra,
        },
    )
    return subprocess.run(
        [triaged_executable(), "check-config", str(cfg)], capture_output=True, text=True, timeout=60
    )


def test_check_config_refuses_connector_urls(tmp_path: Path) -> None:
    """A webhook at the metadata service or at triaged's own port fails check-config, naming the key."""
    port = free_port()
    for endpoint in ("http://169.254.169.254/latest/", f"http://127.0.0.1:{port}/api/v1/model/reload"):
        result = _check_config(tmp_path, port, endpoint)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "connectors.hooks.endpoint: target refused by the SSRF guard" in result.stderr
        assert "Traceback" not in result.stderr
    # Allowed explicitly (the healthcheck then finds nothing on that loopback port: no SSRF refusal).
    allowed = _check_config(
        tmp_path, port, f"http://127.0.0.1:{port}/hook", outbound={"allowed_targets": [f"127.0.0.1:{port}"]}
    )
    assert "SSRF" not in allowed.stdout + allowed.stderr, allowed.stderr
    assert "OK (store sqlite" in allowed.stdout


def test_serve_refuses_a_connector_aimed_at_itself(tmp_path: Path) -> None:
    """serve stops before binding when a webhook points at its own API (exit 2, key named)."""
    port = free_port()
    cfg = write_config(
        tmp_path / "c.yaml",
        {
            "listen": f"127.0.0.1:{port}",
            "store": {"path": str(tmp_path / "t.db")},
            "connectors": {
                "hooks": {"kind": "webhook", "endpoint": f"http://localhost:{port}/api/v1/model/reload"}
            },
        },
    )
    result = subprocess.run(
        [triaged_executable(), "serve", "--config", str(cfg)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "connectors.hooks.endpoint: target refused by the SSRF guard" in result.stderr
    assert "triaged's own API" in result.stderr
