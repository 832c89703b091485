"""The learned team router: trained and evaluated on the real ServiceNow log; safe files;
it suggests, and acts only when sure and when no route claimed the incident."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from support import settle

from classifiers.errors import UntrustedModel
from classifiers.team_router import evaluate, fit, load, save, servicenow_rows
from daemon.app import create_app
from daemon.cli import run
from daemon.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EXPORT = REPO / "data" / "servicenow-incidents" / "incident_event_log.zip"


@pytest.fixture(scope="module")
def rows() -> list[Any]:
    return servicenow_rows(EXPORT)


def test_beats_both_baselines_on_a_time_split(rows: list[Any]) -> None:
    """On 6,000 real incidents (time-ordered), top-1 beats majority and per-category rules."""
    scores = evaluate(rows[:6000])
    assert scores["n_test"] == 1200
    assert scores["top1_accuracy"] > scores["majority_baseline"] + 0.05
    assert scores["top1_accuracy"] > scores["category_rule_baseline"]
    assert scores["top3_accuracy"] > scores["top1_accuracy"]


def test_round_trip_and_tampering(rows: list[Any], tmp_path: Path) -> None:
    save(fit(rows[:2000]), tmp_path / "r", ["slice"], {})
    router = load(tmp_path / "r")
    suggestion = router.suggest(rows[2500][1])
    assert suggestion is not None
    assert 0 < suggestion.confidence <= 1
    assert router.suggest({}) is None
    blob = (tmp_path / "r" / "router.skops").read_bytes()
    (tmp_path / "r" / "router.skops").write_bytes(blob[:-4] + b"evil")
    with pytest.raises(UntrustedModel):
        load(tmp_path / "r")


def test_cli_trains_from_jsonl_and_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "teams.jsonl"
    lines = [{"fields": {"service": f"pg-{i % 3}", "job": "postgres"}, "team": "dba"} for i in range(30)]
    lines += [{"fields": {"service": f"web-{i % 3}", "job": "nginx"}, "team": "web"} for i in range(30)]
    data.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    assert run(["train-router", "--data", str(data), "--out", str(tmp_path / "router")]) == 0
    assert load(tmp_path / "router").suggest({"job": "postgres"}).team == "dba"  # type: ignore[union-attr]
    capsys.readouterr()
    assert run(["evaluate-router", "--data", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err


async def test_suggests_a_team_only_where_no_route_claims_it(
    tmp_path: Path,
    aiohttp_client: Callable[..., Awaitable[Any]],
    make_settings: Callable[..., Settings],
) -> None:
    data = tmp_path / "teams.jsonl"
    lines = [{"fields": {"service": "orders-db", "job": "postgres"}, "team": "dba"}] * 20
    lines += [{"fields": {"service": "web", "job": "nginx"}, "team": "web"}] * 20
    data.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    assert run(["train-router", "--data", str(data), "--out", str(tmp_path / "router")]) == 0
    routing = {
        "learned_model": str(tmp_path / "router"),
        "learned_min_confidence": 0.6,
        "routes": [{"matchers": ['cluster="special"'], "team": "special-ops"}],
    }
    client = await aiohttp_client(create_app(make_settings(routing=routing)))
    for labels in (
        {"service": "orders-db", "job": "postgres"},
        {"service": "orders-db", "job": "postgres", "cluster": "special"},
    ):
        alert = {"status": "firing", "labels": {"alertname": "PostgresDown", **labels}}
        assert (await client.post("/api/v1/alerts/alertmanager", json={"alerts": [alert]})).status == 202
    await settle(client.app)
    incidents = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    teams = sorted(i["team"] for i in incidents)
    assert teams == ["dba", "special-ops"]  # the route wins where it matches
    learned = next(i for i in incidents if i["team"] == "dba")
    detail = await (await client.get(f"/api/v1/incidents/{learned['id']}")).json()
    routed = next(e for e in detail["timeline"] if e["kind"] == "routed")
    assert routed["detail"]["route"].startswith("learned router (p=")
    assert routed["detail"]["suggested_team"]["team"] == "dba"
