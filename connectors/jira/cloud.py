"""Jira Cloud, REST API v3: Basic auth with an Atlassian account email and API token, ADF bodies.

Searches go to ``GET /rest/api/3/search/jql`` ("Search for issues using JQL enhanced
search"): the classic ``/rest/api/3/search`` was deprecated in October 2024 and now
answers 410 Gone (Atlassian changelog CHANGE-2046). The enhanced search needs a bounded
JQL query (ours is bounded by project and label), returns only issue ids unless
``fields`` is given (we ask for ``summary,status``), and pages with ``nextPageToken``
(we need one result). It is eventually consistent: an issue created seconds ago may be
missing from it; ``reconcileIssues`` only helps for issue ids one already knows, which a
lost create answer is exactly what we lack (see ``connectors.jira``).
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import Field, SecretStr

from connectors.jira import mapping
from connectors.jira.client import JiraConnectorBase
from connectors.jira.config import JiraConfig
from connectors.jira.mapping import Block


class JiraCloudConfig(JiraConfig):
    """A Jira Cloud site (https://<site>.atlassian.net) and an API token's account."""

    kind: Literal["jira_cloud"] = "jira_cloud"
    email: str = Field(min_length=3)  # the Atlassian account the API token belongs to
    api_token: SecretStr  # id.atlassian.com > Security > API tokens


class JiraCloudConnector(JiraConnectorBase[JiraCloudConfig]):
    """Jira Cloud through REST API v3."""

    name = "jira_cloud"
    Config = JiraCloudConfig
    api = "/rest/api/3"
    search = "/search/jql"

    def _auth(self) -> dict[str, str]:
        pair = f"{self.config.email}:{self.config.api_token.get_secret_value()}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def _rich(self, blocks: list[Block]) -> Any:
        return mapping.to_adf(blocks)

    def _plain(self, body: Any) -> str:
        return mapping.adf_text(body)
