"""Fake Jira Server / Data Center (REST API v2) under the context path ``/jira``.

Personal access token as ``Authorization: Bearer``; descriptions and comments are
strings (wiki markup). The workflow is Jira's classic default one: Open, In Progress,
Resolved, Closed, Reopened, where "Resolve Issue" has a screen that requires a
resolution. Both the current (Highest..Lowest) and the pre-Jira-7
(Blocker..Trivial) priority names exist.
"""

from __future__ import annotations

from aiohttp import web

from fakes.jira_common import JiraSite, Transition, build_app, jira_error

NAME = "jira_server"
TOKEN = "jira-server-personal-access-token-456"
CONTEXT = "/jira"
PRIORITIES = {
    "Highest": "P1",
    "High": "P2",
    "Medium": "P3",
    "Low": "P4",
    "Lowest": "P5",
    "Blocker": "P1",
    "Critical": "P2",
    "Major": "P3",
    "Minor": "P4",
    "Trivial": "P5",
}


def authorized(request: web.Request) -> bool:
    """Only ``Bearer TOKEN``."""
    return request.headers.get("Authorization") == f"Bearer {TOKEN}"


def unauthorized() -> web.Response:
    """Server's answer to a wrong token (with Seraph's login-reason header)."""
    response = jira_error(
        401, ["You are not authenticated. Authentication required to perform this operation."]
    )
    response.headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
    return response


def site() -> JiraSite:
    """A Server site with one project, OPS, on the classic workflow."""
    active = ("Open", "In Progress", "Reopened")
    return JiraSite(
        api="2",
        authorized=authorized,
        unauthorized=unauthorized,
        rich="wiki",
        statuses={
            "Open": "new",
            "In Progress": "indeterminate",
            "Resolved": "done",
            "Closed": "done",
            "Reopened": "new",
        },
        initial="Open",
        transitions=[
            Transition("4", "Start Progress", "In Progress", ("Open", "Reopened")),
            Transition("301", "Stop Progress", "Open", ("In Progress",)),
            Transition("5", "Resolve Issue", "Resolved", active, requires_resolution=True),
            Transition("2", "Close Issue", "Closed", active),
            Transition("701", "Close Issue", "Closed", ("Resolved",)),
            Transition("3", "Reopen Issue", "Reopened", ("Resolved", "Closed")),
        ],
        priorities=dict(PRIORITIES),
        myself={"name": "triaged", "key": "JIRAUSER10100", "displayName": "triaged", "active": True},
        prefix=CONTEXT,
    )


def create_app() -> web.Application:
    """The fake Server site."""
    return build_app(site())


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the jira_server connector pointed at this fake (with its context path)."""
    return {
        "endpoint": f"{base_url}{CONTEXT}",
        "token": TOKEN,
        "project_key": "OPS",
        "issue_type": "Bug",
        "resolve_transition": "Resolve Issue",
        "resolution": "Fixed",
        "timeout": 1.0,
    }
