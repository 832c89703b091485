"""Teams connector against the fake Workflows trigger: request shape, Adaptive Card, healthcheck, config."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson
import pytest
from fakes import teams as fake_teams
from fakes.base import FAKE, FakeTracker
from pydantic import ValidationError

from connectors.base import AlertLine, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected
from connectors.teams import TeamsConfig, TeamsConnector

REQUEST = IncidentRequest(
    incident_id="inc_1",
    title="HighErrorRate (cluster=prod-eu)",
    priority="P2",
    status="open",
    summary="5xx on checkout",
    alerts=(AlertLine("fp", "HighErrorRate", "firing", "5xx at 12%"),),
    url="http://triaged.example/api/v1/incidents/inc_1",
    reasons=("severity=critical -> P1",),
)


@dataclass
class Env:
    """A connector wired to a running fake, and the fake's state."""

    connector: TeamsConnector
    fake: FakeTracker
    base: str
    make: Callable[..., TeamsConnector]

    def card(self, index: int = -1) -> dict[str, Any]:
        """The Adaptive Card of one posted message."""
        body = orjson.loads(self.fake.requests[index][3])
        card: dict[str, Any] = body["attachments"][0]["content"]
        return card


@pytest.fixture
async def env(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Env]:
    """The fake trigger over loopback HTTP and a connector configured for it."""
    server = await aiohttp_server(fake_teams.create_app())
    base = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:

        def make(**overrides: Any) -> TeamsConnector:
            config = TeamsConfig.model_validate({**fake_teams.connector_config(base), **overrides})
            return TeamsConnector(config, session)

        yield Env(make(), server.app[FAKE], base, make)


def _facts(card: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}


async def test_open_posts_a_message_with_one_adaptive_card(env: Env) -> None:
    """Open: a POST to the trigger URL (api-version, sig) with a Teams message holding one card 1.4."""
    ref = await env.connector.open_incident(REQUEST)
    assert (ref.key, ref.url) == ("triaged-inc_1", REQUEST.url)
    [(method, path, headers, raw)] = env.fake.requests
    assert method == "POST"
    assert path.startswith(fake_teams.PATH + "?api-version=2016-06-01&")
    assert path.endswith(f"&sig={fake_teams.SIG}")
    assert headers["Content-Type"] == "application/json"
    body = orjson.loads(raw)
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"] == "P2 HighErrorRate (cluster=prod-eu)"
    assert card["body"][0]["color"] == "Attention"
    assert _facts(card) == {"Priority": "P2", "Status": "open", "Alerts": "1", "Incident": "triaged-inc_1"}
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in triaged", "url": REQUEST.url}]
    assert card["body"][-1]["text"] == "- [firing] **HighErrorRate**: 5xx at 12%"


async def test_update_and_resolve_post_follow_up_cards(env: Env) -> None:
    """Update carries the note and new priority; resolve is green and lists no alerts."""
    ref = await env.connector.open_incident(REQUEST)
    await env.connector.update_incident(ref, replace(REQUEST, priority="P1", note="api-2 joined"))
    card = env.card()
    assert card["body"][0]["text"].startswith("Update: P1 ")
    assert card["body"][1] == {
        "type": "TextBlock",
        "text": "**Update:** api-2 joined",
        "wrap": True,
        "id": "note",
    }
    assert _facts(card)["Priority"] == "P1"
    await env.connector.resolve_incident(ref, replace(REQUEST, status="resolved"))
    card = env.card()
    assert (card["body"][0]["text"][:10], card["body"][0]["color"]) == ("Resolved: ", "Good")
    assert not any("**HighErrorRate**" in b.get("text", "") for b in card["body"])
    assert env.fake.tickets["triaged-inc_1"].status == "resolved"


async def test_long_alert_lists_are_cut(env: Env) -> None:
    """More than 15 alerts end in an '…and N more' line (Teams messages are limited to ~28 KB)."""
    alerts = tuple(AlertLine(f"fp{i}", f"Alert{i}", "firing") for i in range(20))
    await env.connector.open_incident(replace(REQUEST, alerts=alerts))
    lines = env.card()["body"][-1]["text"].split("\n")
    assert len(lines) == 16
    assert lines[-1] == "- …and 5 more"


async def test_healthcheck_gets_the_trigger_without_running_it(env: Env) -> None:
    """The healthcheck GETs the URL: the POST-only trigger refuses it (400) and posts nothing."""
    await env.connector.healthcheck()
    [(method, _, _, _)] = env.fake.requests
    assert method == "GET"
    assert env.fake.tickets == {}


async def test_healthcheck_names_bad_signature_and_deleted_flow(env: Env) -> None:
    """A wrong sig (401) and an unknown workflow (404) are credential problems."""
    good = fake_teams.connector_config(env.base)["webhook_url"]
    assert isinstance(good, str)
    with pytest.raises(ConnectorAuthError) as info:
        await env.make(webhook_url=good.replace(fake_teams.SIG, "wrongSignature")).healthcheck()
    assert info.value.status == 401
    assert "wrongSignature" not in str(info.value)
    with pytest.raises(ConnectorAuthError) as info:
        await env.make(webhook_url=good.replace(fake_teams.WORKFLOW, "deadbeef")).healthcheck()
    assert info.value.status == 404


async def test_healthcheck_checks_the_url_shape_first(env: Env) -> None:
    """No sig, or not a workflow URL: refused without any request."""
    with pytest.raises(ConnectorAuthError, match="no sig"):
        await env.make(webhook_url=f"{env.base}{fake_teams.PATH}?api-version=1").healthcheck()
    with pytest.raises(ConnectorRejected, match="not a Workflows trigger URL"):
        await env.make(webhook_url=f"{env.base}/webhookb2/x?sig=y").healthcheck()
    assert env.fake.requests == []


async def test_trigger_refusing_the_body_is_permanent(env: Env) -> None:
    """A 400 from the trigger is a permanent refusal, and the message never quotes the URL."""
    env.fake.fail(400, body={"error": {"code": "InvalidTemplate", "message": "bad"}})
    with pytest.raises(ConnectorRejected) as info:
        await env.connector.open_incident(REQUEST)
    assert not isinstance(info.value, ConnectorAuthError)
    assert "InvalidTemplate" in str(info.value)
    assert fake_teams.SIG not in str(info.value)


def test_config_keeps_the_url_secret_and_derives_endpoint() -> None:
    """endpoint is the URL's origin (an explicit :443 is the same origin); the URL never shows."""
    url = (
        "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke"
        "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SECRETsig"
    )
    config = TeamsConfig.model_validate({"webhook_url": url})
    assert str(config.endpoint) == "https://prod-12.westeurope.logic.azure.com/"
    assert "SECRETsig" not in repr(config)
    with pytest.raises(ValidationError) as info:
        TeamsConfig.model_validate({"webhook_url": url, "endpoint": "https://other.example"})
    assert "SECRETsig" not in str(info.value)
