"""GitLab Issues (gitlab.com or self-managed), REST API v4: one issue per incident.

Documented calls used (docs.gitlab.com/api/issues, /api/notes, /api/projects):

- ``POST /api/v4/projects/:id/issues`` "Create an issue" (201): ``title``,
  ``description``, ``labels`` (comma-separated; missing labels are created),
  ``issue_type`` (``issue`` or ``incident``).
- ``PUT /api/v4/projects/:id/issues/:issue_iid`` "Update an issue" (200): ``add_labels``
  / ``remove_labels`` swap the priority label without touching labels people added,
  ``description``; on resolve ``state_event=close``.
- ``GET``/``POST /api/v4/projects/:id/issues/:issue_iid/notes`` "List/Create issue
  notes" (201) for the note, ``sort=desc`` to see the latest ones.
- ``GET /api/v4/projects/:id/issues?labels=<marker>`` "List project issues" (all
  states by default) for ``find_incident``.
- ``GET /api/v4/projects/:id`` "Get a single project" for the healthcheck:
  ``permissions.project_access``/``group_access`` ``access_level`` (Reporter, 20, or
  more is needed: GitLab drops labels silently from a Guest's new issue) and whether
  issues are enabled.

``:id`` is the numeric project id or its URL-encoded path (``group%2Fproject``). Auth is
the ``PRIVATE-TOKEN`` header (personal, project or group access token, ``api`` scope).
Rate limits answer 429 with ``Retry-After`` and ``RateLimit-Reset`` (epoch seconds),
translated by ``connectors.http.send``.

Mapping: the priority is the label ``<priority_label_prefix><P1..P5>`` (``priority::P1``
by default, a scoped label, so GitLab Premium also keeps only one); status follows
``STATES`` (GitLab issues are opened or closed).

Idempotency:

- **Create**: the issue carries the label ``triaged-<incident id>``. If a create times
  out after GitLab committed it, the delivery worker's retry calls ``find_incident``,
  which lists the project's issues with that label and returns the oldest, so no second
  issue is opened. (The list reads the database, not the search index.)
- **Update**: ``add_labels``/``remove_labels``/``description`` converge on the same
  state when repeated. The note is posted only if the latest non-system note is not
  that same text, so a retry after a lost answer does not post it twice.
- **Resolve**: closing a closed issue changes nothing; a deleted issue (404) counts as
  resolved.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import aiohttp
from pydantic import Field, HttpUrl, SecretStr, field_validator

from connectors.base import PRIORITIES, ConnectorConfig, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable
from connectors.http import Api

# Our status -> the state an issue should have. An update never reopens a closed issue.
STATES = {"open": "opened", "acknowledged": "opened", "resolved": "closed"}
REPORTER = 20  # access level that may set labels (Guest 10, Developer 30, ...)
TITLE_LIMIT = 255
NOTES_SCANNED = 20  # latest notes read to find our last one among system notes


class GitLabConfig(ConnectorConfig):
    """Which project the issues go to and how they are labelled."""

    kind: Literal["gitlab"] = "gitlab"
    endpoint: HttpUrl = HttpUrl("https://gitlab.com")  # the instance, without /api/v4
    project: str = Field(min_length=1)  # numeric id or full path, e.g. "ops/incidents"
    token: SecretStr  # PRIVATE-TOKEN with the api scope
    labels: list[str] = []  # added to every new issue
    priority_label_prefix: str = Field(default="priority::", min_length=1)
    issue_type: Literal["issue", "incident"] = "issue"

    @field_validator("labels")
    @classmethod
    def _no_commas(cls, labels: list[str]) -> list[str]:
        """GitLab takes labels as one comma-separated string."""
        if any("," in label for label in labels):
            raise ValueError("label names cannot contain commas")
        return labels


class GitLabConnector:
    """Opens, updates and closes one GitLab issue per incident."""

    name = "gitlab"
    Config = GitLabConfig

    def __init__(self, config: GitLabConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session
        base = str(config.endpoint).rstrip("/")
        self._api = base if base.endswith("/api/v4") else f"{base}/api/v4"
        self._client = Api(
            session, self._api, {"PRIVATE-TOKEN": config.token.get_secret_value()}, config.timeout
        )

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Create the issue with marker, priority and configured labels."""
        labels = list(dict.fromkeys([req.marker, self._priority_label(req), *self.config.labels]))
        body = {
            "title": req.title[:TITLE_LIMIT],
            "description": req.description(),
            "labels": ",".join(labels),
            "issue_type": self.config.issue_type,
        }
        issue = await self._send("POST", f"{self._project()}/issues", "gitlab open", json=body)
        if not isinstance(issue, dict) or not isinstance(issue.get("iid"), int):
            # A 2xx we cannot read (a proxy's page?) may hide a created issue: retry, then find.
            raise ConnectorUnavailable("gitlab open: the answer is not a GitLab issue")
        return _ref(issue)

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Swap the priority label, refresh the description, add the note."""
        path = self._issue_path(ref)
        wanted = self._priority_label(req)
        others = [self._priority_label_of(p) for p in PRIORITIES if self._priority_label_of(p) != wanted]
        change = {
            "add_labels": ",".join([req.marker, wanted]),
            "remove_labels": ",".join(others),
            "description": req.description(),
        }
        await self._send("PUT", path, "gitlab update", json=change)
        await self._note(path, req)

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Add the note (if any) and close the issue."""
        path = self._issue_path(ref)
        try:
            await self._note(path, req)
            await self._send("PUT", path, "gitlab resolve", json={"state_event": "close"})
        except ConnectorRejected as err:
            if err.status != 404:  # 404: the issue was deleted, nothing left to close
                raise

    async def find_incident(self, req: IncidentRequest) -> IncidentRef | None:
        """The oldest issue labelled with the marker, opened or closed."""
        params = {
            "labels": req.marker,
            "scope": "all",
            "order_by": "created_at",
            "sort": "asc",
            "per_page": "100",
        }
        found = await self._send("GET", f"{self._project()}/issues", "gitlab find", params=params)
        for issue in found if isinstance(found, list) else []:
            if isinstance(issue, dict) and "iid" in issue and req.marker in issue.get("labels", []):
                return _ref(issue)
        return None

    async def healthcheck(self) -> None:
        """Read the project: token valid, Reporter or more, issues enabled (no write)."""
        project = await self._send("GET", self._project(), "gitlab check")
        info = project if isinstance(project, dict) else {}
        permissions = info.get("permissions")
        grants = (
            [permissions.get(s) for s in ("project_access", "group_access")]
            if isinstance(permissions, dict)
            else []
        )
        levels = [int(g.get("access_level") or 0) for g in grants if isinstance(g, dict)]
        # Both null happens for access inherited from a parent group, and for admins:
        # we cannot tell then, so it passes.
        if any(levels) and max(levels) < REPORTER:
            raise ConnectorAuthError(
                f"gitlab check: access level {max(levels)} on {self.config.project} cannot label "
                "issues (needs Reporter or more)"
            )
        if info.get("issues_enabled") is False or info.get("issues_access_level") == "disabled":
            raise ConnectorRejected(f"gitlab check: issues are disabled in {self.config.project}")

    async def _note(self, path: str, req: IncidentRequest) -> None:
        """Post the note unless our latest note already says it (a retried update)."""
        if not req.note:
            return
        text = _note_text(req)
        params = {"sort": "desc", "order_by": "created_at", "per_page": str(NOTES_SCANNED)}
        notes = await self._send("GET", f"{path}/notes", "gitlab note", params=params)
        latest = next((n for n in notes or [] if isinstance(n, dict) and not n.get("system")), None)
        if latest is not None and str(latest.get("body", "")).strip() == text.strip():
            return
        await self._send("POST", f"{path}/notes", "gitlab note", json={"body": text})

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        answer = await self._client.call(method, path, what, json=json, params=params)
        return answer.body

    def _project(self, project: Any = None) -> str:
        return f"/projects/{quote(str(project or self.config.project), safe='')}"

    def _issue_path(self, ref: IncidentRef) -> str:
        # The project the issue was opened in (its numeric id survives renames and moves).
        return f"{self._project(ref.extra.get('project_id'))}/issues/{ref.key}"

    def _priority_label(self, req: IncidentRequest) -> str:
        return self._priority_label_of(req.priority)

    def _priority_label_of(self, priority: str) -> str:
        return f"{self.config.priority_label_prefix}{priority}"


def _ref(issue: dict[str, Any]) -> IncidentRef:
    extra = {"project_id": issue["project_id"]} if issue.get("project_id") else {}
    return IncidentRef(key=str(issue["iid"]), url=str(issue.get("web_url", "")), extra=extra)


def _note_text(req: IncidentRequest) -> str:
    return f"{req.note}\n\n_triaged: priority {req.priority}, {req.status}_"
