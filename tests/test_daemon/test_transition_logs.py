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


async def test_repeats_are_logged_only_at_debug(
    daemon_factory: Callable[..., DaemonProcess], http: Any
) -> None:
    """Every alert gets a line at info when it changes something; a repeat only at debug
    (the pipeline asks the logger once a batch instead of building the call per repeat)."""
    labels = {"alertname": "DiskFull", "cluster": "c1", "severity": "critical"}
    body = {"alerts": [{"status": "firing", "labels": labels, "startsAt": "2026-11-27T04:00:00Z"}]}
    outcomes: dict[str, list[str]] = {}
    for level in ("info", "debug"):
        d = daemon_factory({"logging": {"level": level, "format": "json"}}, name=level)
        for _ in range(2):
            async with http.post(d.url + "/api/v1/alerts/alertmanager", json=body) as resp:
                assert resp.status == 202
            await drained(http, d)
        lines = [json.loads(x) for x in d.logs().splitlines() if x.startswith("{")]
        outcomes[level] = [x["outcome"] for x in lines if x["event"] == "alert"]
    assert outcomes == {"info": ["first"], "debug": ["first", "repeat"]}
