"""A real Alertmanager (Debian's prometheus-alertmanager) notifying triaged while triaged restarts.

Alertmanager's webhook goes through a recording relay in the test, so the test knows
exactly what Alertmanager sent (and what triaged answered). Alerts are pushed with
Alertmanager's own API; triaged is killed (-9) and stopped (SIGTERM) meanwhile, and
Alertmanager retries on its own. At the end every alert Alertmanager sent is in
triaged, in the state of Alertmanager's last notification for it, one incident per group.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from support import ALERTMANAGER_URL, DaemonProcess, all_incidents, drained, free_port

from faults.common import eventually, kill9, record, wait_until

AM = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(
    AM is None, reason="prometheus-alertmanager is not installed (`make test` installs Debian's)"
)
NAMES, INSTANCES = 6, 5


class Relay:
    """Receives Alertmanager's webhooks, records them, forwards them to triaged, answers as it did."""

    def __init__(self) -> None:
        self.target: DaemonProcess | None = None
        self.sent: list[dict[str, Any]] = []  # every notification body, in arrival order
        self.answered: list[tuple[dict[str, Any], int]] = []  # in answer order (requests overlap)
        self.timeline: list[str] = []  # "t+seconds group status", printed when the test fails
        self.t0 = time.monotonic()
        self.session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.Response:
        """Forward one notification."""
        raw = await request.read()
        body = orjson.loads(raw)
        self.sent.append(body)
        status = 502
        if self.target is not None and self.target.proc is not None and self.session is not None:
            try:
                async with self.session.post(
                    self.target.url + ALERTMANAGER_URL,
                    data=raw,
                    headers={"Content-Type": "application/json"},
                ) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, OSError):
                status = 502
        self.answered.append((body, status))
        group = ",".join(sorted({a["labels"]["alertname"] for a in body["alerts"]}))
        kinds = ",".join(sorted({a["status"] for a in body["alerts"]}))
        self.timeline.append(f"{time.monotonic() - self.t0:.1f}s {group} {kinds} {status}")
        return web.Response(status=status)

    def last_state(self) -> dict[str, str]:
        """Each alert's status in the last notification that triaged accepted (202)."""
        state: dict[str, str] = {}
        for body, status in self.answered:
            if status == 202:
                for alert in body["alerts"]:
                    state[alert["fingerprint"]] = alert["status"]
        return state


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Start Alertmanager on loopback with a webhook receiver URL; returns its base URL."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(webhook_url: str) -> str:
        assert AM is not None
        config = {
            "route": {
                "receiver": "triaged",
                "group_by": ["alertname", "cluster"],
                "group_wait": "1s",
                "group_interval": "2s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {"name": "triaged", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}
            ],
        }
        (tmp_path / "am.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        with (tmp_path / "am.log").open("ab") as log:
            proc = subprocess.Popen(
                [
                    AM,
                    f"--config.file={tmp_path / 'am.yml'}",
                    f"--storage.path={tmp_path / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=log,
            )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        import urllib.request

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "am.log").read_text()
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return url
            except OSError:
                time.sleep(0.1)
        raise AssertionError("alertmanager not ready:\n" + (tmp_path / "am.log").read_text())

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def am_alerts(names: range, ends_at: datetime | None = None) -> list[dict[str, Any]]:
    """Alerts for Alertmanager's API: NAMES alertnames x INSTANCES instances."""
    out = []
    for n in names:
        for i in range(INSTANCES):
            alert: dict[str, Any] = {
                "labels": {
                    "alertname": f"AmFault{n}",
                    "cluster": "am",
                    "instance": f"node-{i}:9100",
                    "severity": "critical" if i == 0 else "warning",
                },
                "annotations": {"summary": f"fault {n} on node-{i}"},
            }
            if ends_at is not None:
                alert["endsAt"] = ends_at.isoformat()
            out.append(alert)
    return out


async def push(http: aiohttp.ClientSession, am: str, alerts: list[dict[str, Any]]) -> None:
    """POST /api/v2/alerts."""
    async with http.post(am + "/api/v2/alerts", json=alerts) as resp:
        assert resp.status == 200, await resp.text()


async def test_alertmanager_to_triaged_through_restarts_nothing_missing(
    alertmanager: Callable[[str], str],
    daemon_factory: Callable[..., DaemonProcess],
    aiohttp_server: Callable[..., Any],
    http: aiohttp.ClientSession,
) -> None:
    """Fire, restart triaged (kill -9, then SIGTERM) while Alertmanager notifies, resolve half."""
    relay = Relay()
    app = web.Application()
    app.router.add_post("/hook", relay.handle)
    server: TestServer = await aiohttp_server(app)
    relay.session = http
    am = alertmanager(str(server.make_url("/hook")))
    d = daemon_factory()
    relay.target = d
    t_start = relay.t0 = time.monotonic()

    await push(http, am, am_alerts(range(0, NAMES // 2)))
    await asyncio.sleep(1.2)  # the first groups flush (group_wait 1s)
    kill9(d)
    await push(http, am, am_alerts(range(NAMES // 2, NAMES)))  # flushed while triaged is down
    await asyncio.sleep(2.5)
    await asyncio.to_thread(d.start)
    # Alertmanager never sends the resolution of a group it never delivered as firing (its
    # dedup stage), so resolve only once every group got through: else a group fired and
    # resolved while triaged was down is, rightly, never seen by triaged at all.
    await wait_until(lambda: len(relay.last_state()) == NAMES * INSTANCES, 40, "every group delivered")
    ended = datetime.now(UTC) - timedelta(seconds=1)
    await push(http, am, am_alerts(range(0, NAMES, 2), ends_at=ended))  # resolve every other group
    await asyncio.sleep(0.5)
    assert d.stop(signal.SIGTERM) == 0
    await asyncio.sleep(2.5)
    t_back = time.monotonic()
    await asyncio.to_thread(d.start)

    expected_resolved = {f"AmFault{n}" for n in range(0, NAMES, 2)}

    differences: list[str] = []

    async def converged() -> bool:
        await drained(http, d)
        incidents = await all_incidents(http, d)
        held = {a["fingerprint"]: a["status"] for i in incidents for a in i["alerts"]}
        sent = relay.last_state()
        resolved = {a["alertname"] for i in incidents for a in i["alerts"] if a["status"] == "resolved"}
        wrong = {fp: (status, held.get(fp)) for fp, status in sent.items() if held.get(fp) != status}
        differences[:] = [f"held {len(held)} of {NAMES * INSTANCES}", f"sent != held: {wrong}"]
        differences.append(f"resolved names {sorted(resolved)}")
        return len(held) == NAMES * INSTANCES and not wrong and resolved == expected_resolved

    try:
        await eventually(converged, 60, "triaged holds what Alertmanager sent")
    except AssertionError as e:
        raise AssertionError(f"{e}; last check: {'; '.join(differences)}; relay: {relay.timeline}") from None
    recovered = time.monotonic() - t_back
    incidents = await all_incidents(http, d)
    assert sorted(i["title"] for i in incidents) == sorted(f"AmFault{n} (cluster=am)" for n in range(NAMES))
    held = {a["fingerprint"] for i in incidents for a in i["alerts"]}
    every_sent = {a["fingerprint"] for body in relay.sent for a in body["alerts"]}
    assert every_sent == held  # nothing missing, nothing invented; fingerprints are Alertmanager's
    for incident in incidents:
        assert [e["kind"] for e in incident["timeline"]].count("opened") == 1
        name = incident["title"].split()[0]
        assert incident["status"] == ("resolved" if name in expected_resolved else "open"), incident["title"]
    refused = sum(1 for _, s in relay.answered if s != 202)
    assert refused > 0  # the restarts really cut notifications, which Alertmanager retried
    alerts_sent = sum(len(b["alerts"]) for b in relay.sent)
    accepted = sum(len(b["alerts"]) for b, s in relay.answered if s == 202)
    processed = sum(a["count"] for i in incidents for a in i["alerts"])
    record(
        "real Alertmanager 0.25, triaged kill -9 + SIGTERM",
        iterations=2,
        notifications=len(relay.sent),
        notifications_refused=refused,
        alerts_sent=alerts_sent,
        alerts_accepted=accepted,
        alerts_processed=processed,
        incidents_expected=NAMES,
        incidents_found=len(incidents),
        total_s=round(time.monotonic() - t_start, 1),
        recover_s=round(recovered, 2),
        recover_note="last restart -> triaged holds what Alertmanager sent",
    )
