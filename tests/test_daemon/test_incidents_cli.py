"""``triaged incidents``: a real CLI process acting on a real daemon process."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from typing import Any

from support import DaemonProcess, all_incidents, drained, triaged_executable


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [triaged_executable(), "incidents", *args, "--actor", "alice"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_ls_show_and_every_action(daemon_factory: Callable[..., DaemonProcess], http: Any) -> None:
    d = daemon_factory({"routing": {"team": "ops"}})
    alert = {"status": "firing", "labels": {"alertname": "DiskFull", "cluster": "c1", "severity": "warning"}}
    async with http.post(d.url + "/api/v1/alerts/alertmanager", json={"alerts": [alert]}) as resp:
        assert resp.status == 202
    await drained(http, d)
    [incident] = await all_incidents(http, d)
    iid = incident["id"]
    listed = cli("ls", "--url", d.url)
    assert iid in listed.stdout
    assert "ops" in listed.stdout
    assert cli("ack", iid, "--note", "on it", "--url", d.url).stdout.split()[1] == "acknowledged"
    assert cli("note", iid, "rolled back the deploy", "--url", d.url).returncode == 0
    assert cli("priority", iid, "P1", "--url", d.url).stdout.split()[2] == "P1"
    assert cli("assign", iid, "--team", "storage", "--url", d.url).stdout.split()[3] == "storage"
    assert cli("resolve", iid, "--url", d.url).stdout.split()[1] == "resolved"
    assert cli("reopen", iid, "--note", "again", "--url", d.url).stdout.split()[1] == "open"
    shown = cli("show", iid, "--url", d.url)
    for line in ("acknowledged", "note", "priority_changed", "reassigned", "resolved", "reopened"):
        assert line in shown.stdout
    detail = json.loads(cli("show", iid, "--json", "--url", d.url).stdout)
    assert {e["actor"] for e in detail["timeline"] if e["kind"] != "routed" and e["kind"] != "opened"} == {
        "alice"
    }
    missing = cli("note", "inc_nope", "x", "--url", d.url)
    assert missing.returncode == 1
    assert "404" in missing.stderr
    bad = cli("assign", iid, "--url", d.url)
    assert bad.returncode == 1
    assert "400: give a team, an assignee, or both" in bad.stderr


def test_the_cli_sends_the_api_token_from_the_environment(
    daemon_factory: Callable[..., DaemonProcess],
) -> None:
    token = "reader-token-0123456789abcdef"
    d = daemon_factory({"api": {"tokens": [{"name": "oncall", "token": token, "scopes": ["read"]}]}})
    refused = cli("ls", "--url", d.url)
    assert refused.returncode == 1
    assert "401" in refused.stderr
    env = {**os.environ, "TRIAGED_API_TOKEN": token}
    allowed = subprocess.run(
        [triaged_executable(), "incidents", "ls", "--url", d.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "no incidents" in allowed.stdout
    assert token not in allowed.stdout + allowed.stderr
