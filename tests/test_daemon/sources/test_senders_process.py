"""The new senders against a real ``triaged serve`` process configured from a YAML file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from support import DaemonProcess, all_incidents, drained

from daemon.auth import sign

from .test_senders import vendor


async def test_real_daemon_signed_grafana_and_reports(
    daemon_factory: Callable[..., DaemonProcess], http: Any
) -> None:
    """Config file -> auth per source: signed Grafana PUT and a token-bearing report open incidents."""
    d = daemon_factory(
        {
            "sources": {
                "grafana": {
                    "hmac_secret": "graf-secret",
                    "hmac_timestamp_header": "X-Grafana-Alerting-Timestamp",
                },
                "report": {"token": "desk-token"},
            }
        }
    )
    raw = json.dumps(vendor("grafana/firing.json")).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Grafana-Alerting-Signature": sign(b"graf-secret", raw, ts),
        "X-Grafana-Alerting-Timestamp": ts,
    }
    async with http.put(d.url + "/api/v1/alerts/grafana", data=raw, headers=headers) as resp:
        assert resp.status == 202
    async with http.put(
        d.url + "/api/v1/alerts/grafana", data=raw, headers={**headers, "X-Grafana-Alerting-Timestamp": "1"}
    ) as resp:
        assert resp.status == 401
        assert await resp.json() == {"error": "unauthorized"}
    report = {"title": "VPN down", "service": "vpn", "impact": "high", "reporter": "bob"}
    async with http.post(d.url + "/api/v1/reports", json=report) as resp:
        assert resp.status == 401
    async with http.post(
        d.url + "/api/v1/reports", json=report, headers={"Authorization": "Bearer desk-token"}
    ) as resp:
        assert resp.status == 202
    await drained(http, d)
    incidents = await all_incidents(http, d)
    sources = sorted({a["source"] for i in incidents for a in i["alerts"]})
    assert sources == ["grafana", "report"]
    assert "graf-secret" not in d.logs()
    assert "desk-token" not in d.logs()
