"""Jira Cloud (``jira_cloud``, REST v3) and Jira Server / Data Center (``jira_server``, REST v2).

One issue per incident in the configured project, of the configured issue type.
Documented calls (developer.atlassian.com, "Jira Cloud platform REST API v3" and "Jira
Server platform REST API" 2); ``{api}`` is ``/rest/api/3`` or ``/rest/api/2``:

- ``POST {api}/issue`` "Create issue" (201 ``{id, key, self}``): ``fields.project.key``,
  ``issuetype.name``, ``summary`` (one line, <= 255), ``description``, ``priority.name``
  (from ``priorities``), ``labels`` (the configured ones and the marker).
- ``PUT {api}/issue/{key}`` "Edit issue" (204): ``fields.priority`` and ``description``.
- ``GET {api}/issue/{key}?fields=status&expand=transitions`` "Get issue": current status
  (and its category: new / indeterminate / done) with the transitions available from it;
  ``POST {api}/issue/{key}/transitions`` "Transition issue" (204) with the id of the one
  named ``resolve_transition`` (or leading to a status of that name), plus
  ``fields.resolution`` when ``resolution`` is set.
- ``GET {api}/issue/{key}/comment?orderBy=-created&maxResults=1`` "Get comments" and
  ``POST {api}/issue/{key}/comment`` "Add comment" (201).
- Search: Cloud ``GET /rest/api/3/search/jql`` (the enhanced search; the classic
  ``/search`` is removed, 410), Server ``GET /rest/api/2/search``; JQL
  ``project = "KEY" AND labels = "<marker>" ORDER BY created ASC``.
- Healthcheck, no writes: ``GET {api}/myself`` (the credentials; anonymous is a 401
  here, while other resources answer anonymous callers 404 or empty),
  ``GET {api}/project/{key}`` (project exists, issue type is one of its ``issueTypes``),
  ``GET {api}/mypermissions?projectKey=KEY&permissions=...`` "Get my permissions":
  BROWSE_PROJECTS, CREATE_ISSUES, EDIT_ISSUES, ADD_COMMENTS and TRANSITION_ISSUES must
  all say ``havePermission: true`` (with a project context Jira answers true when any
  issue could allow it, so an issue-level restriction can still refuse a write later).

Descriptions and comments are Atlassian Document Format on Cloud and escaped wiki
markup on Server (``mapping``). Priorities map by name (``priorities``, default
Highest/High/Medium/Low/Lowest; ``{}`` for projects without the field); statuses map by
status category (``mapping.STATUS_CATEGORIES``), since status names are per workflow.
Errors: Jira's ``{"errorMessages": [...], "errors": {field: message}}`` 400s become
``ConnectorRejected`` with that text; 401/403 ``ConnectorAuthError``; 429 (Cloud and
DC rate limits, with ``Retry-After`` in seconds) and 5xx ``ConnectorUnavailable``, all in
``connectors.http.send``. Cloud's ``X-RateLimit-Reset`` is an ISO 8601 time, which
``send`` does not read; Cloud sends ``Retry-After`` with its 429s.

Idempotency:

- **Create**: the issue carries the label ``triaged-<incident id>``. When a create
  times out after Jira committed it, the delivery worker's retry calls ``find_incident``,
  which searches the project for that label and returns the oldest issue, so no second
  issue is created. Server/DC search reads the node's own index, updated on create. On
  Cloud the enhanced search is eventually consistent (usually seconds, by Atlassian's
  "search and reconcile" guide, occasionally longer): a retry that comes sooner than the
  index may still create a duplicate, which then carries the same label (visible with
  that JQL); the retry backoff makes this unlikely, it cannot make it impossible.
- **Update**: setting the same priority and description again changes nothing; the note
  is commented only if the issue's newest comment is not that same text, so a retry
  after a lost answer does not comment twice.
- **Resolve**: the transition runs only if the issue's status category is not already
  ``done``, so a retry (or an issue a person closed) is not transitioned again and never
  reopened; the resolve comment is deduplicated like the update's. A missing transition
  is ``ConnectorRejected`` naming the ones available. A deleted issue (404, which Jira
  also answers when the account may not see it) is ``ConnectorRejected``, not success.
"""

from connectors.jira.cloud import JiraCloudConfig, JiraCloudConnector
from connectors.jira.server import JiraServerConfig, JiraServerConnector

__all__ = ["JiraCloudConfig", "JiraCloudConnector", "JiraServerConfig", "JiraServerConnector"]
