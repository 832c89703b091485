"""Jira Cloud (REST v3) and Jira Server/DC (REST v2) connectors against their fakes: the exact calls."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import orjson
import pytest
from aiohttp import web
from fakes import jira_cloud, jira_server
from fakes.base import FAKE, FakeTracker
from fakes.jira_common import SITE, JiraSite
from pydantic import ValidationError

from connectors.base import AlertLine, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable
from connectors.jira import JiraCloudConnector, JiraServerConnector
from connectors.jira.config import DEFAULT_PRIORITIES
from connectors.jira.mapping import adf_text, jql_string

REQ = IncidentRequest(
    incident_id="inc_01JIRA",
    title="HighErrorRate (cluster=prod-eu)",
    priority="P2",
    status="open",
    summary="High 5xx rate on checkout",
    alerts=(AlertLine("fp1", "HighErrorRate", "firing", "5xx at 12% [api-1]", {}, "http://prom/graph"),),
    group_labels={"cluster": "prod-eu"},
    url="http://triaged.example/api/v1/incidents/inc_01JIRA",
    reasons=("severity=critical",),
)
EDITIONS: dict[str, tuple[ModuleType, Any, str]] = {
    "cloud": (jira_cloud, JiraCloudConnector, "/rest/api/3"),
    "server": (jira_server, JiraServerConnector, "/jira/rest/api/2"),
}


@dataclass
class Rig:
    """A connector wired to a running fake Jira, and the fake's state."""

    connector: Any
    fake: FakeTracker
    site: JiraSite
    base: str
    api: str
    module: ModuleType
    cls: Any
    session: aiohttp.ClientSession

    def connect(self, **overrides: Any) -> Any:
        """Another connector of the same edition on the same fake, with config overrides."""
        config = self.cls.Config.model_validate({**self.module.connector_config(self.base), **overrides})
        return self.cls(config, self.session)

    def calls(self) -> list[tuple[str, str]]:
        """(method, path without the API prefix) of every request the fake saw."""
        return [(m, urlsplit(p).path.removeprefix(self.api)) for m, p, _, _ in self.fake.requests]

    def query(self, index: int) -> dict[str, str]:
        """The query parameters of one logged request."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.fake.requests[index][1]).query).items()}

    def body(self, index: int) -> Any:
        """The JSON body of one logged request."""
        return orjson.loads(self.fake.requests[index][3])


async def _rig(edition: str, aiohttp_server: Callable[..., Any]) -> AsyncIterator[Rig]:
    module, cls, api = EDITIONS[edition]
    app: web.Application = module.create_app()
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    session = aiohttp.ClientSession()
    connector = cls(cls.Config.model_validate(module.connector_config(base)), session)
    yield Rig(connector, app[FAKE], app[SITE], base, api, module, cls, session)
    await session.close()


@pytest.fixture(params=sorted(EDITIONS))
async def rig(request: pytest.FixtureRequest, aiohttp_server: Callable[..., Any]) -> AsyncIterator[Rig]:
    """Each edition against a fresh fake site."""
    async for r in _rig(request.param, aiohttp_server):
        yield r


@pytest.fixture
async def cloud(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Rig]:
    """Jira Cloud against a fresh fake."""
    async for r in _rig("cloud", aiohttp_server):
        yield r


@pytest.fixture
async def server(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Rig]:
    """Jira Server/DC against a fresh fake."""
    async for r in _rig("server", aiohttp_server):
        yield r


# --- create ---


async def test_cloud_create_is_a_v3_post_with_basic_auth_and_adf(cloud: Rig) -> None:
    """POST /rest/api/3/issue, Basic email:token, fields with ADF description, labels and priority name."""
    ref = await cloud.connect(labels=["incident"]).open_incident(REQ)
    [(method, path, headers, _)] = cloud.fake.requests
    assert (method, path) == ("POST", "/rest/api/3/issue")
    token = base64.b64encode(f"{jira_cloud.EMAIL}:{jira_cloud.API_TOKEN}".encode()).decode()
    assert headers["Authorization"] == f"Basic {token}"
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    fields = cloud.body(0)["fields"]
    assert fields["project"] == {"key": "OPS"}
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["summary"] == REQ.title
    assert fields["priority"] == {"name": "High"}
    assert fields["labels"] == ["incident", "triaged-inc_01JIRA"]
    doc = fields["description"]
    assert (doc["type"], doc["version"]) == ("doc", 1)
    assert [n["type"] for n in doc["content"]][-4:] == ["heading", "bulletList", "paragraph", "paragraph"]
    text = adf_text(doc)
    assert "[firing] HighErrorRate: 5xx at 12% [api-1]" in text
    assert "triaged-inc_01JIRA" in text
    assert ref == IncidentRef("OPS-1", f"{cloud.base}/browse/OPS-1", {"id": "10001"})


async def test_server_create_is_a_v2_post_with_bearer_and_escaped_wiki(server: Rig) -> None:
    """POST <context>/rest/api/2/issue, Bearer PAT, description as wiki markup with alert text escaped."""
    ref = await server.connector.open_incident(REQ)
    [(method, path, headers, _)] = server.fake.requests
    assert (method, path) == ("POST", "/jira/rest/api/2/issue")
    assert headers["Authorization"] == f"Bearer {jira_server.TOKEN}"
    fields = server.body(0)["fields"]
    assert fields["issuetype"] == {"name": "Bug"}
    assert fields["priority"] == {"name": "High"}
    description = fields["description"]
    assert isinstance(description, str)
    assert "* \\[firing\\] *HighErrorRate*: 5xx at 12% \\[api-1\\] [source|http://prom/graph]" in description
    assert "h3. Alerts (1)" in description
    assert "{{triaged-inc_01JIRA}}" in description
    assert ref.url == f"{server.base}/jira/browse/OPS-1"
    [ticket] = server.fake.by_marker(REQ.marker)
    assert (ticket.status, ticket.priority) == ("open", "P2")


@pytest.mark.parametrize("priority", sorted(DEFAULT_PRIORITIES))
async def test_default_priority_table(cloud: Rig, priority: str) -> None:
    """P1..P5 become Jira's default scheme Highest..Lowest (the fake maps them back)."""
    await cloud.connector.open_incident(replace(REQ, priority=priority))
    assert cloud.body(0)["fields"]["priority"] == {"name": DEFAULT_PRIORITIES[priority]}
    assert cloud.fake.tickets["OPS-1"].priority == priority


async def test_site_specific_priority_names(server: Rig) -> None:
    """A configured mapping (the pre-Jira-7 Blocker..Trivial scheme) is sent by name."""
    names = {"P1": "Blocker", "P2": "Critical", "P3": "Major", "P4": "Minor", "P5": "Trivial"}
    connector = server.connect(priorities=names)
    ref = await connector.open_incident(replace(REQ, priority="P1"))
    await connector.update_incident(ref, replace(REQ, priority="P4"))
    assert server.body(0)["fields"]["priority"] == {"name": "Blocker"}
    assert server.body(1)["fields"]["priority"] == {"name": "Minor"}
    assert server.fake.tickets["OPS-1"].priority == "P4"


async def test_empty_priority_mapping_never_sends_the_field(cloud: Rig) -> None:
    """priorities={} (no Priority on the screens) leaves the field out; such an update makes no call."""
    connector = cloud.connect(priorities={}, refresh_description=False)
    ref = await connector.open_incident(REQ)
    assert "priority" not in cloud.body(0)["fields"]
    await connector.update_incident(ref, replace(REQ, priority="P1"))
    assert len(cloud.fake.requests) == 1


async def test_summary_is_one_line_of_at_most_255(rig: Rig) -> None:
    """Jira refuses multi-line or longer summaries; the title is flattened and cut."""
    await rig.connector.open_incident(replace(REQ, title="Disk\nfull " + "x" * 400))
    summary = rig.body(0)["fields"]["summary"]
    assert len(summary) == 255
    assert summary.startswith("Disk full x")
    assert "\n" not in summary


async def test_minimal_incident_makes_valid_adf(cloud: Rig) -> None:
    """No summary, alerts or url: the ADF still has no empty text node (the fake rejects those)."""
    await cloud.connector.open_incident(IncidentRequest("inc_x", "t", "P3", "open"))
    assert cloud.fake.tickets["OPS-1"].marker == "triaged-inc_x"


async def test_jira_field_errors_are_rejections_with_the_field(rig: Rig) -> None:
    """A 400 with Jira's errors map (unknown issue type) is ConnectorRejected naming the field."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connect(issue_type="Story").open_incident(REQ)
    assert info.value.status == 400
    assert "issuetype" in str(info.value)
    assert rig.fake.tickets == {}


async def test_created_answer_without_key_is_retryable(cloud: Rig) -> None:
    """A 2xx create answer without an issue key: Unavailable, so the retry finds the issue by label."""
    cloud.fake.fail(201, body={"self": "somewhere"})
    with pytest.raises(ConnectorUnavailable):
        await cloud.connector.open_incident(REQ)


# --- update ---


async def test_update_puts_priority_then_comments_the_note(rig: Rig) -> None:
    """PUT issue fields (priority, description), newest comment read, then POST comment."""
    ref = await rig.connector.open_incident(REQ)
    await rig.connector.update_incident(ref, replace(REQ, priority="P1", note="api-2 joined"))
    assert rig.calls()[1:] == [
        ("PUT", "/issue/OPS-1"),
        ("GET", "/issue/OPS-1/comment"),
        ("POST", "/issue/OPS-1/comment"),
    ]
    fields = rig.body(1)["fields"]
    assert fields["priority"] == {"name": "Highest"}
    assert "description" in fields
    assert rig.query(2) == {"orderBy": "-created", "maxResults": "1"}
    body = rig.body(3)["body"]
    assert isinstance(body, dict) == (rig.api == "/rest/api/3")  # ADF on Cloud, a string on Server
    ticket = rig.fake.tickets["OPS-1"]
    assert ticket.priority == "P1"
    assert ticket.comments[0].startswith("api-2 joined")
    assert "priority P1" in ticket.comments[0]


async def test_retried_update_comments_once(rig: Rig) -> None:
    """The same update twice (a retry after a lost answer) leaves one comment; a new note adds one."""
    ref = await rig.connector.open_incident(REQ)
    update = replace(REQ, priority="P1", note="api-2 joined")
    await rig.connector.update_incident(ref, update)
    await rig.connector.update_incident(ref, update)
    assert len(rig.fake.tickets["OPS-1"].comments) == 1
    assert rig.calls()[-1] == ("GET", "/issue/OPS-1/comment")
    await rig.connector.update_incident(ref, replace(update, note="api-3 joined"))
    assert len(rig.fake.tickets["OPS-1"].comments) == 2


async def test_update_without_note_makes_no_comment_calls(rig: Rig) -> None:
    """No note: only the PUT."""
    ref = await rig.connector.open_incident(REQ)
    await rig.connector.update_incident(ref, replace(REQ, priority="P3"))
    assert rig.calls()[1:] == [("PUT", "/issue/OPS-1")]


async def test_update_of_unknown_issue_is_rejected(rig: Rig) -> None:
    """Jira's 404 ("does not exist or you do not have permission") is permanent."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connector.update_incident(IncidentRef("OPS-99"), replace(REQ, note="x"))
    assert info.value.status == 404


async def test_acknowledge_runs_the_configured_transition_once(server: Rig) -> None:
    """status=acknowledged with acknowledge_transition set moves the issue once; never without it."""
    plain = server.connector
    ref = await plain.open_incident(REQ)
    await plain.update_incident(ref, replace(REQ, status="acknowledged"))
    assert ("GET", "/issue/OPS-1") not in server.calls()
    connector = server.connect(acknowledge_transition="Start Progress")
    await connector.update_incident(ref, replace(REQ, status="acknowledged"))
    transitions = [i for i, c in enumerate(server.calls()) if c == ("POST", "/issue/OPS-1/transitions")]
    assert [server.body(i) for i in transitions] == [{"transition": {"id": "4"}}]
    assert server.fake.tickets["OPS-1"].status == "acknowledged"
    await connector.update_incident(ref, replace(REQ, status="acknowledged"))
    assert server.calls()[-1] == ("GET", "/issue/OPS-1")


# --- resolve ---


async def test_cloud_resolve_finds_the_transition_by_name(cloud: Rig) -> None:
    """GET issue with expand=transitions, POST the id of "Done", then the resolve comment."""
    ref = await cloud.connector.open_incident(REQ)
    await cloud.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert cloud.calls()[1:] == [
        ("GET", "/issue/OPS-1"),
        ("POST", "/issue/OPS-1/transitions"),
        ("GET", "/issue/OPS-1/comment"),
        ("POST", "/issue/OPS-1/comment"),
    ]
    assert cloud.query(1) == {"fields": "status", "expand": "transitions"}
    assert cloud.body(2) == {"transition": {"id": "31"}}
    ticket = cloud.fake.tickets["OPS-1"]
    assert ticket.status == "resolved"
    assert ticket.comments == ["Resolved by triaged: every alert has resolved."]


async def test_server_resolve_sends_the_required_resolution(server: Rig) -> None:
    """Classic "Resolve Issue" needs a resolution on its screen: sent as fields.resolution."""
    ref = await server.connector.open_incident(REQ)
    await server.connector.resolve_incident(ref, replace(REQ, status="resolved", note="fixed by rollback"))
    assert server.body(2) == {"transition": {"id": "5"}, "fields": {"resolution": {"name": "Fixed"}}}
    ticket = server.fake.tickets["OPS-1"]
    assert ticket.status == "resolved"
    assert ticket.raw["fields"]["resolution"] == {"name": "Fixed"}
    assert ticket.comments == ["Resolved by triaged: fixed by rollback"]


async def test_server_resolve_without_required_resolution_is_rejected(server: Rig) -> None:
    """Without ``resolution`` the transition screen's 400 is a rejection naming the field."""
    connector = server.connect(resolution=None)
    ref = await connector.open_incident(REQ)
    with pytest.raises(ConnectorRejected) as info:
        await connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert "resolution" in str(info.value)


async def test_resolve_transition_may_name_the_target_status(server: Rig) -> None:
    """resolve_transition "resolved" matches the transition leading to status Resolved (case-insensitive)."""
    connector = server.connect(resolve_transition="resolved")
    ref = await connector.open_incident(REQ)
    await connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert server.body(2)["transition"] == {"id": "5"}


async def test_retried_resolve_is_a_no_op(rig: Rig) -> None:
    """A second resolve neither transitions again nor comments twice."""
    ref = await rig.connector.open_incident(REQ)
    done = replace(REQ, status="resolved")
    await rig.connector.resolve_incident(ref, done)
    await rig.connector.resolve_incident(ref, done)
    assert rig.calls().count(("POST", "/issue/OPS-1/transitions")) == 1
    assert len(rig.fake.tickets["OPS-1"].comments) == 1


async def test_resolve_leaves_an_issue_a_person_closed(server: Rig) -> None:
    """Already in a done status (Closed): no transition (so no reopening), just the comment."""
    ref = await server.connector.open_incident(REQ)
    server.fake.tickets["OPS-1"].raw["fields"]["status"] = {
        "name": "Closed",
        "id": "4",
        "statusCategory": {"id": 3, "key": "done", "name": "Done"},
    }
    await server.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert ("POST", "/issue/OPS-1/transitions") not in server.calls()
    assert server.fake.tickets["OPS-1"].raw["fields"]["status"]["name"] == "Closed"
    assert len(server.fake.tickets["OPS-1"].raw["comments"]) == 1


async def test_missing_transition_is_rejected_with_the_available_ones(cloud: Rig) -> None:
    """A resolve_transition the workflow lacks: ConnectorRejected listing what is available."""
    connector = cloud.connect(resolve_transition="Close")
    ref = await connector.open_incident(REQ)
    with pytest.raises(ConnectorRejected) as info:
        await connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert "'Close'" in str(info.value)
    assert "'In Progress', 'Done'" in str(info.value)
    assert cloud.fake.tickets["OPS-1"].status == "open"


# --- find ---


async def test_cloud_find_uses_the_enhanced_jql_search(cloud: Rig) -> None:
    """GET /rest/api/3/search/jql (not the removed /search) bounded by project and marker label."""
    await cloud.connector.open_incident(REQ)
    ref = await cloud.connector.find_incident(REQ)
    assert cloud.calls()[-1] == ("GET", "/search/jql")
    assert cloud.query(1) == {
        "jql": 'project = "OPS" AND labels = "triaged-inc_01JIRA" ORDER BY created ASC',
        "fields": "summary,status",
        "maxResults": "1",
    }
    assert ref == IncidentRef("OPS-1", f"{cloud.base}/browse/OPS-1", {"id": "10001"})
    assert ("GET", "/search") not in cloud.calls()


async def test_cloud_classic_search_is_gone(cloud: Rig) -> None:
    """The fake answers the removed /rest/api/3/search with 410, as Jira Cloud does."""
    async with cloud.session.get(f"{cloud.base}/rest/api/3/search", params={"jql": "project = OPS"}) as resp:
        assert resp.status == 410
        assert "search/jql" in (await resp.json())["errorMessages"][0]


async def test_server_find_uses_the_classic_search(server: Rig) -> None:
    """GET <context>/rest/api/2/search with the same JQL."""
    await server.connector.open_incident(REQ)
    ref = await server.connector.find_incident(REQ)
    assert server.calls()[-1] == ("GET", "/search")
    assert server.query(1)["jql"] == 'project = "OPS" AND labels = "triaged-inc_01JIRA" ORDER BY created ASC'
    assert ref is not None
    assert ref.key == "OPS-1"


async def test_find_returns_the_oldest_duplicate_or_none(rig: Rig) -> None:
    """Two issues with the marker (an earlier duplicate): the oldest; another incident: None."""
    await rig.connector.open_incident(replace(REQ, incident_id="inc_other"))
    await rig.connector.open_incident(REQ)
    await rig.connector.open_incident(REQ)
    ref = await rig.connector.find_incident(REQ)
    assert ref is not None
    assert ref.key == "OPS-2"
    assert await rig.connector.find_incident(replace(REQ, incident_id="inc_none")) is None


async def test_jql_strings_are_escaped(rig: Rig) -> None:
    """Quotes and backslashes in a marker cannot break out of the JQL string literal."""
    assert jql_string('a"b\\c') == '"a\\"b\\\\c"'
    odd = replace(REQ, incident_id='inc"1')
    await rig.connector.open_incident(odd)
    ref = await rig.connector.find_incident(odd)
    assert ref is not None
    assert ref.key == "OPS-1"


# --- healthcheck, auth, rate limits, config ---


async def test_healthcheck_reads_myself_project_and_permissions(rig: Rig) -> None:
    """Three GETs, no writes: myself, the project, and mypermissions for the write path."""
    await rig.connector.healthcheck()
    assert rig.calls() == [("GET", "/myself"), ("GET", "/project/OPS"), ("GET", "/mypermissions")]
    assert rig.query(2) == {
        "projectKey": "OPS",
        "permissions": "BROWSE_PROJECTS,CREATE_ISSUES,EDIT_ISSUES,ADD_COMMENTS,TRANSITION_ISSUES",
    }


async def test_healthcheck_names_a_missing_permission(rig: Rig) -> None:
    """havePermission false for TRANSITION_ISSUES: ConnectorAuthError naming it."""
    rig.site.granted.discard("TRANSITION_ISSUES")
    with pytest.raises(ConnectorAuthError) as info:
        await rig.connector.healthcheck()
    assert "TRANSITION_ISSUES" in str(info.value)
    assert "CREATE_ISSUES" not in str(info.value)


async def test_healthcheck_names_an_unknown_issue_type(rig: Rig) -> None:
    """An issue type the project does not have fails the check, listing the ones it has."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connect(issue_type="Story").healthcheck()
    assert not isinstance(info.value, ConnectorAuthError)
    assert "'Story'" in str(info.value)
    assert "Task, Bug, Incident" in str(info.value)


async def test_healthcheck_unknown_project_is_rejected_not_auth(rig: Rig) -> None:
    """A wrong project key is Jira's 404, a config problem rather than a credentials one."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connect(project_key="NOPE").healthcheck()
    assert not isinstance(info.value, ConnectorAuthError)
    assert info.value.status == 404


async def test_wrong_cloud_token_is_an_auth_error_without_the_secret(cloud: Rig) -> None:
    """The fake refuses another token with 401; the message carries neither token nor email."""
    connector = cloud.connect(api_token="not-the-right-token")
    with pytest.raises(ConnectorAuthError) as info:
        await connector.healthcheck()
    assert info.value.status == 401
    assert "not-the-right-token" not in str(info.value)
    assert jira_cloud.EMAIL not in str(info.value)


async def test_wrong_server_token_is_an_auth_error(server: Rig) -> None:
    """A wrong personal access token: 401 from the fake, ConnectorAuthError."""
    with pytest.raises(ConnectorAuthError):
        await server.connect(token="expired-pat-000").open_incident(REQ)


async def test_cloud_rate_limit_uses_retry_after(cloud: Rig) -> None:
    """Cloud's 429 carries Retry-After (seconds) and an ISO X-RateLimit-Reset; Retry-After wins.

    ``send`` does not read the ISO form of X-RateLimit-Reset, so without Retry-After the
    delay is left to the delivery backoff.
    """
    cloud.fake.fail(429, headers={"Retry-After": "5", "X-RateLimit-Reset": "2030-01-01T00:00Z"})
    with pytest.raises(ConnectorUnavailable) as info:
        await cloud.connector.open_incident(REQ)
    assert info.value.retry_after == 5
    cloud.fake.fail(429, headers={"X-RateLimit-Reset": "2030-01-01T00:00Z"})
    with pytest.raises(ConnectorUnavailable) as info:
        await cloud.connector.open_incident(REQ)
    assert info.value.retry_after is None


def test_config_validation() -> None:
    """Incomplete priority tables, labels with spaces and odd project keys are config errors."""
    base = jira_cloud.connector_config("https://example.atlassian.net")
    with pytest.raises(ValidationError, match="map every level"):
        JiraCloudConnector.Config.model_validate({**base, "priorities": {"P1": "Blocker"}})
    with pytest.raises(ValidationError, match="without spaces"):
        JiraCloudConnector.Config.model_validate({**base, "labels": ["on call"]})
    with pytest.raises(ValidationError):
        JiraCloudConnector.Config.model_validate({**base, "project_key": 'OPS" OR x = "y'})
    config = JiraCloudConnector.Config.model_validate(base)
    assert jira_cloud.API_TOKEN not in repr(config)
    assert config.priorities == DEFAULT_PRIORITIES
    server_config = JiraServerConnector.Config.model_validate(
        jira_server.connector_config("https://jira.example")
    )
    assert server_config.kind == "jira_server"
    assert jira_server.TOKEN not in repr(server_config)
