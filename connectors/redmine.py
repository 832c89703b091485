"""Redmine, REST API (JSON): one issue per incident, marked in a custom field.

Documented calls used (redmine.org/projects/redmine/wiki/Rest_api, Rest_Issues,
Rest_Projects, Rest_Users):

- ``POST /issues.json`` (201 with ``{"issue": ...}``; 422 with ``{"errors": [...]}``):
  ``project_id``, ``subject``, ``description``, ``priority_id``, ``tracker_id``, and
  ``custom_fields: [{"id": marker_field_id, "value": "triaged-<incident id>"}]``.
- ``PUT /issues/[id].json`` (204, or 200 with no body before Redmine 3): ``notes``,
  ``priority_id``, ``status_id``, ``description``. Redmine *silently ignores* a
  ``status_id`` the workflow does not allow this user, so resolve reads the issue back
  (``GET /issues/[id].json``) and refuses to report a close that did not happen.
- ``GET /issues/[id].json?include=journals`` to see the latest note before adding one.
- ``GET /issues.json?project_id=..&cf_<id>=<marker>&status_id=*`` for ``find_incident``
  (``status_id=*``: open and closed). The field must be "Used as a filter"; otherwise
  Redmine ignores the ``cf_`` parameter, which is why every result is checked for the
  marker and the healthcheck probes the filter.
- Healthcheck (no write): ``GET /users/current.json`` (the key), ``GET
  /projects/[id].json?include=trackers,issue_custom_fields`` (the project is visible; the
  marker field and tracker are enabled for it: a field not enabled is dropped silently
  on create), and a ``cf_`` probe for a marker nobody has, which must find nothing.

Auth is the ``X-Redmine-API-Key`` header (REST API enabled in Administration ->
Settings -> API). Redmine has no rate limiting of its own.

Mapping: ``priority_ids`` (default ``DEFAULT_PRIORITY_IDS``, the ids of Redmine's default
data: 1 Low, 2 Normal, 3 High, 4 Urgent, 5 Immediate) and status ids
(``closed_status_id`` default 5 "Closed"; ``acknowledged_status_id`` default none, e.g. 2
"In Progress") are configurable because every site defines its own enumerations.

Idempotency:

- **Create**: the issue carries the marker in custom field ``marker_field_id``. If a
  create times out after Redmine committed it, the delivery worker's retry calls
  ``find_incident``, which filters on that field and returns the oldest match, so no
  second issue is opened.
- **Update**: setting the same priority, status and description again changes nothing;
  the note is sent only if the latest journal with notes is not that same text, so a
  retry after a lost answer does not add it twice.
- **Resolve**: setting the closed status on a closed issue changes nothing; a deleted
  issue (404) counts as resolved.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import aiohttp
from pydantic import Field, SecretStr, field_validator

from connectors.base import PRIORITIES, ConnectorConfig, IncidentRef, IncidentRequest
from connectors.errors import ConnectorRejected, ConnectorUnavailable
from connectors.http import Api

# Our priority -> IssuePriority id in Redmine's default data (redmine:load_default_data).
DEFAULT_PRIORITY_IDS = {"P1": 5, "P2": 4, "P3": 3, "P4": 2, "P5": 1}
CLOSED_STATUS_ID = 5  # "Closed" in the default data (6 "Rejected" is closed too)
SUBJECT_LIMIT = 255
_PROBE = "triaged-healthcheck-probe-no-such-incident"


class RedmineConfig(ConnectorConfig):
    """Which project the issues go to, where the marker lives, and the site's ids."""

    kind: Literal["redmine"] = "redmine"
    api_key: SecretStr
    project: str = Field(min_length=1)  # identifier ("ops") or numeric id ("7")
    marker_field_id: int = Field(gt=0)  # issue custom field (string, "Used as a filter")
    tracker_id: int | None = None  # None: the project's default tracker
    priority_ids: dict[str, int] = DEFAULT_PRIORITY_IDS
    acknowledged_status_id: int | None = None  # None: acknowledging changes no status
    closed_status_id: int = CLOSED_STATUS_ID

    @field_validator("priority_ids")
    @classmethod
    def _known_priorities(cls, ids: dict[str, int]) -> dict[str, int]:
        """Only P1..P5 can be mapped; a missing one leaves Redmine's default priority."""
        unknown = set(ids) - set(PRIORITIES)
        if unknown:
            raise ValueError(f"unknown priorities {sorted(unknown)}; use P1..P5")
        return ids


class RedmineConnector:
    """Opens, updates and closes one Redmine issue per incident."""

    name = "redmine"
    Config = RedmineConfig

    def __init__(self, config: RedmineConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session
        self._base = str(config.endpoint).rstrip("/")
        self._client = Api(
            session, self._base, {"X-Redmine-API-Key": config.api_key.get_secret_value()}, config.timeout
        )

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Create the issue with the marker in its custom field."""
        issue: dict[str, Any] = {
            "project_id": self.config.project,
            "subject": req.title[:SUBJECT_LIMIT],
            "description": req.description(),
            "custom_fields": [{"id": self.config.marker_field_id, "value": req.marker}],
            **self._priority(req),
        }
        if self.config.tracker_id is not None:
            issue["tracker_id"] = self.config.tracker_id
        answer = await self._send("POST", "/issues.json", "redmine open", json={"issue": issue})
        return self._ref(_issue(answer, "redmine open"))

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """One PUT: priority, description, acknowledged status, and the note as a journal."""
        change: dict[str, Any] = {"description": req.description(), **self._priority(req)}
        if req.status == "acknowledged" and self.config.acknowledged_status_id is not None:
            change["status_id"] = self.config.acknowledged_status_id
        if req.note and not await self._noted(ref, req.note):
            change["notes"] = req.note
        await self._send("PUT", f"/issues/{ref.key}.json", "redmine update", json={"issue": change})

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Set the closed status (with the note), then check Redmine really closed it."""
        closed = self.config.closed_status_id
        change: dict[str, Any] = {"status_id": closed}
        try:
            if req.note and not await self._noted(ref, req.note):
                change["notes"] = req.note
            await self._send("PUT", f"/issues/{ref.key}.json", "redmine resolve", json={"issue": change})
            answer = await self._send("GET", f"/issues/{ref.key}.json", "redmine resolve")
        except ConnectorRejected as err:
            if err.status == 404:  # the issue was deleted: nothing left to close
                return
            raise
        status = _issue(answer, "redmine resolve").get("status") or {}
        if status.get("id") != closed and not status.get("is_closed"):
            raise ConnectorRejected(
                f"redmine resolve: issue {ref.key} is still {status.get('name', '?')!r}: the workflow "
                f"does not let this user set status {closed}"
            )

    async def find_incident(self, req: IncidentRequest) -> IncidentRef | None:
        """The oldest issue (open or closed) whose marker field holds the marker."""
        for issue in await self._search(req.marker, limit=100):
            if self._marker(issue) == req.marker:
                return self._ref(issue)
        return None

    async def healthcheck(self) -> None:
        """Key valid, project visible, marker field enabled and filterable (no write)."""
        await self._send("GET", "/users/current.json", "redmine check")
        params = {"include": "trackers,issue_custom_fields"}
        answer = await self._send(
            "GET", f"/projects/{quote(self.config.project, safe='')}.json", "redmine check", params=params
        )
        project = answer.get("project", {}) if isinstance(answer, dict) else {}
        field_id, tracker_id = self.config.marker_field_id, self.config.tracker_id
        # Both lists are missing on old Redmines (fields: before 4.2): then it passes.
        fields = project.get("issue_custom_fields")
        if isinstance(fields, list) and field_id not in {f.get("id") for f in fields}:
            raise ConnectorRejected(
                f"redmine check: custom field {field_id} is not enabled for project "
                f"{self.config.project}; markers would be dropped"
            )
        trackers = project.get("trackers")
        if (
            tracker_id is not None
            and isinstance(trackers, list)
            and tracker_id not in {t.get("id") for t in trackers}
        ):
            raise ConnectorRejected(f"redmine check: tracker {tracker_id} is not enabled for the project")
        if await self._search(_PROBE, limit=1):
            raise ConnectorRejected(
                f"redmine check: custom field {field_id} is not 'Used as a filter': "
                "issues could not be found by their marker"
            )

    async def _search(self, marker: str, *, limit: int) -> list[dict[str, Any]]:
        params = {
            "project_id": self.config.project,
            f"cf_{self.config.marker_field_id}": marker,
            "status_id": "*",
            "sort": "id",
            "limit": str(limit),
        }
        answer = await self._send("GET", "/issues.json", "redmine find", params=params)
        issues = answer.get("issues") if isinstance(answer, dict) else None
        return [i for i in issues or [] if isinstance(i, dict) and "id" in i]

    async def _noted(self, ref: IncidentRef, note: str) -> bool:
        """Whether the issue's latest journal with notes already is this note."""
        answer = await self._send(
            "GET", f"/issues/{ref.key}.json", "redmine note", params={"include": "journals"}
        )
        journals = [j for j in _issue(answer, "redmine note").get("journals") or [] if isinstance(j, dict)]
        latest = next((j.get("notes") for j in reversed(journals) if j.get("notes")), None)
        return isinstance(latest, str) and latest.replace("\r\n", "\n").strip() == note.strip()

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

    def _priority(self, req: IncidentRequest) -> dict[str, int]:
        pid = self.config.priority_ids.get(req.priority)
        return {"priority_id": pid} if pid is not None else {}

    def _marker(self, issue: dict[str, Any]) -> Any:
        fields = [f for f in issue.get("custom_fields") or [] if isinstance(f, dict)]
        return next((f.get("value") for f in fields if f.get("id") == self.config.marker_field_id), None)

    def _ref(self, issue: dict[str, Any]) -> IncidentRef:
        return IncidentRef(key=str(issue["id"]), url=f"{self._base}/issues/{issue['id']}")


def _issue(answer: Any, what: str) -> dict[str, Any]:
    """``answer["issue"]`` as documented; a 2xx we cannot read (a proxy's page?) may hide
    a committed change, so it is ``ConnectorUnavailable`` (retried, then found), not dropped."""
    issue = answer.get("issue") if isinstance(answer, dict) else None
    if isinstance(issue, dict) and "id" in issue:
        return issue
    raise ConnectorUnavailable(f"{what}: the answer is not a Redmine issue")
