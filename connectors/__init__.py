"""Downstream trackers: one module and one class each, registered here by config name.

Nothing here imports ``daemon``; the daemon maps incidents onto ``IncidentRequest``.
"""

from __future__ import annotations

from typing import Any

from connectors.base import Connector, ConnectorConfig, IncidentRef, IncidentRequest
from connectors.github import GitHubConnector
from connectors.gitlab import GitLabConnector
from connectors.jira import JiraCloudConnector, JiraServerConnector
from connectors.opsgenie import OpsgenieConnector
from connectors.pagerduty import PagerDutyConnector
from connectors.redmine import RedmineConnector
from connectors.roundup import RoundupConnector
from connectors.servicenow import ServiceNowConnector
from connectors.slack import SlackConnector
from connectors.teams import TeamsConnector
from connectors.webhook import WebhookConnector

# Explicit on purpose: no discovery by naming convention (conventions.md, 5).
CONNECTORS: dict[str, Any] = {
    "webhook": WebhookConnector,
    "slack": SlackConnector,
    "teams": TeamsConnector,
    "roundup": RoundupConnector,
    "github": GitHubConnector,
    "gitlab": GitLabConnector,
    "redmine": RedmineConnector,
    "jira_cloud": JiraCloudConnector,
    "jira_server": JiraServerConnector,
    "servicenow": ServiceNowConnector,
    "pagerduty": PagerDutyConnector,
    "opsgenie": OpsgenieConnector,
}

__all__ = ["CONNECTORS", "Connector", "ConnectorConfig", "IncidentRef", "IncidentRequest"]
