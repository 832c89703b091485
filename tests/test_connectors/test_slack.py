"""Slack connector against the fake Incoming Webhook: request shape, Block Kit, healthcheck, config."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson
import pytest
from fakes import slack as fake_slack
from fakes.base import FAKE, FakeTracker
from pydantic import ValidationError

from connectors.base import AlertLine, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected
from connectors.slack import SlackConfig, SlackConnector

REQUEST = IncidentRequest(
    incident_id="inc_1",
    title="HighErrorRate (cluster=prod-eu)",
    priority="P2",
    status="open",
    summary="5xx on checkout",
    alerts=(AlertLine("fp", "HighErrorRate", "firing", "5xx at 12%"),),
    team="payments",
    url="http://triaged.example/api/v1/incidents/inc_1",
    reasons=("severity=critical -> P1",),
)
HOOK_PATH = f"/services/{fake_slack.TEAM}/{fake_slack.BOT}/{fake_slack.TOKEN}"


@dataclass
class Env:
    """A connector wired to a running fake, and the fake's state."""

    connector: SlackConnector
    fake: FakeTracker
    base: str
    make: Callable[..., SlackConnector]

    def posted(self, index: int = -1) -> dict[str, Any]:
        """The JSON body of one request the fake saw."""
        body: dict[str, Any] = orjson.loads(self.fake.requests[index][3])
        return body


@pytest.fixture
async def env(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Env]:
    """The fake webhook over loopback HTTP and a connector configured for it."""
    server = await aiohttp_server(fake_slack.create_app())
    base = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:

        def make(**overrides: Any) -> SlackConnector:
            config = SlackConfig.model_validate({**fake_slack.connector_config(base), **overrides})
            return SlackConnector(config, session)

        yield Env(make(), server.app[FAKE], base, make)


def _blocks(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in body["blocks"] if b["type"] == kind]


async def test_open_posts_block_kit_message(env: Env) -> None:
    """Open: one JSON POST to the webhook path with fallback text, header, fields and marker."""
    ref = await env.connector.open_incident(REQUEST)
    assert (ref.key, ref.url) == ("triaged-inc_1", REQUEST.url)
    [(method, path, headers, _)] = env.fake.requests
    assert (method, path, headers["Content-Type"]) == ("POST", HOOK_PATH, "application/json")
    body = env.posted()
    assert body["text"] == "[P2] HighErrorRate (cluster=prod-eu) (triaged-inc_1)"
    header = body["blocks"][0]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": ":rotating_light: P2 HighErrorRate (cluster=prod-eu)",
            "emoji": True,
        },
    }
    fields = [f["text"] for b in _blocks(body, "section") for f in b.get("fields", [])]
    assert fields == ["*Priority*\nP2", "*Status*\nopen", "*Alerts*\n1", "*Team*\npayments"]
    [context] = _blocks(body, "context")
    assert context["elements"][0]["text"] == f"`triaged-inc_1` · <{REQUEST.url}|Open in triaged>"
    assert "• [firing] *HighErrorRate*: 5xx at 12%" in [b.get("text", {}).get("text") for b in body["blocks"]]


async def test_update_and_resolve_post_follow_ups(env: Env) -> None:
    """Update posts the note and the new priority; resolve posts a resolved message without alerts."""
    ref = await env.connector.open_incident(REQUEST)
    await env.connector.update_incident(ref, replace(REQUEST, priority="P1", note="api-2 joined"))
    body = env.posted()
    assert body["blocks"][0]["text"]["text"].startswith(":arrows_counterclockwise: Update: P1 ")
    assert body["blocks"][1]["text"]["text"] == "*Update:* api-2 joined"
    await env.connector.resolve_incident(ref, replace(REQUEST, status="resolved", note="all clear"))
    body = env.posted()
    assert body["blocks"][0]["text"]["text"].startswith(":white_check_mark: Resolved: P2 ")
    assert body["blocks"][1]["text"]["text"] == "*Resolved:* all clear"
    assert not any("HighErrorRate*" in b.get("text", {}).get("text", "") for b in body["blocks"])
    ticket = env.fake.tickets["triaged-inc_1"]
    assert (ticket.status, len(ticket.raw["messages"])) == ("resolved", 3)


async def test_mrkdwn_is_escaped(env: Env) -> None:
    """&, < and > are escaped in mrkdwn text (Slack would read <...> as a link), not in the header."""
    await env.connector.open_incident(replace(REQUEST, title="a<b", summary="x > y & <!channel>"))
    body = env.posted()
    assert body["blocks"][0]["text"]["text"].endswith("P2 a<b")
    assert body["blocks"][1]["text"]["text"].startswith("x &gt; y &amp; &lt;!channel&gt;")


async def test_block_kit_limits_are_respected(env: Env) -> None:
    """A long title, summary and many alerts stay within Block Kit limits (the fake checks them)."""
    alerts = tuple(AlertLine(f"fp{i}", f"Alert{i}", "firing") for i in range(40))
    await env.connector.open_incident(replace(REQUEST, title="T" * 400, summary="S" * 5000, alerts=alerts))
    body = env.posted()
    assert fake_slack.valid_blocks(body["blocks"])
    assert len(body["blocks"][0]["text"]["text"]) == 150
    alert_text = body["blocks"][-2]["text"]["text"]
    assert alert_text.count("\n") == 15
    assert alert_text.endswith("…and 25 more")


async def test_healthcheck_posts_empty_text_which_slack_refuses(env: Env) -> None:
    """The healthcheck POSTs {"text": ""}: 400 no_text proves the webhook, and nothing is posted."""
    await env.connector.healthcheck()
    assert env.posted() == {"text": ""}
    assert env.fake.tickets == {}


@pytest.mark.parametrize(("url_part", "status"), [(f"{fake_slack.BOT}/wrong-token", 403), ("BOTHER/x", 404)])
async def test_healthcheck_names_a_revoked_webhook(env: Env, url_part: str, status: int) -> None:
    """403 invalid_token and 404 no_service are credential problems for the healthcheck."""
    connector = env.make(webhook_url=f"{env.base}/services/{fake_slack.TEAM}/{url_part}")
    with pytest.raises(ConnectorAuthError) as info:
        await connector.healthcheck()
    assert info.value.status == status
    assert "wrong-token" not in str(info.value)


async def test_healthcheck_refuses_a_url_that_is_not_a_webhook(env: Env) -> None:
    """A URL without /services/T…/B…/… fails before any request."""
    with pytest.raises(ConnectorRejected, match="not a Slack webhook URL"):
        await env.make(webhook_url=f"{env.base}/hooks").healthcheck()
    assert env.fake.requests == []


async def test_archived_channel_is_permanent(env: Env) -> None:
    """410 channel_is_archived is a permanent refusal carrying Slack's code, never the URL."""
    env.fake.fail(410, body="channel_is_archived")
    with pytest.raises(ConnectorRejected) as info:
        await env.connector.open_incident(REQUEST)
    assert not isinstance(info.value, ConnectorAuthError)
    assert "channel_is_archived" in str(info.value)
    assert fake_slack.TOKEN not in str(info.value)


def test_config_keeps_the_url_secret_and_derives_endpoint() -> None:
    """endpoint defaults to the webhook's origin; reprs and validation errors never show the URL."""
    url = "https://hooks.slack.com/services/T0/B0/secretTOKENvalue"
    config = SlackConfig.model_validate({"webhook_url": url})
    assert str(config.endpoint) == "https://hooks.slack.com/"
    assert "secretTOKENvalue" not in repr(config)
    same = SlackConfig.model_validate({"webhook_url": url, "endpoint": "https://hooks.slack.com:443"})
    assert same.webhook_url.get_secret_value() == url
    with pytest.raises(ValidationError) as info:
        SlackConfig.model_validate({"webhook_url": url, "endpoint": "https://evil.example"})
    assert "not on endpoint" in str(info.value)
    assert "secretTOKENvalue" not in str(info.value)
