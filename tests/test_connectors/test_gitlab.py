"""GitLab Issues connector against the fake GitLab API v4 over loopback HTTP: the exact calls."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from fakes import gitlab as fake_gitlab
from fakes.base import FAKE, FakeTracker

from connectors.base import AlertLine, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable
from connectors.gitlab import GitLabConfig, GitLabConnector

REQ = IncidentRequest(
    incident_id="inc_01GL",
    title="DiskFull (node=db-1)",
    priority="P2",
    status="open",
    summary="Disk 97% full",
    alerts=(AlertLine("fp1", "DiskFull", "firing", "97% used"),),
    reasons=("severity=critical",),
)
BY_PATH = "/api/v4/projects/ops%2Fincidents"
BY_ID = f"/api/v4/projects/{fake_gitlab.PROJECT_ID}"


@dataclass
class Rig:
    """A connector wired to a running fake, and the fake's state."""

    connector: GitLabConnector
    fake: FakeTracker
    state: fake_gitlab.GitLabState
    base: str
    session: aiohttp.ClientSession

    def connect(self, **overrides: Any) -> GitLabConnector:
        """Another connector on the same fake, with config overrides."""
        config = GitLabConfig.model_validate({**fake_gitlab.connector_config(self.base), **overrides})
        return GitLabConnector(config, self.session)

    def calls(self) -> list[tuple[str, str]]:
        """(method, path?query) of every request the fake saw."""
        return [(m, p) for m, p, _, _ in self.fake.requests]

    def body(self, index: int) -> Any:
        """The JSON body of one logged request."""
        return orjson.loads(self.fake.requests[index][3])


@pytest.fixture
async def rig(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Rig]:
    """The connector against a fresh fake GitLab."""
    app: web.Application = fake_gitlab.create_app()
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    session = aiohttp.ClientSession()
    config = GitLabConfig.model_validate(fake_gitlab.connector_config(base))
    yield Rig(GitLabConnector(config, session), app[FAKE], app[fake_gitlab.STATE], base, session)
    await session.close()


async def test_open_sends_the_documented_create_call(rig: Rig) -> None:
    """POST /projects/<url-encoded path>/issues, PRIVATE-TOKEN, labels as one comma list."""
    ref = await rig.connect(labels=["incident"], issue_type="incident").open_incident(REQ)
    [(method, path, headers, raw)] = rig.fake.requests
    assert (method, path) == ("POST", f"{BY_PATH}/issues")
    assert headers["PRIVATE-TOKEN"] == fake_gitlab.TOKEN
    body = orjson.loads(raw)
    assert body["labels"] == "triaged-inc_01GL,priority::P2,incident"
    assert body["issue_type"] == "incident"
    assert body["title"] == REQ.title
    assert "97% used" in body["description"]
    assert ref == IncidentRef(
        key="1",
        url=f"https://gitlab.example.com/{fake_gitlab.PROJECT_PATH}/-/issues/1",
        extra={"project_id": fake_gitlab.PROJECT_ID},
    )
    assert rig.fake.by_marker(REQ.marker)[0].priority == "P2"


async def test_update_swaps_the_priority_label_by_numeric_project_id(rig: Rig) -> None:
    """One PUT with add_labels/remove_labels/description, addressed by the stored project id."""
    ref = await rig.connector.open_incident(REQ)
    rig.fake.tickets[ref.key].raw["labels"].append("team::payments")
    rig.fake.requests.clear()
    await rig.connector.update_incident(ref, replace(REQ, priority="P1"))
    assert rig.calls() == [("PUT", f"{BY_ID}/issues/1")]
    change = rig.body(0)
    assert change["add_labels"] == "triaged-inc_01GL,priority::P1"
    assert change["remove_labels"] == "priority::P2,priority::P3,priority::P4,priority::P5"
    assert "Priority P1" in change["description"]
    ticket = rig.fake.tickets[ref.key]
    assert ticket.priority == "P1"
    assert ticket.raw["labels"] == ["triaged-inc_01GL", "team::payments", "priority::P1"]


async def test_a_retried_update_does_not_add_the_note_twice(rig: Rig) -> None:
    """The latest non-system note is compared first: label system notes do not hide ours."""
    ref = await rig.connector.open_incident(REQ)
    update = replace(REQ, priority="P1", note="db-2 joined")
    await rig.connector.update_incident(ref, update)
    rig.fake.requests.clear()
    await rig.connector.update_incident(ref, update)  # the answer was lost: delivery retries
    assert ("GET", f"{BY_ID}/issues/1/notes?sort=desc&order_by=created_at&per_page=20") in rig.calls()
    assert not any(m == "POST" for m, _ in rig.calls())
    await rig.connector.update_incident(ref, replace(update, priority="P2"))  # same note, new priority
    assert len(rig.fake.tickets[ref.key].comments) == 2
    assert rig.fake.tickets[ref.key].comments[0].startswith("db-2 joined")


async def test_resolve_closes_with_state_event(rig: Rig) -> None:
    """PUT state_event=close; resolving again keeps it closed without error."""
    ref = await rig.connector.open_incident(REQ)
    rig.fake.requests.clear()
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert rig.calls() == [("PUT", f"{BY_ID}/issues/1")]
    assert rig.body(0) == {"state_event": "close"}
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved", note="resolved"))
    ticket = rig.fake.tickets[ref.key]
    assert ticket.status == "resolved"
    assert len(ticket.comments) == 1


async def test_resolving_a_deleted_issue_is_done(rig: Rig) -> None:
    """404 on close (the issue was deleted) is not an error for resolve, but is for update."""
    ref = await rig.connector.open_incident(REQ)
    del rig.fake.tickets[ref.key]
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    with pytest.raises(ConnectorRejected) as info:
        await rig.connector.update_incident(ref, REQ)
    assert info.value.status == 404


async def test_find_lists_issues_by_the_marker_label(rig: Rig) -> None:
    """find: GET .../issues?labels=<marker> over all states; the oldest match."""
    assert await rig.connector.find_incident(REQ) is None
    [(method, path)] = rig.calls()
    assert method == "GET"
    assert (
        path
        == f"{BY_PATH}/issues?labels=triaged-inc_01GL&scope=all&order_by=created_at&sort=asc&per_page=100"
    )
    ref = await rig.connector.open_incident(REQ)
    await rig.connector.open_incident(replace(REQ, incident_id="inc_other"))
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert await rig.connector.find_incident(REQ) == ref


@pytest.mark.parametrize(
    ("token", "inherited", "enabled", "error"),
    [
        (fake_gitlab.TOKEN, False, True, None),
        (fake_gitlab.TOKEN, True, True, None),  # access from a parent group: cannot tell, pass
        (fake_gitlab.GUEST_TOKEN, False, True, ConnectorAuthError),
        (fake_gitlab.TOKEN, False, False, ConnectorRejected),
    ],
)
async def test_healthcheck_reads_the_project_access_level(
    rig: Rig, token: str, inherited: bool, enabled: bool, error: type[Exception] | None
) -> None:
    """GET /projects/:id: Reporter or more, issues enabled; nothing is written."""
    rig.state.inherited_access, rig.state.issues_enabled = inherited, enabled
    connector = rig.connect(token=token)
    if error is None:
        await connector.healthcheck()
    else:
        with pytest.raises(error):
            await connector.healthcheck()
    assert rig.calls() == [("GET", BY_PATH)]


async def test_a_guest_token_would_lose_the_marker(rig: Rig) -> None:
    """Why the healthcheck insists on Reporter: GitLab drops a Guest's labels silently."""
    await rig.connect(token=fake_gitlab.GUEST_TOKEN).open_incident(REQ)
    assert rig.fake.tickets["1"].marker is None


async def test_rate_limit_uses_ratelimit_reset(rig: Rig) -> None:
    """429 with RateLimit-Reset (epoch seconds) and no Retry-After: wait until the reset."""
    reset = int(time.time()) + 45
    rig.fake.fail(429, headers={"RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)})
    with pytest.raises(ConnectorUnavailable) as info:
        await rig.connector.open_incident(REQ)
    assert info.value.retry_after is not None
    assert 35 <= info.value.retry_after <= 46


async def test_an_unreadable_success_is_retried_not_trusted(rig: Rig) -> None:
    """A 201 that is not an issue (a proxy's page) may hide a created issue: Unavailable."""
    rig.fake.fail(201, body=["unexpected"])
    with pytest.raises(ConnectorUnavailable, match="not a GitLab issue"):
        await rig.connector.open_incident(REQ)


async def test_missing_parameters_are_rejected(rig: Rig) -> None:
    """400 {"error": "title is missing"} is permanent and says why."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connector.open_incident(replace(REQ, title=""))
    assert info.value.status == 400
    assert "title is missing" in str(info.value)


async def test_unknown_project_is_rejected(rig: Rig) -> None:
    """404 Project Not Found: rejected, not retried."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connect(project="ops/nope").open_incident(REQ)
    assert info.value.status == 404


async def test_endpoint_may_already_name_the_api(rig: Rig) -> None:
    """An endpoint ending in /api/v4 is not doubled; a numeric project id works as is."""
    connector = rig.connect(endpoint=f"{rig.base}/api/v4", project=str(fake_gitlab.PROJECT_ID))
    await connector.open_incident(REQ)
    assert rig.calls() == [("POST", f"{BY_ID}/issues")]


def test_config_rejects_labels_with_commas() -> None:
    """Labels travel as one comma-separated string, so a comma would split one in two."""
    with pytest.raises(ValueError, match="commas"):
        GitLabConfig.model_validate({"project": "ops/incidents", "token": "t", "labels": ["a,b"]})
    config = GitLabConfig.model_validate({"project": "ops/incidents", "token": "t"})
    assert str(config.endpoint) == "https://gitlab.com/"
