"""The Jira flows both editions share; Cloud and Server differ in auth, path and body format.

See ``connectors.jira`` for the documented calls and the idempotency guarantees.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar
from urllib.parse import quote

import aiohttp

from connectors.base import IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable
from connectors.http import Answer, Api
from connectors.jira import mapping
from connectors.jira.config import SUMMARY_LIMIT, JiraConfig
from connectors.jira.mapping import Block

C = TypeVar("C", bound=JiraConfig)
# Project permissions the write path needs (keys of "Get my permissions").
REQUIRED_PERMISSIONS = (
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "EDIT_ISSUES",
    "ADD_COMMENTS",
    "TRANSITION_ISSUES",
)


class JiraConnectorBase(Generic[C]):
    """One issue per incident, labelled with its marker; subclasses pick the edition."""

    name: str
    api: str  # path of the REST API below the endpoint, e.g. "/rest/api/3"
    search: str  # the JQL search resource below ``api``

    def __init__(self, config: C, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session
        self._site = str(config.endpoint).rstrip("/")
        self._client = Api(
            session,
            f"{self._site}{self.api}",
            {"Accept": "application/json", **self._auth()},
            config.timeout,
        )

    # --- what the editions define ---

    def _auth(self) -> dict[str, str]:
        raise NotImplementedError

    def _rich(self, blocks: list[Block]) -> Any:
        """Blocks as this edition's description/comment body."""
        raise NotImplementedError

    def _plain(self, body: Any) -> str:
        """A description/comment body of this edition as plain text."""
        raise NotImplementedError

    # --- the Connector protocol ---

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Create the issue (summary, description, priority, labels incl. the marker)."""
        cfg = self.config
        labels = list(dict.fromkeys([*cfg.labels, req.marker]))
        fields: dict[str, Any] = {
            "project": {"key": cfg.project_key},
            "issuetype": {"name": cfg.issue_type},
            "summary": mapping.clean_summary(req.title, SUMMARY_LIMIT),
            "description": self._rich(mapping.description(req)),
            "labels": labels,
            **self._priority(req),
        }
        answer = await self._send("POST", "/issue", "open", json={"fields": fields})
        issue = answer.body if isinstance(answer.body, dict) else {}
        if not isinstance(issue.get("key"), str):
            # Created (2xx) but unreadable: the retry's find_incident picks it up by label.
            raise ConnectorUnavailable(f"{self.name} open: answer without an issue key", status=answer.status)
        return self._ref(issue)

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Set priority (and description), maybe acknowledge, and comment the note once."""
        fields = self._priority(req)
        if self.config.refresh_description:
            fields["description"] = self._rich(mapping.description(req))
        if fields:
            await self._send("PUT", self._issue(ref), "update", json={"fields": fields})
        if req.status == "acknowledged" and self.config.acknowledge_transition:
            await self._move(ref, self.config.acknowledge_transition, "indeterminate", required=False)
        if req.note:
            await self._comment_once(ref, mapping.update_comment(req))

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Run the resolve transition unless the issue is already done; comment once."""
        await self._move(ref, self.config.resolve_transition, "done", required=True)
        await self._comment_once(ref, mapping.resolve_comment(req))

    async def find_incident(self, req: IncidentRequest) -> IncidentRef | None:
        """The oldest issue of the project carrying the marker label, by JQL."""
        jql = (
            f"project = {mapping.jql_string(self.config.project_key)}"
            f" AND labels = {mapping.jql_string(req.marker)} ORDER BY created ASC"
        )
        params = {"jql": jql, "fields": "summary,status", "maxResults": "1"}
        answer = await self._send("GET", self.search, "find", params=params)
        issues = answer.body.get("issues") if isinstance(answer.body, dict) else None
        if not issues or not isinstance(issues[0], dict):
            return None
        return self._ref(issues[0])

    async def healthcheck(self) -> None:
        """Credentials (myself), project and issue type, and the write path's permissions."""
        await self._send("GET", "/myself", "check")
        project_key = self.config.project_key
        project = (await self._send("GET", f"/project/{quote(project_key)}", "check")).body
        types = project.get("issueTypes") if isinstance(project, dict) else None
        if isinstance(types, list):
            names = [str(t.get("name")) for t in types if isinstance(t, dict)]
            if self.config.issue_type.casefold() not in (n.casefold() for n in names):
                raise ConnectorRejected(
                    f"{self.name} check: project {project_key} has no issue type "
                    f"{self.config.issue_type!r} (it has: {', '.join(names)})"
                )
        params = {"projectKey": project_key, "permissions": ",".join(REQUIRED_PERMISSIONS)}
        answer = await self._send("GET", "/mypermissions", "check", params=params)
        granted = answer.body.get("permissions") if isinstance(answer.body, dict) else None
        granted = granted if isinstance(granted, dict) else {}
        missing = [
            key
            for key in REQUIRED_PERMISSIONS
            if not (isinstance(granted.get(key), dict) and granted[key].get("havePermission") is True)
        ]
        if missing:
            raise ConnectorAuthError(
                f"{self.name} check: missing permission {', '.join(missing)} in project {project_key}",
                status=403,
            )

    # --- the steps ---

    def _priority(self, req: IncidentRequest) -> dict[str, Any]:
        name = self.config.priorities.get(req.priority)
        return {"priority": {"name": name}} if name else {}

    async def _move(self, ref: IncidentRef, name: str, category: str, *, required: bool) -> None:
        """Run transition ``name`` unless the issue's status is already that far along.

        The transition is looked up by its name or its target status' name among those
        available now (``expand=transitions``); ids differ between workflows and sites.
        """
        params = {"fields": "status", "expand": "transitions"}
        issue = (await self._send("GET", self._issue(ref), "transition", params=params)).body
        issue = issue if isinstance(issue, dict) else {}
        status = (issue.get("fields") or {}).get("status") or {}
        current = str((status.get("statusCategory") or {}).get("key", "undefined"))
        want = name.casefold()
        if mapping.CATEGORY_RANK.get(current, 0) >= mapping.CATEGORY_RANK[category]:
            return  # already there (a retry, or a person moved it): nothing to redo
        if str(status.get("name", "")).casefold() == want:
            return
        transitions = [t for t in issue.get("transitions") or [] if isinstance(t, dict)]
        for t in transitions:
            if want in (
                str(t.get("name", "")).casefold(),
                str((t.get("to") or {}).get("name", "")).casefold(),
            ):
                body: dict[str, Any] = {"transition": {"id": str(t["id"])}}
                if category == "done" and self.config.resolution:
                    body["fields"] = {"resolution": {"name": self.config.resolution}}
                await self._send("POST", f"{self._issue(ref)}/transitions", "transition", json=body)
                return
        if required:
            available = ", ".join(repr(t.get("name")) for t in transitions) or "none"
            raise ConnectorRejected(
                f"{self.name} transition: {ref.key} has no transition {name!r} from status "
                f"{status.get('name')!r} (available: {available})"
            )

    async def _comment_once(self, ref: IncidentRef, blocks: list[Block]) -> None:
        """Add the comment unless the newest comment already says it (a retried call)."""
        body = self._rich(blocks)
        params = {"orderBy": "-created", "maxResults": "1"}
        latest = (await self._send("GET", f"{self._issue(ref)}/comment", "comment", params=params)).body
        comments = latest.get("comments") if isinstance(latest, dict) else None
        newest = comments[0] if comments and isinstance(comments[0], dict) else {}
        if newest and mapping.same_text(self._plain(newest.get("body")), self._plain(body)):
            return
        await self._send("POST", f"{self._issue(ref)}/comment", "comment", json={"body": body})

    # --- plumbing ---

    def _issue(self, ref: IncidentRef) -> str:
        return f"/issue/{quote(ref.key, safe='')}"

    def _ref(self, issue: dict[str, Any]) -> IncidentRef:
        key = str(issue.get("key") or issue.get("id"))
        extra = {"id": str(issue["id"])} if issue.get("id") is not None else {}
        return IncidentRef(key=key, url=f"{self._site}/browse/{key}", extra=extra)

    async def _send(
        self,
        method: str,
        path: str,
        action: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        return await self._client.call(method, path, f"{self.name} {action}", json=json, params=params)
