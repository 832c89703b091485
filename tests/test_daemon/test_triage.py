"""Triage in the running pipeline: the bundled model, rules over it, and a refused model file."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from support import fixture_body, settle

from daemon.app import create_app
from daemon.keys import PIPELINE
from daemon.settings import Settings
from daemon.stages.score import DEFAULT_MODEL, _load

URL = "/api/v1/alerts/alertmanager"


def unlabelled_alert() -> dict[str, Any]:
    """A real captured webhook whose alert has had its severity label removed."""
    body = fixture_body("firing_grouped_single_alert")
    alert = body["alerts"][0]
    alert["labels"] = {
        "alertname": "KubeAPIDown",
        "cluster": "prod-us",
        "job": "apiserver",
    }
    alert["annotations"] = {
        "summary": "Target disappeared from Prometheus target discovery.",
        "description": "KubeAPI has disappeared from Prometheus target discovery.",
    }
    return body


async def first_incident(client: TestClient[Any, Any]) -> dict[str, Any]:
    """The only incident, in detail."""
    await settle(client.app)
    [incident] = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    detail: dict[str, Any] = await (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    return detail


async def test_unlabelled_alert_gets_a_model_priority_with_reasons(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    """No severity label: the bundled model predicts urgency; the reasons show model and matrix."""
    client = await aiohttp_client(create_app(make_settings(triage={"model": "default"})))
    resp = await client.post(URL, json=unlabelled_alert())
    assert resp.status == 202
    incident = await first_incident(client)
    reasons = " ".join(incident["reasons"])
    assert "model " in reasons
    assert "urgency critical" in reasons
    assert "production (cluster=prod-us)" in reasons
    assert incident["priority"] == "P1"


async def test_a_rule_overrides_the_model_and_says_so(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A rule capping the API server's alerts wins over the model, with its reason."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {name: api drill, match: {labels: {job: apiserver}}, action: cap,"
        " priority: P4, reason: game day on the API servers}\n"
    )
    settings = make_settings(triage={"model": "default", "rules_file": str(rules)})
    client = await aiohttp_client(create_app(settings))
    assert (await client.post(URL, json=unlabelled_alert())).status == 202
    incident = await first_incident(client)
    assert incident["priority"] == "P4"
    assert "rule 'api drill' (cap): game day on the API servers [P1 -> P4]" in " ".join(incident["reasons"])


async def test_tampered_model_is_refused_and_triage_goes_on(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A model file changed after training is refused; incidents still get a priority from labels."""
    tampered = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL, tampered)
    skops_file = tampered / "model.skops"
    data = bytearray(skops_file.read_bytes())
    data[-100] ^= 0xFF
    skops_file.write_bytes(bytes(data))
    _load.cache_clear()
    client = await aiohttp_client(create_app(make_settings(triage={"model": str(tampered)})))
    resp = await client.post(URL, json=fixture_body("firing_grouped"))
    assert resp.status == 202
    incident = await first_incident(client)
    assert incident["priority"] == "P1"
    assert "no model: urgency critical from severity=critical" in " ".join(incident["reasons"])


def test_bundled_model_ships_with_the_package() -> None:
    """The default model is installed with the classifiers package (what serve uses)."""
    assert (DEFAULT_MODEL / "model.skops").is_file()
    assert (DEFAULT_MODEL / "model.json").is_file()


async def test_hot_reload_swaps_a_good_model_and_refuses_a_bad_one(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """POST /api/v1/model/reload: a tampered file is refused and the running model stays;
    the good file back in place is swapped in, all without a restart."""
    directory = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL, directory)
    _load.cache_clear()
    client = await aiohttp_client(create_app(make_settings(triage={"model": str(directory)})))
    good = (directory / "model.skops").read_bytes()
    (directory / "model.skops").write_bytes(good[:-10] + b"0123456789")
    refused = await client.post("/api/v1/model/reload")
    assert refused.status == 409
    body = await refused.json()
    assert body["reloaded"] is False
    assert body["model_version"]  # still triaging with the model it had
    (directory / "model.skops").write_bytes(good)
    ok = await client.post("/api/v1/model/reload")
    assert ok.status == 200
    assert (await ok.json()) == {"reloaded": True, "model_version": body["model_version"]}
    resp = await client.post(URL, json=unlabelled_alert())
    assert resp.status == 202
    incident = await first_incident(client)
    assert "model " in " ".join(incident["reasons"])


async def test_shadow_model_scores_live_traffic_without_deciding(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A shadow model scores the same new alerts as the active one; only metrics show it."""
    shadow = tmp_path / "candidate"
    shutil.copytree(DEFAULT_MODEL, shadow)
    settings = make_settings(triage={"model": "default", "shadow_model": str(shadow)})
    client = await aiohttp_client(create_app(settings))
    assert (await client.post(URL, json=fixture_body("firing_grouped"))).status == 202
    await first_incident(client)
    text = await (await client.get("/metrics")).text()
    assert 'triaged_model_predictions_total{role="active"} 2.0' in text
    assert 'triaged_model_predictions_total{role="shadow"} 2.0' in text
    assert 'triaged_model_info{role="shadow",version=' in text
    assert "triaged_model_shadow_disagreements_total{" not in text  # the same model agrees
    # Its two alerts differ in instance and sample values ("12.5%", "9.1%"), which the
    # model does not read: one model input, computed once, remembered for the second.
    assert 'triaged_model_cache_lookups_total{result="miss"} 1.0' in text
    assert 'triaged_model_cache_lookups_total{result="hit"} 1.0' in text


async def test_the_model_predicts_off_the_event_loop(
    aiohttp_client: Callable[..., Any],
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model call takes 5-20 ms of scikit-learn: the pipeline makes it in a worker thread,
    so the event loop (webhooks, the API) runs meanwhile, and the prediction is still used."""
    client = await aiohttp_client(create_app(make_settings(triage={"model": "default"})))
    model = client.app[PIPELINE].scorer.model
    assert model is not None
    loop = asyncio.get_running_loop()
    loop_ran: list[bool] = []
    real = model.predict

    def predict(batch: Any) -> Any:
        # A callback on the event loop, waited for here: on the loop's own thread it could
        # never run, and the wait would time out.
        ran = threading.Event()
        loop.call_soon_threadsafe(ran.set)
        loop_ran.append(ran.wait(5))
        return real(batch)

    monkeypatch.setattr(model, "predict", predict)
    resp = await client.post(URL, json=unlabelled_alert())
    assert resp.status == 202
    incident = await first_incident(client)
    assert loop_ran == [True]
    assert incident["priority"] == "P1"
    assert "model " in " ".join(incident["reasons"])


async def test_an_ingest_replica_loads_no_model_and_refuses_a_reload(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    """``pipeline.enabled: false`` scores nothing, so it loads no model (30 MB, a second of
    start-up) and says why a reload has nothing to do, where a pipeline replica loads it."""
    edge = await aiohttp_client(
        create_app(make_settings(pipeline={"enabled": False}, triage={"model": "default"}))
    )
    assert edge.app[PIPELINE].scorer.model is None
    refused = await edge.post("/api/v1/model/reload")
    assert refused.status == 409
    assert "pipeline.enabled" in (await refused.json())["error"]
    ready = await edge.get("/readyz")
    assert ready.status == 200, await ready.text()
    worker = create_app(make_settings(triage={"model": "default"}))
    assert worker[PIPELINE].scorer.model is not None
