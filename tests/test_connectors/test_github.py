"""GitHub Issues connector against the fake GitHub API over loopback HTTP: the exact calls."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fakes import github as fake_github
from fakes.base import FAKE, FakeTracker

from connectors.base import AlertLine, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable
from connectors.github import GitHubConfig, GitHubConnector

REQ = IncidentRequest(
    incident_id="inc_01GH",
    title="HighErrorRate (cluster=prod-eu)",
    priority="P2",
    status="open",
    summary="High 5xx rate on checkout",
    alerts=(AlertLine("fp1", "HighErrorRate", "firing", "5xx at 12%"),),
    reasons=("severity=critical",),
)
ISSUES = f"/repos/{fake_github.REPO}/issues"


@dataclass
class Rig:
    """A connector wired to a running fake, and the fake's state."""

    connector: GitHubConnector
    app: web.Application
    fake: FakeTracker
    state: fake_github.GitHubState
    base: str
    session: aiohttp.ClientSession

    def connect(self, **overrides: Any) -> GitHubConnector:
        """Another connector on the same fake, with config overrides."""
        config = GitHubConfig.model_validate({**fake_github.connector_config(self.base), **overrides})
        return GitHubConnector(config, self.session)

    def calls(self) -> list[tuple[str, str]]:
        """(method, path?query) of every request the fake saw."""
        return [(m, p) for m, p, _, _ in self.fake.requests]

    def body(self, index: int) -> Any:
        """The JSON body of one logged request."""
        return orjson.loads(self.fake.requests[index][3])


async def _rig(server: TestServer, app: web.Application, prefix: str = "") -> AsyncIterator[Rig]:
    base = str(server.make_url("")).rstrip("/") + prefix
    session = aiohttp.ClientSession()
    config = GitHubConfig.model_validate(fake_github.connector_config(base))
    yield Rig(GitHubConnector(config, session), app, app[FAKE], app[fake_github.STATE], base, session)
    await session.close()


@pytest.fixture
async def rig(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Rig]:
    """The connector against a fresh fake GitHub."""
    app = fake_github.create_app()
    server = await aiohttp_server(app)
    async for r in _rig(server, app):
        yield r


async def test_open_sends_the_documented_create_call(rig: Rig) -> None:
    """POST /repos/{owner}/{repo}/issues with the API headers, title, body and labels."""
    connector = rig.connect(labels=["incident"])
    ref = await connector.open_incident(REQ)
    [(method, path, headers, raw)] = rig.fake.requests
    assert (method, path) == ("POST", ISSUES)
    assert headers["Authorization"] == f"Bearer {fake_github.TOKEN}"
    assert headers["Accept"] == "application/vnd.github+json"
    assert headers["X-GitHub-Api-Version"] == "2022-11-28"
    body = orjson.loads(raw)
    assert body["title"] == REQ.title
    assert body["labels"] == ["triaged-inc_01GH", "priority/P2", "incident"]
    assert "5xx at 12%" in body["body"]
    assert "triaged-inc_01GH" in body["body"]
    assert ref == IncidentRef(
        key="1",
        url=f"https://github.com/{fake_github.REPO}/issues/1",
        extra={"repository": fake_github.REPO},
    )


async def test_update_swaps_the_priority_label_and_keeps_other_labels(rig: Rig) -> None:
    """Update adds priority/P1, removes priority/P2 (URL-encoded), keeps a person's label."""
    ref = await rig.connector.open_incident(REQ)
    rig.fake.tickets[ref.key].raw["labels"].append({"name": "team/payments"})
    rig.fake.requests.clear()
    await rig.connector.update_incident(ref, replace(REQ, priority="P1"))
    assert rig.calls() == [
        ("GET", f"{ISSUES}/1"),
        ("POST", f"{ISSUES}/1/labels"),
        ("DELETE", f"{ISSUES}/1/labels/priority%2FP2"),
        ("PATCH", f"{ISSUES}/1"),  # the body says "Priority P1" now
    ]
    assert rig.body(1) == {"labels": ["priority/P1"]}
    ticket = rig.fake.tickets[ref.key]
    assert ticket.priority == "P1"
    assert [lab["name"] for lab in ticket.raw["labels"]] == [
        "triaged-inc_01GH",
        "team/payments",
        "priority/P1",
    ]


async def test_label_names_compare_case_insensitively(rig: Rig) -> None:
    """GitHub label names are case-insensitive: an existing 'Priority/P1' is the label we want."""
    ref = await rig.connector.open_incident(replace(REQ, priority="P1"))
    labels = rig.fake.tickets[ref.key].raw["labels"]
    labels[1]["name"] = "Priority/P1"
    rig.fake.requests.clear()
    await rig.connector.update_incident(ref, replace(REQ, priority="P1"))
    assert rig.calls() == [("GET", f"{ISSUES}/1")]
    assert [lab["name"] for lab in labels] == ["triaged-inc_01GH", "Priority/P1"]


async def test_update_refreshes_the_body_only_when_it_changed(rig: Rig) -> None:
    """A new alert changes the description: PATCH with the body alone; the same one: no PATCH."""
    ref = await rig.connector.open_incident(REQ)
    more = replace(REQ, alerts=(*REQ.alerts, AlertLine("fp2", "HighLatency", "firing", "p99 2s")))
    rig.fake.requests.clear()
    await rig.connector.update_incident(ref, more)
    assert rig.calls() == [("GET", f"{ISSUES}/1"), ("PATCH", f"{ISSUES}/1")]
    assert list(rig.body(1)) == ["body"]
    assert "HighLatency" in rig.body(1)["body"]
    rig.fake.requests.clear()
    await rig.connector.update_incident(ref, more)
    assert rig.calls() == [("GET", f"{ISSUES}/1")]


async def test_a_retried_update_does_not_comment_twice(rig: Rig) -> None:
    """The note is commented once even if the update is repeated; a new note is commented."""
    ref = await rig.connector.open_incident(REQ)
    update = replace(REQ, note="api-2 joined")
    await rig.connector.update_incident(ref, update)
    rig.fake.requests.clear()
    await rig.connector.update_incident(ref, update)  # the answer was lost: delivery retries
    # Reads the last comment: page N of 1 comment per page.
    assert ("GET", f"{ISSUES}/1/comments?per_page=1&page=1") in rig.calls()
    assert not any(m == "POST" for m, _ in rig.calls())
    await rig.connector.update_incident(ref, replace(REQ, note="api-3 joined"))
    comments = rig.fake.tickets[ref.key].comments
    assert len(comments) == 2
    assert comments[0].startswith("api-2 joined")
    assert comments[1].startswith("api-3 joined")


async def test_a_token_without_push_access_still_labels_the_issue(rig: Rig) -> None:
    """GitHub drops labels from a triage token's create: they are added with the labels call."""
    connector = rig.connect(token=fake_github.TRIAGE_TOKEN)
    ref = await connector.open_incident(REQ)
    assert rig.calls() == [("POST", ISSUES), ("POST", f"{ISSUES}/1/labels")]
    assert rig.body(1) == {"labels": ["triaged-inc_01GH", "priority/P2"]}
    assert rig.fake.by_marker(REQ.marker)[0].priority == "P2"
    await connector.update_incident(ref, replace(REQ, priority="P1"))  # PATCH labels would be ignored
    assert rig.fake.tickets[ref.key].priority == "P1"
    assert await connector.find_incident(REQ) == ref


async def test_resolve_closes_as_completed_and_is_idempotent(rig: Rig) -> None:
    """PATCH state=closed, state_reason=completed; resolving again leaves it closed."""
    ref = await rig.connector.open_incident(REQ)
    rig.fake.requests.clear()
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    assert rig.calls() == [("PATCH", f"{ISSUES}/1")]
    assert rig.body(0) == {"state": "closed", "state_reason": "completed"}
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    issue = rig.fake.tickets[ref.key].raw
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")


async def test_resolve_with_a_note_comments_once_and_keeps_a_persons_close(rig: Rig) -> None:
    """With a note: comment, then close; an issue a person closed keeps its reason."""
    ref = await rig.connector.open_incident(REQ)
    issue = rig.fake.tickets[ref.key].raw
    issue["state"], issue["state_reason"] = "closed", "not_planned"
    done = replace(REQ, status="resolved", note="resolved")
    await rig.connector.resolve_incident(ref, done)
    await rig.connector.resolve_incident(ref, done)
    assert len(rig.fake.tickets[ref.key].comments) == 1
    assert issue["state_reason"] == "not_planned"
    assert not any(m == "PATCH" for m, _ in rig.calls())


async def test_resolving_a_deleted_issue_is_done(rig: Rig) -> None:
    """410 Gone (the issue was deleted) is not an error for resolve, but is for update."""
    ref = await rig.connector.open_incident(REQ)
    rig.state.deleted.add(ref.key)
    await rig.connector.resolve_incident(ref, replace(REQ, status="resolved"))
    with pytest.raises(ConnectorRejected) as info:
        await rig.connector.update_incident(ref, REQ)
    assert info.value.status == 410


async def test_find_uses_the_list_endpoint_and_skips_pull_requests(rig: Rig) -> None:
    """find lists issues by label with state=all (not the search API); PRs do not count."""
    fake_github.seed_issue(rig.app, "a pull request", [REQ.marker], pull_request=True)
    assert await rig.connector.find_incident(REQ) is None
    [(method, path)] = rig.calls()
    assert method == "GET"
    assert path == f"{ISSUES}?labels=triaged-inc_01GH&state=all&sort=created&direction=asc&per_page=100"
    ref = await rig.connector.open_incident(REQ)
    rig.fake.tickets[ref.key].raw["state"] = "closed"
    assert await rig.connector.find_incident(REQ) == ref  # closed issues count too


async def test_primary_rate_limit_waits_for_the_reset(rig: Rig) -> None:
    """403 with x-ratelimit-remaining: 0: retry after x-ratelimit-reset (epoch seconds)."""
    reset = int(time.time()) + 120
    rig.fake.fail(403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    with pytest.raises(ConnectorUnavailable) as info:
        await rig.connector.open_incident(REQ)
    assert info.value.retry_after is not None
    assert 110 <= info.value.retry_after <= 121
    assert rig.fake.tickets == {}


async def test_secondary_rate_limit_honours_retry_after_or_waits_a_minute(rig: Rig) -> None:
    """403 'secondary rate limit': retry-after when sent, else at least one minute."""
    body = {
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    }
    rig.fake.fail(403, headers={"retry-after": "30", "x-ratelimit-remaining": "4990"}, body=body)
    with pytest.raises(ConnectorUnavailable) as info:
        await rig.connector.open_incident(REQ)
    assert info.value.retry_after == 30
    rig.fake.fail(403, body=body)
    with pytest.raises(ConnectorUnavailable) as info:
        await rig.connector.open_incident(REQ)
    assert info.value.retry_after == 60


async def test_an_unreadable_success_is_retried_not_trusted(rig: Rig) -> None:
    """A 201 that is not an issue (a proxy's page) may hide a created issue: Unavailable."""
    rig.fake.fail(201, body={"unexpected": "answer"})
    with pytest.raises(ConnectorUnavailable, match="not a GitHub issue"):
        await rig.connector.open_incident(REQ)


async def test_a_plain_403_is_an_auth_error(rig: Rig) -> None:
    """403 without rate-limit signs: permissions, not a retry."""
    rig.fake.fail(403, body={"message": "Resource not accessible by personal access token"})
    with pytest.raises(ConnectorAuthError):
        await rig.connector.open_incident(REQ)


async def test_validation_failed_is_rejected(rig: Rig) -> None:
    """422 Validation Failed (an empty title) is permanent and names the problem."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connector.open_incident(replace(REQ, title=""))
    assert info.value.status == 422
    assert "Validation Failed" in str(info.value)
    assert fake_github.TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("token", "scopes", "has_issues", "error"),
    [
        (fake_github.TOKEN, None, True, None),
        (fake_github.TRIAGE_TOKEN, None, True, None),
        (fake_github.TOKEN, "repo, workflow", True, None),
        (fake_github.READ_TOKEN, None, True, ConnectorAuthError),
        (fake_github.TOKEN, "read:org, gist", True, ConnectorAuthError),
        (fake_github.TOKEN, None, False, ConnectorRejected),
    ],
)
async def test_healthcheck_reads_the_repository_permissions(
    rig: Rig, token: str, scopes: str | None, has_issues: bool, error: type[Exception] | None
) -> None:
    """GET /repos/{o}/{r}: triage or push, a classic token's repo scope, issues enabled."""
    rig.state.oauth_scopes, rig.state.has_issues = scopes, has_issues
    connector = rig.connect(token=token)
    if error is None:
        await connector.healthcheck()
    else:
        with pytest.raises(error):
            await connector.healthcheck()
    assert rig.calls() == [("GET", f"/repos/{fake_github.REPO}")]
    assert rig.fake.tickets == {}


async def test_healthcheck_of_an_unknown_repository_is_rejected(rig: Rig) -> None:
    """A repository the token cannot see answers 404: rejected, not retried."""
    with pytest.raises(ConnectorRejected) as info:
        await rig.connect(repository="acme/nope").healthcheck()
    assert info.value.status == 404


async def test_issues_keep_their_repository_when_the_config_moves(rig: Rig) -> None:
    """update/resolve address the repository stored in the reference, not today's config."""
    ref = await rig.connector.open_incident(REQ)
    moved = rig.connect(repository="acme/elsewhere")
    await moved.resolve_incident(ref, replace(REQ, status="resolved"))
    assert rig.fake.tickets[ref.key].status == "resolved"


async def test_github_enterprise_server_base_path(aiohttp_server: Callable[..., Any]) -> None:
    """On GHES the endpoint is https://HOST/api/v3: every call goes under that prefix."""
    fake_app = fake_github.create_app()
    root = web.Application()
    root.add_subapp("/api/v3", fake_app)
    server = await aiohttp_server(root)
    async for rig in _rig(server, fake_app, prefix="/api/v3"):
        ref = await rig.connector.open_incident(REQ)
        await rig.connector.healthcheck()
        assert ref.key == "1"
        assert [p for _, p in rig.calls()] == [f"/api/v3{ISSUES}", f"/api/v3/repos/{fake_github.REPO}"]


def test_config_defaults_to_github_com_and_checks_the_repository() -> None:
    """endpoint defaults to api.github.com; repository must be owner/name."""
    config = GitHubConfig.model_validate({"repository": "acme/checkout", "token": "t"})
    assert str(config.endpoint) == "https://api.github.com/"
    assert config.kind == "github"
    with pytest.raises(ValueError, match="repository"):
        GitHubConfig.model_validate({"repository": "acme", "token": "t"})


async def test_a_5xx_is_not_delayed_until_the_hourly_rate_limit_reset(rig: Rig) -> None:
    """A 502 carries GitHub's usual x-ratelimit-reset (up to an hour away): not a wait hint."""
    headers = {"x-ratelimit-remaining": "4999", "x-ratelimit-reset": str(int(time.time()) + 3000)}
    rig.fake.fail(502, headers=headers)
    with pytest.raises(ConnectorUnavailable) as info:
        await rig.connector.open_incident(REQ)
    assert info.value.retry_after is None
