"""Feedback: people correct an incident; the correction is applied, recorded, and trains the model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from support import REPO, fixture_raw, settle, triaged_executable, write_config

from daemon.keys import SETTINGS


async def _incident(client: TestClient[Any, Any]) -> str:
    resp = await client.post(
        "/api/v1/alerts/alertmanager",
        data=fixture_raw("firing_grouped"),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 202
    await settle(client.app)
    incident_id: str = (await (await client.get("/api/v1/incidents")).json())["incidents"][0]["id"]
    return incident_id


async def test_feedback_is_applied_and_recorded(client: TestClient[Any, Any]) -> None:
    """A corrected priority and team apply to the incident, with a reason and a timeline event."""
    incident_id = await _incident(client)
    resp = await client.post(
        f"/api/v1/incidents/{incident_id}/feedback",
        json={
            "actor": "alice",
            "priority": "P3",
            "urgency": "warning",
            "team": "checkout",
            "note": "only one pod",
        },
    )
    assert resp.status == 200
    body = await resp.json()
    assert (body["priority"], body["team"]) == ("P3", "checkout")
    assert body["reasons"][-1] == "set to P3 by alice (feedback; was P1)"
    detail = await (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    [event] = [e for e in detail["timeline"] if e["kind"] == "feedback"]
    assert event["actor"] == "alice"
    assert event["detail"]["urgency"] == "warning"


async def test_bad_feedback_is_a_clear_400(client: TestClient[Any, Any]) -> None:
    """Unknown fields, wrong values and empty feedback are refused with what was expected."""
    incident_id = await _incident(client)
    url = f"/api/v1/incidents/{incident_id}/feedback"
    for body, needle in (
        ({"priority": "P9"}, "priority: expected one of P1..P5"),
        ({"urgency": "meh"}, "urgency: expected one of critical"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"actor": "bob"}, "nothing to record"),
        ([], "expected a JSON object"),
    ):
        resp = await client.post(url, json=body)
        assert resp.status == 400, body
        assert needle in (await resp.json())["error"]
    missing = await client.post("/api/v1/incidents/inc_nope/feedback", json={"noise": True})
    assert missing.status == 404


async def test_feedback_export_trains_a_model(
    client: TestClient[Any, Any], tmp_path: Path, store_config: dict[str, Any]
) -> None:
    """`triaged feedback-export` writes the corrected alerts as training rows that `triaged train` reads."""
    incident_id = await _incident(client)
    resp = await client.post(
        f"/api/v1/incidents/{incident_id}/feedback", json={"actor": "alice", "urgency": "info"}
    )
    assert resp.status == 200
    assert client.app[SETTINGS].store.kind == store_config["kind"]
    config = write_config(tmp_path / "c.yaml", {"store": store_config})
    out = tmp_path / "feedback.jsonl"
    result = subprocess.run(
        [triaged_executable(), "feedback-export", "--config", str(config), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["severity_norm"] for r in rows] == ["info", "info"]
    assert {r["alertname"] for r in rows} == {"HighErrorRate"}
    assert "severity" not in rows[0]["labels"]
    model_dir = tmp_path / "model"
    trained = subprocess.run(
        [
            triaged_executable(),
            "train",
            "--data",
            str(REPO / "data" / "alert-rules" / "kube-prometheus.jsonl"),
            str(out),
            "--out",
            str(model_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr
    card = json.loads((model_dir / "model.json").read_text())
    assert "feedback.jsonl" in json.dumps(card)
