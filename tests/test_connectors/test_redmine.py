"""Redmine connector against the fake Redmine REST API over loopback HTTP: the exact calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from fakes import redmine as fake_redmine
from fakes.base import FAKE, FakeTracker
from pydantic import ValidationError

from connectors.base import PRIORITIES, AlertLine, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable
from connectors.redmine import DEFAULT_PRIORITY_IDS, RedmineConfig, RedmineConnector

REQ = IncidentRequest(
    incident_id="inc_01RM",
    title="QueueBacklog (queue=orders)",
    priority="P2",
    status="open",
    summary="Backlog of 12k messages",
    alerts=(AlertLine("fp1", "QueueBacklog", "firing", "12k messages"),),
    reasons=("severity=warning",),
)
CF = fake_redmine.MARKER_FIELD


@dataclass
class Rig:
    """A connector wired to a running fake, and the fake's state."""

    connector: RedmineConnector
    fake: FakeTracker
    state: fake_redmine.RedmineState
    base: str
    session: aiohttp.ClientSession

    def connect(self, **overrides: Any) -> RedmineConnector:
        """Another connector on the same fake, with config overrides."""
        config = RedmineConfig.model_validate({**fake_redmine.connector_config(self.base), **overrides})
        return RedmineConnector(config, self.session)

    def calls(self) -> list[tuple[str, str]]:
        """(method, path?query) of every request the fake saw."""
        return [(m, p) for m, p, _, _ in self.fake.requests]

    def body(self, index: int) -> Any:
        """The JSON body of one logged request."""
        return orjson.loads(self.fake.requests[index][3])


@pytest.fixture
async def rig(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Rig]:
    """The connector against a fresh fake Redmine."""
    app: web.Application = fake_redmine.create_app()
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    session = aiohttp.ClientSession()
    config = RedmineConfig.model_validate(fake_redmine.connector_config(base))
    yield Rig(RedmineConnector(config, session), app[FAKE], app[fake_redmine.STATE], base, session)
    await session.close()


async def test_open_sends_the_documented_create_call(rig: Rig) -> None:
    """POST /issues.json {"issue": ...} with the API key header and the marker custom field."""
    ref = await rig.connect(tracker_id=3).open_incident(REQ)
    [(method, path, headers, raw)] = rig.fake.requests
    assert (method, path) == ("POST", "/issues.json")
    assert headers["X-Redmine-API-Key"] == fake_redmine.API_KEY
    issue = orjson.loads(raw)["issue"]
    assert issue["project_id"] == "ops"
    assert issue["subject"] == REQ.title
    assert issue["priority_id"] == 4  # P2 -> Urgent
    assert issue["tracker_id"] == 3
    assert issue["custom_fields"] == [{"id": CF, "value": "triaged-inc_01RM"}]
    assert "12k messages" in issue["description"]
    assert ref == IncidentRef(key="1", url=f"{rig.base}/issues/1")


@pytest.mark.parametrize("priority", PRIORITIES)
async def test_priorities_map_onto_the_default_enumeration(rig: Rig, priority: str) -> None:
    """P1..P5 -> Immediate(5), Urgent(4), High(3), Normal(2), Low(1), on create and update."""
    ref = await rig.connector.open_incident(replace(REQ, priority=priority))
    issue = rig.fake.tickets[ref.key].raw
    assert issue["priority"]["id"] == DEFAULT_PRIORITY_IDS[priority] == 6 - int(priority[1])
    assert rig.fake.tickets[ref.key].priority == priority
    other = "P5" if priority != "P5" else "P1"
    await rig.connector.update_incident(ref, replace(REQ, priority=other))
    assert rig.fake.tickets[ref.key].priority == other


async def test_update_is_one_put_with_the_note_as_journal(rig: Rig) -> None:
    """PUT /issues/1.json {"issue": {description, priority_id, notes}} answered 204."""
    ref = await rig.connector.open_incident(REQ)
    rig.fake.requests.clear()
    await rig.connector.update_incident(ref, replace(REQ, priority="P1", note="orders-2 joined"))
    assert rig.calls() == [("GET", "/issues/1.json?include=journals"), ("PUT", "/issues/1.json")]
    change = rig.body(1)["issue"]
    assert change["priority_id"] == 5
    assert change["notes"] == "orders-2 joined"
    assert "status_id" not in change
    assert rig.fake.tickets[ref.key].comments == ["orders-2 joined"]


async def test_a_retried_update_does_not_add_the_note_twice(rig: Rig) -> None:
    """The latest journal with notes is read first: the same note is not sent again."""
    ref = await rig.connector.open_incident(REQ)
    update = replace(REQ, note="orders-2 joined")
    await rig.connector.update_incident(ref, update)
    await rig.connector.update_incident(ref, replace(update, priority="P1"))  # priority journal only
    await rig.connector.update_incident(ref, update)
    assert rig.fake.tickets[ref.key].comments == ["orders-2 joined"]
    assert "notes" not in rig.body(-1)["issue"]
    await rig.connector.update_incident(ref, replace(REQ, note="orders-3 joined"))
    assert rig.fake.tickets[ref.key].comments == ["orders-2 joined", "orders-3 joined"]


async def test_acknowledged_sets_the_configured_status_only(rig: Rig) -> None:
    """acknowledged -> acknowledged_status_id when configured; without it, no status change."""
    ref = await rig.connector.open_incident(REQ)
    await rig.connector.update_incident(ref, replace(REQ, status="acknowledged"))
    assert "status_id" not in rig.body(-1)["issue"]
    assert rig.fake.tickets[ref.key].status == "open"
    await rig.connect(acknowledged_status_id=2).update_incident(ref, replace(REQ, status="acknowledged"))
    assert rig.body(-1)["issue"]["status_id"] == 2
    assert rig.fake.tickets[ref.key].status == "acknowledged"


async def test_resolve_sets_the_closed_status_and_reads_it_back(rig: Rig) -> None:
    """PUT status_id=5, then GET to see it took; resolving twice is harmless."""
    ref = await rig.connector.open_incident(REQ)
    rig.fake.requests.clear()
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert rig.calls() == [("PUT", "/issues/1.json"), ("GET", "/issues/1.json")]
    assert rig.body(0) == {"issue": {"status_id": 5}}
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert rig.fake.tickets[ref.key].status == "resolved"


async def test_a_close_the_workflow_ignores_is_reported(rig: Rig) -> None:
    """Redmine answers 204 but keeps the status when the workflow forbids it: rejected."""
    ref = await rig.connector.open_incident(REQ)
    rig.state.allowed_statuses = {1, 2, 3, 4}
    with pytest.raises(ConnectorRejected, match="workflow") as info:
        await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert not isinstance(info.value, ConnectorAuthError)
    assert rig.fake.tickets[ref.key].status == "open"


async def test_an_issue_a_person_rejected_counts_as_closed(rig: Rig) -> None:
    """Another closed status (6 Rejected) is accepted: the ticket is over either way."""
    ref = await rig.connector.open_incident(REQ)
    rig.state.allowed_statuses = {6}
    issue = rig.fake.tickets[ref.key].raw
    issue["status"] = {"id": 6, "name": "Rejected", "is_closed": True}
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))


async def test_resolving_a_deleted_issue_is_done(rig: Rig) -> None:
    """404 (the issue was deleted) is not an error for resolve, but is for update."""
    ref = await rig.connector.open_incident(REQ)
    del rig.fake.tickets[ref.key]
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved", note="resolved"))
    with pytest.raises(ConnectorRejected) as info:
        await rig.connector.update_incident(ref, REQ)
    assert info.value.status == 404


async def test_an_unreadable_success_is_retried_not_trusted(rig: Rig) -> None:
    """A 201 without {"issue": ...} (a proxy's page) may hide a created issue: Unavailable."""
    rig.fake.fail(201, body={"unexpected": "answer"})
    with pytest.raises(ConnectorUnavailable, match="not a Redmine issue"):
        await rig.connector.open_incident(REQ)


async def test_validation_errors_are_rejected_with_their_messages(rig: Rig) -> None:
    """422 {"errors": [...]}: permanent, and the message carries Redmine's reasons."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connector.open_incident(replace(REQ, title=""))
    assert info.value.status == 422
    assert "Subject cannot be blank" in str(info.value)


async def test_find_filters_on_the_custom_field_over_all_statuses(rig: Rig) -> None:
    """GET /issues.json?project_id=ops&cf_12=<marker>&status_id=*: closed issues are found too."""
    assert await rig.connector.find_incident(REQ) is None
    [(method, path)] = rig.calls()
    assert method == "GET"
    assert path == f"/issues.json?project_id=ops&cf_{CF}=triaged-inc_01RM&status_id=*&sort=id&limit=100"
    await rig.connector.open_incident(replace(REQ, incident_id="inc_other"))
    ref = await rig.connector.open_incident(REQ)
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert await rig.connector.find_incident(REQ) == ref


async def test_an_unfilterable_field_never_finds_a_wrong_issue(rig: Rig) -> None:
    """If Redmine ignores cf_<id> (not 'Used as a filter'), results are checked for the marker."""
    await rig.connector.open_incident(replace(REQ, incident_id="inc_other"))
    rig.state.filterable_fields = set()
    assert await rig.connector.find_incident(REQ) is None
    with pytest.raises(ConnectorRejected, match="Used as a filter"):
        await rig.connector.healthcheck()


async def test_healthcheck_checks_key_project_field_and_filter(rig: Rig) -> None:
    """users/current, the project with its fields and trackers, a cf_ probe; nothing written."""
    await rig.connect(tracker_id=1).healthcheck()
    assert rig.calls() == [
        ("GET", "/users/current.json"),
        ("GET", "/projects/ops.json?include=trackers,issue_custom_fields"),
        (
            "GET",
            f"/issues.json?project_id=ops&cf_{CF}=triaged-healthcheck-probe-no-such-incident"
            "&status_id=*&sort=id&limit=1",
        ),
    ]
    assert rig.fake.tickets == {}


async def test_healthcheck_reports_a_marker_field_not_enabled_for_the_project(rig: Rig) -> None:
    """A custom field not enabled for the project is dropped on create: the check says so."""
    rig.state.enabled_fields = set()
    with pytest.raises(ConnectorRejected, match=f"custom field {CF} is not enabled"):
        await rig.connector.healthcheck()
    await rig.connector.open_incident(REQ)  # and indeed: created without its marker
    assert rig.fake.tickets["1"].marker is None


async def test_healthcheck_reports_a_tracker_not_enabled(rig: Rig) -> None:
    """tracker_id must be one of the project's trackers."""
    with pytest.raises(ConnectorRejected, match="tracker 9"):
        await rig.connect(tracker_id=9).healthcheck()


async def test_healthcheck_with_a_wrong_key_is_an_auth_error(rig: Rig) -> None:
    """401 from /users/current.json: ConnectorAuthError without the key in the message."""
    with pytest.raises(ConnectorAuthError) as info:
        await rig.connect(api_key="wrong-key-0123456789").healthcheck()
    assert "wrong-key" not in str(info.value)


def test_config_validates_priority_ids() -> None:
    """Only P1..P5 may be mapped; the default is Redmine's default enumeration."""
    base = {"endpoint": "https://redmine.example/", "api_key": "k", "project": "ops", "marker_field_id": 3}
    assert RedmineConfig.model_validate(base).priority_ids == DEFAULT_PRIORITY_IDS
    with pytest.raises(ValidationError, match="P9"):
        RedmineConfig.model_validate({**base, "priority_ids": {"P9": 1}})
    with pytest.raises(ValidationError):
        RedmineConfig.model_validate({**base, "marker_field_id": 0})
