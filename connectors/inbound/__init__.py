"""Inbound webhooks from trackers: pure ``parse(headers, body, secret)`` functions per tracker.

Each parser authenticates the request (constant-time), reads the tracker's own webhook
format and returns the ``InboundEvent``s triaged acts on ([] for events it ignores). It
raises only ``InboundAuthError`` (-> 401) or ``InboundError`` (-> 400). The daemon looks
up the connector by name, passes its ``inbound_secret``, finds the incident whose
``external[connector].key`` equals ``event.ref`` and applies each event once per
``event_id``. See docs/inbound.md for how to point each tracker at triaged.

Keyed by the same kinds as ``connectors.CONNECTORS``; trackers without a usable outbound
webhook (webhook, slack, teams, roundup, redmine) have no entry.
"""

from __future__ import annotations

from connectors.inbound import github, gitlab, jira, opsgenie, pagerduty, servicenow
from connectors.inbound.base import ACTIONS, Action, InboundAuthError, InboundError, InboundEvent, Parser

# Explicit on purpose, like CONNECTORS (conventions.md, 5).
INBOUND: dict[str, Parser] = {
    "github": github.parse,
    "gitlab": gitlab.parse,
    "jira_cloud": jira.parse,
    "jira_server": jira.parse_server,
    "pagerduty": pagerduty.parse,
    "opsgenie": opsgenie.parse,
    "servicenow": servicenow.parse,
}

__all__ = ["ACTIONS", "INBOUND", "Action", "InboundAuthError", "InboundError", "InboundEvent", "Parser"]
