"""One canonical JSON log line per incident transition, with the incident id, after the commit."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from support import DaemonProcess, all_incidents, drained


async def test_opened_and_resolved_are_each_one_json_line(
    daemon_factory: Callable[..., DaemonProcess], http: Any
) -> None:
    d = daemon_factory()
    labels = {"alertname": "DiskFull", "cluster": "c1", "severity": "critical"}
    for status in ("firing", "resolved"):
        body = {"alerts": [{"status": status, "labels": labels, "startsAt": "2026-11-27T04:00:00Z"}]}
        async with http.post(d.url + "/api/v1/alerts/alertmanager", json=body) as resp:
            assert resp.status == 202
        await drained(http, d)
    [incident] = await all_incidents(http, d)
    lines = [json.loads(x) for x in d.logs().splitlines() if x.startswith("{")]
    opened = [x for x in lines if x["event"] == "incident_opened"]
    resolved = [x for x in lines if x["event"] == "incident_resolved"]
    assert [x["incident"] for x in opened] == [incident["id"]]
    assert [x["incident"] for x in resolved] == [incident["id"]]
    assert opened[0]["priority"] == incident["priority"]
    assert "all 1 alerts resolved" in resolved[0]["reason"]
