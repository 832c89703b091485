"""Jira Server / Data Center, REST API v2: a personal access token as Bearer, wiki-markup bodies.

Personal access tokens exist since Jira 8.14 (``Authorization: Bearer <token>``).
Searches use ``GET /rest/api/2/search`` (the classic JQL search, current on Server/DC
and consistent with the node's index). Data Center's optional rate limiting answers
429 with ``Retry-After``, which ``connectors.http.send`` honours. The endpoint may carry
a context path (``https://host/jira``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SecretStr

from connectors.jira import mapping
from connectors.jira.client import JiraConnectorBase
from connectors.jira.config import JiraConfig
from connectors.jira.mapping import Block


class JiraServerConfig(JiraConfig):
    """A Jira Server / Data Center base URL and a personal access token."""

    kind: Literal["jira_server"] = "jira_server"
    token: SecretStr  # Profile > Personal Access Tokens


class JiraServerConnector(JiraConnectorBase[JiraServerConfig]):
    """Jira Server / Data Center through REST API v2."""

    name = "jira_server"
    Config = JiraServerConfig
    api = "/rest/api/2"
    search = "/search"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.token.get_secret_value()}"}

    def _rich(self, blocks: list[Block]) -> Any:
        return mapping.to_wiki(blocks)

    def _plain(self, body: Any) -> str:
        return body if isinstance(body, str) else ""
