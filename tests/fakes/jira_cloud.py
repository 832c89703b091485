"""Fake Jira Cloud (REST API v3): Basic auth (email + API token), ADF bodies, enhanced JQL search.

Workflow as in Cloud's simplified workflows: statuses To Do / In Progress / Done, each
reachable from any other by a global transition named like its target (ids 11/21/31).
``/rest/api/3/search`` answers 410 Gone like the real one since its removal.
"""

from __future__ import annotations

import base64

from aiohttp import web

from fakes.jira_common import JiraSite, Transition, build_app

NAME = "jira_cloud"
EMAIL = "triaged-bot@example.com"
API_TOKEN = "ATATT-jira-cloud-token-123"
PRIORITIES = {"Highest": "P1", "High": "P2", "Medium": "P3", "Low": "P4", "Lowest": "P5"}


def authorized(request: web.Request) -> bool:
    """Only ``Basic base64(EMAIL:API_TOKEN)``."""
    expected = base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
    return request.headers.get("Authorization") == f"Basic {expected}"


def unauthorized() -> web.Response:
    """Cloud's answer to missing or wrong credentials."""
    return web.Response(status=401, text="Client must be authenticated to access this resource.")


def site() -> JiraSite:
    """A Cloud site with one project, OPS."""
    return JiraSite(
        api="3",
        authorized=authorized,
        unauthorized=unauthorized,
        rich="adf",
        statuses={"To Do": "new", "In Progress": "indeterminate", "Done": "done"},
        initial="To Do",
        transitions=[
            Transition("11", "To Do", "To Do"),
            Transition("21", "In Progress", "In Progress"),
            Transition("31", "Done", "Done"),
        ],
        priorities=dict(PRIORITIES),
        myself={
            "accountId": "5b10ac8d82e05b22cc7d4ef5",
            "emailAddress": EMAIL,
            "displayName": "triaged",
            "active": True,
            "accountType": "atlassian",
        },
        search_needs_fields=True,
    )


def create_app() -> web.Application:
    """The fake Cloud site."""
    return build_app(site())


def connector_config(base_url: str) -> dict[str, object]:
    """Config of the jira_cloud connector pointed at this fake."""
    return {
        "endpoint": base_url,
        "email": EMAIL,
        "api_token": API_TOKEN,
        "project_key": "OPS",
        "issue_type": "Task",
        "resolve_transition": "Done",
        "timeout": 1.0,
    }
