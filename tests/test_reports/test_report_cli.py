"""`triaged report` and `triaged postmortem` on real incidents, on both stores, as a user runs them."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from support import fixture_raw, settle, triaged_executable, write_config

from daemon.timeparse import parse_rfc3339

HEADERS = {"Content-Type": "application/json"}


@dataclass
class Result:
    """A finished `triaged` process."""

    returncode: int
    stdout: str
    stderr: str


async def run(*args: str) -> Result:
    """The installed `triaged` console script, without blocking the in-process daemon's event loop."""
    proc = await asyncio.create_subprocess_exec(
        triaged_executable(), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def make_incidents(client: TestClient[Any, Any]) -> dict[str, dict[str, Any]]:
    """Two incidents from captured webhooks: one acknowledged then resolved by its alerts, one left open."""
    for name in ("firing_grouped", "firing_grouped_other_alertname"):
        resp = await client.post("/api/v1/alerts/alertmanager", data=fixture_raw(name), headers=HEADERS)
        assert resp.status == 202
    await settle(client.app)
    listed = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    by_title = {i["title"]: i for i in listed}
    first = by_title["HighErrorRate (cluster=prod-eu)"]["id"]
    assert (await client.post(f"/api/v1/incidents/{first}/ack", json={"actor": "alice"})).status == 200
    for name in ("firing_grouped_update", "firing_grouped_partially_resolved", "resolved_grouped"):
        resp = await client.post("/api/v1/alerts/alertmanager", data=fixture_raw(name), headers=HEADERS)
        assert resp.status == 202
    await settle(client.app)
    details = {}
    for incident in listed:
        detail = await (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
        details[detail["id"]] = detail
    return details


def config_for(tmp_path: Path, store_config: dict[str, Any]) -> Path:
    """A config naming the same store the in-process daemon writes."""
    return write_config(tmp_path / "report.yaml", {"store": store_config})


async def test_json_report_matches_the_incidents(
    client: TestClient[Any, Any], tmp_path: Path, store_config: dict[str, Any]
) -> None:
    """Counts, rates and each duration equal what the API's own timestamps give."""
    details = await make_incidents(client)
    result = await run(
        "report", "--since", "1h", "--config", str(config_for(tmp_path, store_config)), "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    overall = body["overall"]
    assert overall["incidents"] == 2
    assert overall["resolved"] == 1
    assert overall["resolution_rate"] == 0.5
    assert overall["first_time_fix_rate"] == 1.0
    assert overall["alerts"] == sum(d["alert_count"] for d in details.values())
    rows = {r["id"]: r for r in body["incidents"]}
    assert set(rows) == set(details)
    for incident_id, d in details.items():
        opened = parse_rfc3339(d["opened_at"])
        assert opened is not None
        starts = [parse_rfc3339(a["starts_at"]) for a in d["alerts"]]
        row = rows[incident_id]
        # The API shows times to the millisecond; the report works on the stored floats.
        expected_tti = max(0.0, opened - min(s for s in starts if s is not None))
        assert abs(row["time_to_identify"] - expected_tti) < 2e-3
        if d["status"] == "resolved":
            acked, resolved = parse_rfc3339(d["acknowledged_at"]), parse_rfc3339(d["resolved_at"])
            assert acked is not None
            assert resolved is not None
            assert abs(row["time_to_acknowledge"] - (acked - opened)) < 2e-3
            assert abs(row["time_to_resolve"] - max(0.0, resolved - opened)) < 2e-3
        else:
            assert row["time_to_resolve"] is None
            assert row["time_to_acknowledge"] is None
    assert set(body["by_priority"]) == {d["priority"] for d in details.values()}
    assert body["overall"]["mtta_seconds"]["n"] == 1
    # A range that ends before the incidents were opened holds none of them.
    early = await run(
        "report", "--since", "2020-01-01", "--until", "2020-02-01T00:00:00Z",
        "--config", str(config_for(tmp_path, store_config)), "--format", "json",
    )  # fmt: skip
    assert early.returncode == 0, early.stderr
    assert json.loads(early.stdout)["overall"]["incidents"] == 0


async def test_markdown_report_and_postmortem(
    client: TestClient[Any, Any], tmp_path: Path, store_config: dict[str, Any]
) -> None:
    """The Markdown report has its sections; the postmortem draft has the incident's facts and blanks."""
    details = await make_incidents(client)
    config = str(config_for(tmp_path, store_config))
    out = tmp_path / "report.md"
    result = await run("report", "--since", "1d", "--config", config, "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    for heading in ("## Overall", "## By priority", "## By team", "## By service"):
        assert heading in text
    assert "| all | 2 | 50.0% |" in text
    [resolved] = [d for d in details.values() if d["status"] == "resolved"]
    draft_path = tmp_path / "pm.md"
    pm = await run("postmortem", resolved["id"], "--config", config, "--out", str(draft_path))
    assert pm.returncode == 0, pm.stderr
    draft = draft_path.read_text()
    assert draft.startswith(f"# Post-incident report: {resolved['title']}")
    for section in (
        "## Time to each milestone",
        "## Priority and why",
        "## Routing and escalations",
        "## Tickets",
        "## Alerts",
        "## Timeline",
        "## Root cause",
        "## Actions",
    ):
        assert section in draft
    for reason in resolved["reasons"]:
        assert reason.replace("|", "\\|") in draft
    for alert in resolved["alerts"]:
        assert alert["fingerprint"] in draft
    assert "| acknowledged | " + resolved["acknowledged_at"] in draft
    assert "| acknowledged | alice |" in draft  # the timeline row with its actor
    assert draft.count("| opened | triaged |") == 1


async def test_bad_arguments_are_one_clear_line(
    client: TestClient[Any, Any], tmp_path: Path, store_config: dict[str, Any]
) -> None:
    """Bad times, reversed ranges, unknown incidents and unwritable outputs: one line, an exit code."""
    config = str(config_for(tmp_path, store_config))
    cases = [
        (("report", "--since", "yesterday", "--config", config), 2, "--since: expected a duration"),
        (("report", "--since", "1d", "--until", "2d", "--config", config), 2, "--until must be later"),
        (("report", "--since", "1d", "--format", "pdf", "--config", config), 2, "invalid choice: 'pdf'"),
        (("postmortem", "inc_nope", "--config", config), 1, "no incident inc_nope in the store"),
        (
            ("report", "--since", "1d", "--config", config, "--out", str(tmp_path / "no" / "dir.md")),
            1,
            "--out: cannot write",
        ),
    ]
    for args, code, needle in cases:
        result = await run(*args)
        assert result.returncode == code, (args, result.stderr)
        assert needle in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
