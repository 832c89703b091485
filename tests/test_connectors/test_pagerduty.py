"""PagerDuty connector against the fake Events API v2 over loopback HTTP: the exact events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from fakes import pagerduty as fake_pd
from fakes.base import FAKE, FakeTracker
from pydantic import ValidationError

from connectors.base import AlertLine, Findable, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected
from connectors.pagerduty import (
    DEFAULT_SEVERITIES,
    EVENTS_URL,
    PROBE_DEDUP_KEY,
    PagerDutyConfig,
    PagerDutyConnector,
)

REQ = IncidentRequest(
    incident_id="inc_01PD",
    title="HighLatency (service=checkout)",
    priority="P2",
    status="open",
    summary="p99 at 2.3s",
    alerts=(AlertLine("fp1", "HighLatency", "firing", "p99 2.3s", {"cluster": "prod-eu"}),),
    group_labels={"alertname": "HighLatency", "cluster": "prod-eu"},
    team="payments",
    url="http://triaged.example/api/v1/incidents/inc_01PD",
    reasons=("severity=critical",),
)


@dataclass
class Rig:
    """A connector wired to a running fake, and the fake's state."""

    connector: PagerDutyConnector
    fake: FakeTracker
    base: str
    session: aiohttp.ClientSession

    def connect(self, **overrides: Any) -> PagerDutyConnector:
        """Another connector on the same fake, with config overrides."""
        config = PagerDutyConfig.model_validate({**fake_pd.connector_config(self.base), **overrides})
        return PagerDutyConnector(config, self.session)

    def events(self) -> list[dict[str, Any]]:
        """Every event body the fake received, in order."""
        return [orjson.loads(raw) for _, _, _, raw in self.fake.requests]


@pytest.fixture
async def rig(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Rig]:
    """The connector against a fresh fake Events API."""
    app: web.Application = fake_pd.create_app()
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    session = aiohttp.ClientSession()
    config = PagerDutyConfig.model_validate(fake_pd.connector_config(base))
    yield Rig(PagerDutyConnector(config, session), app[FAKE], base, session)
    await session.close()


async def test_open_sends_a_trigger_with_the_marker_as_dedup_key(rig: Rig) -> None:
    """POST /v2/enqueue, routing key in the body (no auth header), PD-CEF payload."""
    ref = await rig.connector.open_incident(REQ)
    [(method, path, headers, _)] = rig.fake.requests
    assert (method, path) == ("POST", "/v2/enqueue")
    assert "Authorization" not in headers
    assert headers["Content-Type"] == "application/json"
    [event] = rig.events()
    assert event["routing_key"] == fake_pd.ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "triaged-inc_01PD"
    assert event["client"] == "triaged"
    assert event["client_url"] == REQ.url
    assert event["links"] == [{"href": REQ.url, "text": "Incident in triaged"}]
    payload = event["payload"]
    assert payload["summary"] == REQ.title
    assert payload["source"] == "prod-eu"  # the cluster group label
    assert payload["severity"] == "error"
    assert payload["group"] == "payments"
    assert payload["class"] == "HighLatency"
    assert payload["custom_details"]["incident_id"] == "inc_01PD"
    assert payload["custom_details"]["alerts"][0]["alertname"] == "HighLatency"
    assert ref.key == "triaged-inc_01PD"


async def test_source_falls_back_to_the_configured_name(rig: Rig) -> None:
    """Without the source label, payload.source is the configured ``source``."""
    await rig.connect(source="alerting-prod").open_incident(replace(REQ, group_labels={}))
    assert rig.events()[0]["payload"]["source"] == "alerting-prod"


@pytest.mark.parametrize(("priority", "severity"), sorted(DEFAULT_SEVERITIES.items()))
async def test_priority_maps_onto_the_four_severities(rig: Rig, priority: str, severity: str) -> None:
    """P1 critical, P2 error, P3 warning, P4/P5 info (PagerDuty has four levels)."""
    await rig.connector.open_incident(replace(REQ, priority=priority))
    assert rig.events()[0]["payload"]["severity"] == severity


async def test_retried_open_merges_into_the_same_alert(rig: Rig) -> None:
    """A trigger repeated after a lost answer dedups on dedup_key: still one alert."""
    await rig.connector.open_incident(REQ)
    await rig.connector.open_incident(REQ)
    [alert] = rig.fake.by_marker(REQ.marker)
    assert len(alert.raw["log"]) == 2


async def test_update_retriggers_with_severity_and_note(rig: Rig) -> None:
    """Update is a trigger on the same dedup_key: new severity, the note in custom_details."""
    ref = await rig.connector.open_incident(REQ)
    await rig.connector.update_incident(ref, replace(REQ, priority="P1", note="api-2 joined"))
    event = rig.events()[1]
    assert (event["event_action"], event["dedup_key"]) == ("trigger", ref.key)
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["custom_details"]["note"] == "api-2 joined"
    [alert] = rig.fake.by_marker(REQ.marker)
    assert alert.priority == "P1"
    assert alert.comments == ["api-2 joined"]


async def test_acknowledged_update_sends_acknowledge(rig: Rig) -> None:
    """status acknowledged: the trigger, then an acknowledge event for the dedup_key."""
    ref = await rig.connector.open_incident(REQ)
    await rig.connector.update_incident(ref, replace(REQ, status="acknowledged"))
    assert rig.events()[2] == {
        "routing_key": fake_pd.ROUTING_KEY,
        "event_action": "acknowledge",
        "dedup_key": ref.key,
    }
    assert rig.fake.by_marker(REQ.marker)[0].status == "acknowledged"


async def test_resolve_sends_a_bare_resolve_and_a_retry_is_harmless(rig: Rig) -> None:
    """Resolve: {routing_key, event_action: resolve, dedup_key}; a second one is dropped."""
    ref = await rig.connector.open_incident(REQ)
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert rig.events()[1] == {
        "routing_key": fake_pd.ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": ref.key,
    }
    [alert] = rig.fake.by_marker(REQ.marker)
    assert alert.status == "resolved"


async def test_update_after_a_resolve_in_pagerduty_opens_a_new_alert(rig: Rig) -> None:
    """Documented quirk: PagerDuty never reopens a resolved alert; the next trigger is new."""
    ref = await rig.connector.open_incident(REQ)
    await rig.connector.resolve_incident(ref, REQ)  # e.g. a responder resolved it
    await rig.connector.update_incident(ref, REQ)
    assert [a.status for a in rig.fake.by_marker(REQ.marker)] == ["resolved", "open"]


async def test_wrong_routing_key_is_an_auth_error_without_the_key(rig: Rig) -> None:
    """PagerDuty answers 400 'Invalid routing key' (not 401): reported as ConnectorAuthError."""
    wrong = "Z" * 32
    with pytest.raises(ConnectorAuthError) as info:
        await rig.connect(routing_key=wrong).open_incident(REQ)
    assert info.value.status == 400
    assert "Invalid routing key" in str(info.value)
    assert wrong not in str(info.value)


async def test_other_invalid_events_are_rejected(rig: Rig) -> None:
    """A 400 not about the routing key (blank summary) is ConnectorRejected, not auth."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connector.open_incident(replace(REQ, title=""))
    assert not isinstance(info.value, ConnectorAuthError)
    assert "payload.summary" in str(info.value)


async def test_healthcheck_resolves_a_probe_key_and_creates_nothing(rig: Rig) -> None:
    """The probe is one resolve for a dedup_key that never had an alert: dropped, 202."""
    await rig.connector.healthcheck()
    assert rig.events() == [
        {"routing_key": fake_pd.ROUTING_KEY, "event_action": "resolve", "dedup_key": PROBE_DEDUP_KEY}
    ]
    assert rig.fake.tickets == {}


async def test_healthcheck_refuses_a_malformed_key_without_sending(rig: Rig) -> None:
    """A key that is not 32 letters and digits fails locally; nothing is sent."""
    with pytest.raises(ConnectorAuthError, match="32 letters"):
        await rig.connect(routing_key="not-a-key").healthcheck()
    assert rig.fake.requests == []


def test_not_findable_and_default_endpoint() -> None:
    """No find_incident (dedup_key makes a retried trigger idempotent); default public URL."""
    config = PagerDutyConfig.model_validate({"routing_key": fake_pd.ROUTING_KEY})
    assert str(config.endpoint) == EVENTS_URL
    assert not isinstance(PagerDutyConnector(config, None), Findable)  # type: ignore[arg-type]


def test_severities_must_cover_every_priority() -> None:
    """An event without a severity is invalid, so a partial table is refused at load time."""
    with pytest.raises(ValidationError):
        PagerDutyConfig.model_validate({"routing_key": fake_pd.ROUTING_KEY, "severities": {"P1": "critical"}})
