"""No secret in logs, error bodies or metrics: a real daemon driven through failures, then grepped."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support import ALERTMANAGER_URL, DaemonProcess, fixture_raw, free_port, triaged_executable, write_config

from daemon.auth import sign

READ = "S3CRET-read-token-7f1c2a9b"
ADMIN = "S3CRET-admin-token-0d4e8b6c"
SOURCE = "S3CRET-am-source-token-55aa"
HMAC = "S3CRET-grafana-hmac-91be"
HOOK_BEARER = "S3CRET-hook-bearer-3c3c"
HOOK_HMAC = "S3CRET-hook-hmac-4d4d"
SECRETS = (READ, ADMIN, SOURCE, HMAC, HOOK_BEARER, HOOK_HMAC)
JSON = {"Content-Type": "application/json"}


async def test_secrets_never_leave_the_daemon(
    daemon_factory: Callable[..., DaemonProcess], http: Any, tmp_path: Path
) -> None:
    """Wrong tokens, missing scopes, bad signatures and failing deliveries leak no secret anywhere."""
    dead_port = free_port()  # the webhook tracker is down: deliveries fail and are logged
    d = daemon_factory(
        {
            "logging": {"level": "debug", "format": "json"},
            "api": {
                "tokens": [
                    {"name": "reader", "token": READ, "scopes": ["read"]},
                    {"name": "ops", "token": ADMIN, "scopes": ["admin"]},
                ]
            },
            "sources": {"alertmanager": {"token": SOURCE}, "grafana": {"hmac_secret": HMAC}},
            "connectors": {
                "hooks": {
                    "kind": "webhook",
                    "endpoint": f"http://127.0.0.1:{dead_port}/hook",
                    "bearer_token": HOOK_BEARER,
                    "hmac_secret": HOOK_HMAC,
                    "timeout": 1,
                }
            },
            "delivery": {"base_delay": "50ms", "max_delay": "100ms", "max_attempts": 3},
        }
    )
    bodies: list[str] = []

    async def call(method: str, path: str, token: str | None = None, **kw: Any) -> int:
        headers = {**kw.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        async with http.request(method, d.url + path, headers=headers, **kw) as resp:
            bodies.append(await resp.text())
            bodies.append(str(resp.headers))
            return int(resp.status)

    raw = fixture_raw("firing_grouped")
    # Near misses of every secret, wrong scopes, wrong schemes.
    assert await call("GET", "/api/v1/incidents", READ[:-1]) == 401
    assert await call("GET", "/api/v1/incidents", SOURCE) == 401
    assert await call("POST", "/api/v1/model/reload", READ) == 403
    assert await call("POST", "/api/v1/deliveries/x/retry", READ) == 403
    assert await call("GET", "/metrics", headers={"Authorization": f"Basic {ADMIN}"}) == 401
    assert await call("POST", ALERTMANAGER_URL, SOURCE + "x", data=raw, headers=JSON) == 401
    bad_sig = {**JSON, "X-Grafana-Alerting-Signature": sign(b"wrong", raw)}
    assert await call("POST", "/api/v1/alerts/grafana", data=raw, headers=bad_sig) == 401
    # A good alert opens an incident whose delivery fails against the dead tracker.
    assert await call("POST", ALERTMANAGER_URL, SOURCE, data=raw, headers=JSON) == 202
    for _ in range(200):
        await call("GET", "/api/v1/deliveries?status=dead", READ)
        if '"dead"' in bodies[-2]:
            break
        await asyncio.sleep(0.1)
    assert '"dead"' in bodies[-2], d.logs()
    assert await call("GET", "/api/v1/deliveries", READ) == 200
    assert await call("GET", "/metrics", READ) == 200
    metrics = bodies[-2]
    assert 'triaged_webhook_requests_rejected_total{reason="unauthorized",source="alertmanager"}' in metrics

    logs = d.logs()
    # The failures were logged...
    assert "api_forbidden" in logs
    assert "api_unauthorized" in logs
    for secret in SECRETS:  # ...without any secret, nor in any answer or metric
        assert secret not in logs, secret
        assert all(secret not in b for b in bodies), secret


def test_config_errors_do_not_echo_secrets(tmp_path: Path) -> None:
    """A config that fails on secret-bearing keys names the keys, never the values."""
    cfg = write_config(
        tmp_path / "c.yaml",
        {
            "listen": f"127.0.0.1:{free_port()}",
            "store": {"path": str(tmp_path / "t.db")},
            "api": {
                "tokens": [
                    {"name": "a", "token": "S3CRET-tiny", "scopes": ["read"]},
                    {"name": "b", "token": READ, "scopes": ["superuser"]},
                    {"name": "c", "token": ADMIN, "token_file": "/x", "scopes": ["read"]},
                ]
            },
            "sources": {"alertmanager": {"token": [SOURCE], "basic_password": HMAC}},
            "connectors": {"hooks": {"kind": "webhook", "endpoint": "not a url", "hmac_secret": HOOK_HMAC}},
        },
    )
    result = subprocess.run(
        [triaged_executable(), "check-config", str(cfg)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    out = result.stdout + result.stderr
    for key in ("api.tokens.0", "api.tokens.1", "api.tokens.2", "sources.alertmanager", "connectors.hooks"):
        assert key in out, (key, out)
    for secret in (*SECRETS, "S3CRET-tiny"):
        assert secret not in out, (secret, out)
