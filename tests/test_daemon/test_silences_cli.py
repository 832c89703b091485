"""``triaged silences``: a real CLI process against a real daemon process."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

from support import DaemonProcess, all_incidents, drained, free_port, triaged_executable


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [triaged_executable(), "silences", *args], capture_output=True, text=True, timeout=60, check=False
    )


def noisy(cluster: str) -> dict[str, Any]:
    labels = {"alertname": "Noisy", "cluster": cluster}
    return {"version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": labels}]}


async def test_add_list_expire_through_the_cli(
    daemon_factory: Callable[..., DaemonProcess], http: Any
) -> None:
    d = daemon_factory()
    added = cli(
        "add", 'alertname="Noisy"', 'cluster="c1"', "--duration", "2h", "--comment", "deploy", "--url", d.url
    )
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.split()[0]
    assert silence_id.startswith("sil_")
    listed = cli("ls", "--json", "--url", d.url)
    assert [s["id"] for s in json.loads(listed.stdout)["silences"]] == [silence_id]
    table = cli("ls", "--state", "active", "--url", d.url)
    assert silence_id in table.stdout
    assert 'cluster="c1"' in table.stdout
    for cluster in ("c1", "c2"):
        async with http.post(d.url + "/api/v1/alerts/alertmanager", json=noisy(cluster)) as resp:
            assert resp.status == 202
    await drained(http, d)
    assert [i["group_labels"]["cluster"] for i in await all_incidents(http, d)] == ["c2"]
    expired = cli("expire", silence_id, "--url", d.url)
    assert expired.returncode == 0
    assert "expired" in expired.stdout
    missing = cli("expire", "sil_nope", "--url", d.url)
    assert missing.returncode == 1
    assert "404: no silence sil_nope" in missing.stderr
    bad = cli("add", "alertname=~(", "--url", d.url)
    assert bad.returncode == 1
    assert "400" in bad.stderr
    assert "Traceback" not in bad.stderr
    down = cli("ls", "--url", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1
    assert "cannot reach" in down.stderr
