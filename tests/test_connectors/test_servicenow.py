"""ServiceNow connector against the fake Table API over loopback HTTP: the exact calls."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from fakes import servicenow as fake_sn
from fakes.base import FAKE, FakeTracker
from pydantic import ValidationError
from yarl import URL

from connectors.base import PRIORITIES, AlertLine, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable
from connectors.servicenow import DEFAULT_IMPACT_URGENCY, ServiceNowConfig, ServiceNowConnector

REQ = IncidentRequest(
    incident_id="inc_01SN",
    title="DiskFull (host=db-1)",
    priority="P2",
    status="open",
    summary="/var at 97%",
    alerts=(AlertLine("fp1", "DiskFull", "firing", "/var at 97%"),),
    reasons=("severity=critical",),
)
BASIC = "Basic " + base64.b64encode(f"{fake_sn.USER}:{fake_sn.PASSWORD}".encode()).decode()


@dataclass
class Rig:
    """A connector wired to a running fake instance, and the fake's state."""

    connector: ServiceNowConnector
    fake: FakeTracker
    instance: fake_sn.Instance
    base: str
    session: aiohttp.ClientSession

    def connect(self, **overrides: Any) -> ServiceNowConnector:
        """Another connector on the same fake, with config overrides (None removes a key)."""
        raw = {**fake_sn.connector_config(self.base), **overrides}
        config = ServiceNowConfig.model_validate({k: v for k, v in raw.items() if v is not None})
        return ServiceNowConnector(config, self.session)

    def call(self, index: int) -> tuple[str, str, dict[str, str], Any]:
        """(method, path, query, JSON body or None) of one logged request."""
        method, path_qs, _, raw = self.fake.requests[index]
        url = URL(path_qs)
        return method, url.path, dict(url.query), orjson.loads(raw) if raw else None

    def record(self, ref: IncidentRef) -> dict[str, Any]:
        """The raw incident record behind a reference."""
        return self.fake.tickets[ref.key].raw


@pytest.fixture
async def rig(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Rig]:
    """The connector against a fresh fake instance."""
    app: web.Application = fake_sn.create_app()
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    session = aiohttp.ClientSession()
    config = ServiceNowConfig.model_validate(fake_sn.connector_config(base))
    yield Rig(ServiceNowConnector(config, session), app[FAKE], app[fake_sn.INSTANCE], base, session)
    await session.close()


async def test_open_posts_the_documented_record(rig: Rig) -> None:
    """POST /api/now/table/incident with Basic auth, impact/urgency, marker in correlation_id."""
    connector = rig.connect(assignment_group=fake_sn.GROUP, extra_fields={"category": "software"})
    ref = await connector.open_incident(REQ)
    [(method, _, headers, _)] = rig.fake.requests
    assert headers["Authorization"] == BASIC
    assert headers["Accept"] == "application/json"
    method, path, query, body = rig.call(0)
    assert (method, path) == ("POST", "/api/now/table/incident")
    assert query["sysparm_fields"] == "sys_id,number"
    assert body == {
        "category": "software",
        "short_description": REQ.title,
        "description": REQ.description(),
        "impact": "1",
        "urgency": "2",
        "correlation_id": "triaged-inc_01SN",
        "correlation_display": "triaged",
        "assignment_group": fake_sn.GROUP,
    }
    record = rig.record(ref)
    assert ref.key == record["sys_id"]
    assert ref.extra == {"number": record["number"]}
    assert ref.url == f"{rig.base}/nav_to.do?uri=incident.do%3Fsys_id%3D{ref.key}"


async def test_oauth_token_is_sent_as_bearer(rig: Rig) -> None:
    """With ``oauth_token`` instead of username/password, requests carry a Bearer token."""
    connector = rig.connect(username=None, password=None, oauth_token=fake_sn.TOKEN)
    await connector.open_incident(REQ)
    assert rig.fake.requests[0][2]["Authorization"] == f"Bearer {fake_sn.TOKEN}"


@pytest.mark.parametrize("priority", PRIORITIES)
async def test_priority_round_trips_through_the_default_lookup_matrix(rig: Rig, priority: str) -> None:
    """Each P1..P5 becomes an impact/urgency pair that ServiceNow's default matrix maps back."""
    ref = await rig.connector.open_incident(replace(REQ, priority=priority))
    impact, urgency = DEFAULT_IMPACT_URGENCY[priority]
    record = rig.record(ref)
    assert (record["impact"], record["urgency"]) == (str(impact), str(urgency))
    assert record["priority"] == priority[1]
    assert rig.fake.tickets[ref.key].priority == priority


async def test_update_patches_fields_and_adds_the_note_as_a_work_note(rig: Rig) -> None:
    """Update reads the journal, then one PATCH with impact/urgency, description, work_notes."""
    ref = await rig.connector.open_incident(REQ)
    update = replace(REQ, priority="P1", note="db-2 joined")
    await rig.connector.update_incident(ref, update)
    _, path, query, _ = rig.call(1)
    assert path == f"/api/now/table/incident/{ref.key}"
    assert query == {"sysparm_fields": "work_notes", "sysparm_display_value": "true"}
    method, path, _, body = rig.call(2)
    assert (method, path) == ("PATCH", f"/api/now/table/incident/{ref.key}")
    assert body == {
        "description": update.description(),
        "impact": "1",
        "urgency": "1",
        "work_notes": "db-2 joined",
    }
    assert rig.fake.tickets[ref.key].priority == "P1"
    assert rig.instance.journals[ref.key] == {"work_notes": ["db-2 joined"]}


async def test_retried_update_does_not_repeat_the_note(rig: Rig) -> None:
    """The same note twice in a row (a retry after a lost answer) lands in the journal once."""
    ref = await rig.connector.open_incident(REQ)
    update = replace(REQ, note="line one\nline two")
    await rig.connector.update_incident(ref, update)
    await rig.connector.update_incident(ref, update)
    assert rig.instance.journals[ref.key]["work_notes"] == ["line one\nline two"]
    await rig.connector.update_incident(ref, replace(REQ, note="line one"))
    assert rig.instance.journals[ref.key]["work_notes"] == ["line one\nline two", "line one"]


async def test_notes_can_go_to_customer_visible_comments(rig: Rig) -> None:
    """``note_field: comments`` writes the note as an additional comment instead."""
    connector = rig.connect(note_field="comments")
    ref = await connector.open_incident(REQ)
    await connector.update_incident(ref, replace(REQ, note="visible"))
    assert rig.call(2)[3]["comments"] == "visible"
    assert rig.instance.journals[ref.key] == {"comments": ["visible"]}


async def test_acknowledged_sets_in_progress(rig: Rig) -> None:
    """status acknowledged -> state 2 (In Progress); no note, no journal read."""
    ref = await rig.connector.open_incident(REQ)
    await rig.connector.update_incident(ref, replace(REQ, status="acknowledged"))
    method, _, _, body = rig.call(1)
    assert method == "PATCH"
    assert body["state"] == "2"
    assert rig.fake.tickets[ref.key].status == "acknowledged"


async def test_resolve_sets_state_6_with_close_code_and_notes(rig: Rig) -> None:
    """Resolve: PATCH state 6 with the configured close_code and close_notes."""
    connector = rig.connect(close_code="Workaround provided", close_notes="auto-resolved")
    ref = await connector.open_incident(REQ)
    await connector.resolve_incident(ref, replace(REQ, status="resolved"))
    method, _, query, body = rig.call(1)
    assert method == "PATCH"
    assert query == {"sysparm_fields": "sys_id,state"}
    assert body == {"state": "6", "close_code": "Workaround provided", "close_notes": "auto-resolved"}
    assert rig.fake.tickets[ref.key].status == "resolved"


async def test_data_policy_refusal_is_rejected_not_an_auth_error(rig: Rig) -> None:
    """A 403 'Data Policy Exception' (mandatory close notes missing) is the request's fault."""
    connector = rig.connect(close_notes="")
    ref = await connector.open_incident(REQ)
    with pytest.raises(ConnectorRejected) as info:
        await connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert not isinstance(info.value, ConnectorAuthError)
    assert "Data Policy Exception" in str(info.value)


async def test_resolve_reports_a_business_rule_that_keeps_the_state(rig: Rig) -> None:
    """A 200 whose record is still not Resolved is not reported as resolved."""
    ref = await rig.connector.open_incident(REQ)
    rig.instance.keep_state = True
    with pytest.raises(ConnectorRejected, match="still in state 1"):
        await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))


async def test_resolve_of_a_deleted_or_closed_incident_is_done(rig: Rig) -> None:
    """404 (deleted) and 403 on a Closed (read-only) incident both count as resolved."""
    ref = await rig.connector.open_incident(REQ)
    rig.record(ref)["state"] = "7"
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    del rig.fake.tickets[ref.key]
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))


async def test_403_acl_on_an_open_incident_stays_an_auth_error(rig: Rig) -> None:
    """A 403 on resolve of an incident that is not closed is a permissions problem."""
    ref = await rig.connector.open_incident(REQ)
    rig.fake.fail(403, method="PATCH", body={"error": {"message": "Operation Failed"}})
    with pytest.raises(ConnectorAuthError):
        await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))


async def test_find_queries_correlation_id_and_returns_the_oldest(rig: Rig) -> None:
    """GET ?sysparm_query=correlation_id=<marker>^ORDERBYsys_created_on; oldest match wins."""
    first = await rig.connector.open_incident(REQ)
    await rig.connector.open_incident(REQ)
    await rig.connector.open_incident(replace(REQ, incident_id="inc_other"))
    found = await rig.connector.find_incident(REQ)
    assert found is not None
    assert found.key == first.key
    method, path, query, _ = rig.call(3)
    assert (method, path) == ("GET", "/api/now/table/incident")
    assert query["sysparm_query"] == "correlation_id=triaged-inc_01SN^ORDERBYsys_created_on"


async def test_find_checks_the_marker_when_the_query_is_ignored(rig: Rig) -> None:
    """An instance that ignores the query term (unknown field) answers other records: none match."""
    ref = await rig.connector.open_incident(replace(REQ, incident_id="inc_other"))
    del rig.record(ref)["correlation_id"]  # the field is unknown now: the term is ignored
    assert await rig.connector.find_incident(REQ) is None


async def test_healthcheck_reads_one_incident_and_the_assignment_group(rig: Rig) -> None:
    """GET incident?sysparm_limit=1, then the configured group; an unknown group is rejected."""
    await rig.connect(assignment_group=fake_sn.GROUP).healthcheck()
    assert [rig.call(i)[:3] for i in range(2)] == [
        ("GET", "/api/now/table/incident", {"sysparm_limit": "1", "sysparm_fields": "sys_id"}),
        ("GET", f"/api/now/table/sys_user_group/{fake_sn.GROUP}", {"sysparm_fields": "sys_id"}),
    ]
    with pytest.raises(ConnectorRejected, match="assignment group"):
        await rig.connect(assignment_group="0" * 32).healthcheck()


async def test_rate_limit_rule_denial_carries_retry_after(rig: Rig) -> None:
    """A rate-limit rule's 429 (documented body and headers) is retried after Retry-After."""
    headers = {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Reset": str(int(time.time()) + 1800),
        "X-RateLimit-Rule": "0" * 32,
        "Retry-After": "1800",
    }
    body = {
        "error": {
            "message": "Rate limit exceeded",
            "detail": "Rate limit of 100 requests per hour for Table API exceeded",
        },
        "status": "failure",
    }
    rig.fake.fail(429, headers=headers, body=body)
    with pytest.raises(ConnectorUnavailable) as info:
        await rig.connector.open_incident(REQ)
    assert info.value.retry_after == 1800
    assert "Rate limit exceeded" in str(info.value)


async def test_bad_password_is_an_auth_error_without_the_password(rig: Rig) -> None:
    """401 from the instance: ConnectorAuthError naming neither password nor auth header."""
    connector = rig.connect(password="wrong-password-value")
    with pytest.raises(ConnectorAuthError) as info:
        await connector.open_incident(REQ)
    assert "User Not Authenticated" in str(info.value)
    assert "wrong-password-value" not in str(info.value)
    assert "Basic" not in str(info.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"oauth_token": "t"},  # both schemes
        {"username": None, "password": None},  # neither
        {"password": None},  # half of basic
        {"impact_urgency": {"P1": (0, 1)}},  # outside 1..3
        {"impact_urgency": {"P9": (1, 1)}},  # unknown priority
    ],
)
def test_config_rejects_ambiguous_auth_and_bad_matrices(overrides: dict[str, Any]) -> None:
    """Config errors are caught at load time, not on the first incident."""
    raw = {**fake_sn.connector_config("https://example.service-now.com"), **overrides}
    with pytest.raises(ValidationError):
        ServiceNowConfig.model_validate({k: v for k, v in raw.items() if v is not None})
