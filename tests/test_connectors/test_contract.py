"""Every registered connector against its fake tracker: the behaviour delivery relies on.

Each fake lives in ``tests/fakes/<name>.py`` and exposes ``NAME``, ``create_app()``
and ``connector_config(base_url)``; ``FAKES`` below lists them explicitly.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from fakes import github as fake_github
from fakes import gitlab as fake_gitlab
from fakes import jira_cloud as fake_jira_cloud
from fakes import jira_server as fake_jira_server
from fakes import opsgenie as fake_opsgenie
from fakes import pagerduty as fake_pagerduty
from fakes import redmine as fake_redmine
from fakes import roundup as fake_roundup
from fakes import servicenow as fake_servicenow
from fakes import slack as fake_slack
from fakes import teams as fake_teams
from fakes import webhook as fake_webhook
from fakes.base import FAKE

from connectors import CONNECTORS
from connectors.base import AlertLine, Findable, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable

FAKES: dict[str, ModuleType] = {
    m.NAME: m
    for m in (
        fake_webhook,
        fake_slack,
        fake_teams,
        fake_roundup,
        fake_github,
        fake_gitlab,
        fake_redmine,
        fake_jira_cloud,
        fake_jira_server,
        fake_servicenow,
        fake_pagerduty,
        fake_opsgenie,
    )
}


def _extra_connectors() -> dict[str, Any]:
    """Connectors under development, not yet registered, from TRIAGED_CONTRACT_EXTRA.

    Format: ``name=package.module:ClassName=fakes.module`` separated by commas; lets a
    connector be run through this contract before it is added to ``CONNECTORS``.
    """
    extra: dict[str, Any] = {}
    for item in filter(None, os.environ.get("TRIAGED_CONTRACT_EXTRA", "").split(",")):
        name, target, fake_module = item.split("=")
        module_name, _, cls_name = target.partition(":")
        extra[name] = getattr(importlib.import_module(module_name), cls_name)
        FAKES[name] = importlib.import_module(fake_module)
    return extra


ALL = {**CONNECTORS, **_extra_connectors()}

REQUEST = IncidentRequest(
    incident_id="inc_01TEST",
    title="HighErrorRate (cluster=prod-eu)",
    priority="P2",
    status="open",
    summary="High 5xx rate on checkout",
    alerts=(
        AlertLine(
            "06359bc0f254a8a0",
            "HighErrorRate",
            "firing",
            "5xx at 12%",
            {"cluster": "prod-eu", "instance": "api-1:8080"},
        ),
    ),
    group_labels={"alertname": "HighErrorRate", "cluster": "prod-eu"},
    url="http://triaged.example/api/v1/incidents/inc_01TEST",
    reasons=("severity=critical -> P1",),
)


def test_every_connector_has_a_fake() -> None:
    """A connector without a fake would escape the contract."""
    assert set(ALL) == set(FAKES)


@pytest.fixture(params=sorted(ALL))
async def tracker(request: pytest.FixtureRequest, aiohttp_server: Callable[..., Any]) -> Any:
    """(connector, fake state) for each registered connector, over real loopback HTTP."""
    name = request.param
    module = FAKES[name]
    server: TestServer = await aiohttp_server(module.create_app())
    base = str(server.make_url("")).rstrip("/")
    cls = ALL[name]
    config = cls.Config.model_validate(module.connector_config(base))
    session = aiohttp.ClientSession()
    yield cls(config, session), server.app[FAKE], module, base
    await session.close()


async def test_open_update_resolve(tracker: Any) -> None:
    """One ticket per incident, marked with its identity; updated; resolved."""
    connector, fake, _, _ = tracker
    ref = await connector.open_incident(REQUEST)
    assert isinstance(ref, IncidentRef)
    assert ref.key
    [ticket] = fake.by_marker(REQUEST.marker)
    assert ticket.status == "open"
    update = _with(REQUEST, priority="P1", note="api-2 joined the incident")
    await connector.update_incident(ref, update)
    [ticket] = fake.by_marker(REQUEST.marker)
    # Fakes translate the vendor's priority back to P1..P5. A tracker shows an update as
    # the new priority, or as a comment/message carrying the note (or both).
    assert ticket.priority == "P1" or any("api-2 joined" in c for c in ticket.comments)
    await connector.resolve_incident(ref, _with(REQUEST, status="resolved"))
    assert fake.by_marker(REQUEST.marker)[0].status == "resolved"
    assert len(fake.tickets) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retryable(tracker: Any, status: int) -> None:
    """5xx: ConnectorUnavailable, and nothing was created."""
    connector, fake, _, _ = tracker
    fake.fail(status)
    with pytest.raises(ConnectorUnavailable) as info:
        await connector.open_incident(REQUEST)
    assert info.value.status == status
    assert fake.tickets == {}


async def test_429_with_and_without_retry_after(tracker: Any) -> None:
    """429 is retryable, carrying the tracker's Retry-After when it sends one."""
    connector, fake, _, _ = tracker
    fake.fail(429, headers={"Retry-After": "7"})
    with pytest.raises(ConnectorUnavailable) as info:
        await connector.open_incident(REQUEST)
    assert info.value.retry_after == 7
    fake.fail(429)
    with pytest.raises(ConnectorUnavailable) as info:
        await connector.open_incident(REQUEST)
    assert info.value.retry_after is None


@pytest.mark.parametrize("status", [400, 404, 409, 422])
async def test_client_errors_are_permanent(tracker: Any, status: int) -> None:
    """Other 4xx: ConnectorRejected (dead-lettered by delivery), not retried blindly."""
    connector, fake, _, _ = tracker
    fake.fail(status)
    with pytest.raises(ConnectorRejected) as info:
        await connector.open_incident(REQUEST)
    assert not isinstance(info.value, ConnectorAuthError)


async def test_401_is_an_auth_error_without_secrets(tracker: Any) -> None:
    """401: ConnectorAuthError whose message holds no configured secret."""
    connector, fake, module, base = tracker
    fake.fail(401)
    with pytest.raises(ConnectorAuthError) as info:
        await connector.open_incident(REQUEST)
    for value in module.connector_config(base).values():
        if isinstance(value, str) and not value.startswith("http") and len(value) > 8:
            assert value not in str(info.value)


async def test_slow_answer_is_retryable(tracker: Any) -> None:
    """An answer slower than the timeout: ConnectorUnavailable."""
    connector, fake, _, _ = tracker
    fake.delay(connector.config.timeout + 1)
    with pytest.raises(ConnectorUnavailable):
        await connector.open_incident(REQUEST)


async def test_commit_then_timeout_is_found_not_duplicated(tracker: Any) -> None:
    """The tracker created the ticket but the answer never came: find it, do not create twice."""
    connector, fake, _, _ = tracker
    fake.commit_then_hang(connector.config.timeout + 1, method="POST")
    with pytest.raises(ConnectorUnavailable):
        await connector.open_incident(REQUEST)
    assert len(fake.by_marker(REQUEST.marker)) == 1
    if isinstance(connector, Findable):
        ref = await connector.find_incident(REQUEST)
        assert ref is not None
        assert await connector.find_incident(_with(REQUEST, incident_id="inc_other")) is None
    else:
        pytest.skip(
            f"{connector.name} cannot look tickets up: duplicates are possible, or (PagerDuty) the"
            " vendor merges them by dedup key (docs/connectors.md)"
        )


async def test_healthcheck(tracker: Any) -> None:
    """The healthcheck passes with good credentials and says 'auth' with bad ones."""
    connector, fake, _, _ = tracker
    await connector.healthcheck()
    fake.fail(401)
    with pytest.raises(ConnectorAuthError):
        await connector.healthcheck()


def _with(req: IncidentRequest, **changes: Any) -> IncidentRequest:
    from dataclasses import replace

    return replace(req, **changes)
