"""Opsgenie connector against the fake Alert API over loopback HTTP: calls and async quirks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from fakes import opsgenie as fake_og
from fakes.base import FAKE, FakeTracker
from yarl import URL

from connectors.base import AlertLine, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected
from connectors.opsgenie import API_URL, OpsgenieConfig, OpsgenieConnector

REQ = IncidentRequest(
    incident_id="inc_01OG",
    title="CertExpiring (domain=shop.example)",
    priority="P3",
    status="open",
    summary="expires in 5 days",
    alerts=(AlertLine("fp1", "CertExpiring", "firing", "5 days left"),),
    url="http://triaged.example/api/v1/incidents/inc_01OG",
    reasons=("severity=warning",),
)
ALIAS = "triaged-inc_01OG"
BY_ALIAS = {"identifierType": "alias"}


@dataclass
class Rig:
    """A connector wired to a running fake, and the fake's state."""

    connector: OpsgenieConnector
    fake: FakeTracker
    account: fake_og.Account
    base: str
    session: aiohttp.ClientSession

    def connect(self, **overrides: Any) -> OpsgenieConnector:
        """Another connector on the same fake, with config overrides."""
        config = OpsgenieConfig.model_validate({**fake_og.connector_config(self.base), **overrides})
        return OpsgenieConnector(config, self.session)

    def calls(self) -> list[tuple[str, str, dict[str, str]]]:
        """(method, path, query) of every request the fake saw."""
        return [(m, URL(p).path, dict(URL(p).query)) for m, p, _, _ in self.fake.requests]

    def body(self, index: int) -> Any:
        """The JSON body of one logged request."""
        return orjson.loads(self.fake.requests[index][3])


@pytest.fixture
async def rig(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Rig]:
    """The connector against a fresh fake Opsgenie account."""
    app: web.Application = fake_og.create_app()
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    session = aiohttp.ClientSession()
    config = OpsgenieConfig.model_validate(fake_og.connector_config(base))
    yield Rig(OpsgenieConnector(config, session), app[FAKE], app[fake_og.ACCOUNT], base, session)
    await session.close()


async def test_open_creates_the_alert_and_confirms_the_request(rig: Rig) -> None:
    """POST /v2/alerts (GenieKey auth, alias = marker), then GET the request status."""
    connector = rig.connect(web_url="https://acme.app.opsgenie.com")
    ref = await connector.open_incident(REQ)
    assert rig.fake.requests[0][2]["Authorization"] == f"GenieKey {fake_og.API_KEY}"
    (m1, p1, q1), (m2, p2, _) = rig.calls()
    assert (m1, p1, q1) == ("POST", "/v2/alerts", {})
    assert m2 == "GET"
    assert p2.startswith("/v2/alerts/requests/")
    assert rig.body(0) == {
        "message": REQ.title,
        "alias": ALIAS,
        "description": REQ.description(),
        "tags": ["triaged"],
        "details": {"triaged_incident": "inc_01OG", "alert_count": "1", "triaged_url": REQ.url},
        "source": "triaged",
        "user": "triaged",
        "priority": "P3",
    }
    [alert] = rig.fake.by_marker(ALIAS)
    assert ref.key == ALIAS
    assert ref.extra == {"alert_id": alert.key}
    assert ref.url == f"https://acme.app.opsgenie.com/alert/detail/{alert.key}/details"


async def test_message_is_cut_to_130_characters_and_responders_are_sent(rig: Rig) -> None:
    """Opsgenie's message limit is 130; configured responders go with the create."""
    connector = rig.connect(responders=[{"type": "team", "name": "sre"}])
    await connector.open_incident(replace(REQ, title="x" * 200))
    body = rig.body(0)
    assert len(body["message"]) == 130
    assert body["responders"] == [{"type": "team", "name": "sre"}]


async def test_open_polls_until_the_request_is_processed(rig: Rig) -> None:
    """Status answers 404 until processed: the connector keeps polling, then reads the id."""
    rig.account.pending_polls = 2
    ref = await rig.connector.open_incident(REQ)
    polls = [c for c in rig.calls() if c[1].startswith("/v2/alerts/requests/")]
    assert len(polls) == 3
    assert ref.extra["alert_id"] == rig.fake.by_marker(ALIAS)[0].key


async def test_open_trusts_the_202_when_no_outcome_arrives_in_time(rig: Rig) -> None:
    """No outcome within confirm_timeout: the accepted create is still reported as opened."""
    rig.account.pending_polls = 1000
    ref = await rig.connect(confirm_timeout=0.2).open_incident(REQ)
    assert ref.key == ALIAS
    assert ref.extra == {}


async def test_open_without_confirmation_sends_one_request(rig: Rig) -> None:
    """confirm_timeout 0: trust every 202, no status polling."""
    await rig.connect(confirm_timeout=0).open_incident(REQ)
    assert [c[:2] for c in rig.calls()] == [("POST", "/v2/alerts")]


async def test_create_refused_after_acceptance_is_rejected(rig: Rig) -> None:
    """A 202 whose request then fails (isSuccess false) is ConnectorRejected with the status."""
    rig.account.refuse = "Integration is not allowed to create alerts"
    with pytest.raises(ConnectorRejected, match="not allowed to create"):
        await rig.connector.open_incident(REQ)
    assert rig.fake.tickets == {}


async def test_repeated_create_dedups_on_the_open_alias(rig: Rig) -> None:
    """Opsgenie keeps one open alert per alias: a second create only raises its count."""
    await rig.connector.open_incident(REQ)
    await rig.connector.open_incident(REQ)
    [alert] = rig.fake.by_marker(ALIAS)
    assert rig.account.counts[alert.key] == 2


async def test_update_sets_priority_and_adds_the_note_by_alias(rig: Rig) -> None:
    """PUT .../priority, GET the latest note, POST .../notes; all with identifierType=alias."""
    ref = await rig.connect(confirm_timeout=0).open_incident(REQ)
    await rig.connector.update_incident(ref, replace(REQ, priority="P1", note="renewal failed"))
    assert rig.calls()[1:] == [
        ("PUT", f"/v2/alerts/{ALIAS}/priority", BY_ALIAS),
        ("GET", f"/v2/alerts/{ALIAS}/notes", {**BY_ALIAS, "order": "desc", "limit": "1"}),
        ("POST", f"/v2/alerts/{ALIAS}/notes", BY_ALIAS),
    ]
    assert rig.body(1) == {"priority": "P1"}
    assert rig.body(3) == {"user": "triaged", "source": "triaged", "note": "renewal failed"}
    [alert] = rig.fake.by_marker(ALIAS)
    assert (alert.priority, alert.comments) == ("P1", ["renewal failed"])


async def test_retried_update_adds_the_note_once(rig: Rig) -> None:
    """The same note again (a retry after a lost answer) is not added a second time."""
    ref = await rig.connector.open_incident(REQ)
    update = replace(REQ, note="renewal failed")
    await rig.connector.update_incident(ref, update)
    await rig.connector.update_incident(ref, update)
    assert rig.fake.by_marker(ALIAS)[0].comments == ["renewal failed"]


async def test_acknowledged_update_acknowledges(rig: Rig) -> None:
    """status acknowledged -> POST /v2/alerts/{alias}/acknowledge?identifierType=alias."""
    ref = await rig.connect(confirm_timeout=0).open_incident(REQ)
    await rig.connector.update_incident(ref, replace(REQ, status="acknowledged"))
    assert rig.calls()[-1] == ("POST", f"/v2/alerts/{ALIAS}/acknowledge", BY_ALIAS)
    assert rig.fake.by_marker(ALIAS)[0].status == "acknowledged"


async def test_resolve_closes_with_a_note_and_confirms(rig: Rig) -> None:
    """POST /v2/alerts/{alias}/close?identifierType=alias with user, source and note."""
    ref = await rig.connect(confirm_timeout=0).open_incident(REQ)
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved", note="cert renewed"))
    assert rig.calls()[1] == ("POST", f"/v2/alerts/{ALIAS}/close", BY_ALIAS)
    assert rig.body(1) == {"user": "triaged", "source": "triaged", "note": "cert renewed"}
    assert rig.calls()[2][1].startswith("/v2/alerts/requests/")
    assert rig.fake.by_marker(ALIAS)[0].status == "resolved"


async def test_resolve_of_a_deleted_alert_is_done(rig: Rig) -> None:
    """Close fails later with 'Alert does not exist' and the alias is gone: resolved."""
    ref = await rig.connector.open_incident(REQ)
    rig.fake.tickets.clear()
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert rig.calls()[-1] == ("GET", f"/v2/alerts/{ALIAS}", BY_ALIAS)


async def test_resolve_refused_while_the_alert_stays_open_is_rejected(rig: Rig) -> None:
    """A close that fails after its 202 while the alert is still open is reported."""
    ref = await rig.connector.open_incident(REQ)
    rig.account.refuse = "Integration is not allowed to close alerts"
    with pytest.raises(ConnectorRejected, match="not allowed to close"):
        await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))


async def test_find_gets_the_alert_by_alias(rig: Rig) -> None:
    """GET /v2/alerts/{alias}?identifierType=alias; 404 means no alert."""
    await rig.connect(confirm_timeout=0).open_incident(REQ)
    found = await rig.connector.find_incident(REQ)
    assert found is not None
    assert found.key == ALIAS
    assert found.extra == {"alert_id": rig.fake.by_marker(ALIAS)[0].key}
    assert rig.calls()[1] == ("GET", f"/v2/alerts/{ALIAS}", BY_ALIAS)
    assert await rig.connector.find_incident(replace(REQ, incident_id="inc_none")) is None


async def test_healthcheck_lists_one_alert(rig: Rig) -> None:
    """GET /v2/alerts?limit=1 with the key: no write."""
    await rig.connector.healthcheck()
    assert rig.calls() == [("GET", "/v2/alerts", {"limit": "1"})]


async def test_bad_key_is_an_auth_error_without_the_key(rig: Rig) -> None:
    """401 'Could not authenticate': ConnectorAuthError naming neither the key nor the header."""
    wrong = "00000000-1111-2222-3333-444444444444"
    with pytest.raises(ConnectorAuthError) as info:
        await rig.connect(api_key=wrong).open_incident(REQ)
    assert "Could not authenticate" in str(info.value)
    assert wrong not in str(info.value)
    assert "GenieKey" not in str(info.value)


async def test_invalid_body_is_rejected(rig: Rig) -> None:
    """422 'Request body is not valid' (empty message) is ConnectorRejected."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connector.open_incident(replace(REQ, title=""))
    assert info.value.status == 422


def test_us_endpoint_by_default() -> None:
    """Without ``endpoint`` the US API is used; EU accounts set api.eu.opsgenie.com."""
    config = OpsgenieConfig.model_validate({"api_key": fake_og.API_KEY})
    assert str(config.endpoint).rstrip("/") == API_URL
    eu = OpsgenieConfig.model_validate(
        {"api_key": fake_og.API_KEY, "endpoint": "https://api.eu.opsgenie.com"}
    )
    assert eu.endpoint.host == "api.eu.opsgenie.com"
