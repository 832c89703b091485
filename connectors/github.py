"""GitHub Issues (github.com or GitHub Enterprise Server): one issue per incident.

Documented calls used (REST API version ``2022-11-28``, docs.github.com/rest):

- ``POST /repos/{owner}/{repo}/issues`` "Create an issue" (201): title, body, labels.
  GitHub drops labels silently when the token lacks push access, so if the answer does
  not carry every label, ``POST /repos/{owner}/{repo}/issues/{number}/labels`` "Add
  labels to an issue" adds them (triage access is enough for that).
- ``GET /repos/{owner}/{repo}/issues/{number}`` "Get an issue"; ``PATCH`` of the same
  path "Update an issue" for the body and, on resolve, ``{"state": "closed",
  "state_reason": "completed"}``. The priority label is swapped with "Add labels to an
  issue" and ``DELETE .../issues/{number}/labels/{name}`` "Remove a label from an issue"
  (404 when it is not there: already done), not ``PATCH labels``, which GitHub ignores
  silently without push access.
- ``GET``/``POST /repos/{owner}/{repo}/issues/{number}/comments`` "List/Create issue
  comments" (201) for notes.
- ``GET /repos/{owner}/{repo}/issues?labels=<marker>&state=all`` "List repository
  issues" for ``find_incident``. Not the search API (``GET /search/issues?q=label:..``):
  its index is eventually consistent, so the issue a timed-out create just made may be
  missing from it for a while, which is precisely when we look. The list endpoint also
  returns pull requests; they are skipped.
- ``GET /repos/{owner}/{repo}`` "Get a repository" for the healthcheck:
  ``permissions`` (push, maintain, admin or triage can label issues), ``has_issues``,
  and for classic tokens the ``X-OAuth-Scopes`` answer header (``repo``/``public_repo``).

Every request carries ``Authorization: Bearer <token>``, ``Accept:
application/vnd.github+json`` and ``X-GitHub-Api-Version``. Rate limits (403 or 429 with
``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``, or a secondary limit's message and
``retry-after``) become ``ConnectorUnavailable`` in ``connectors.http.send``.

Mapping: the priority is the label ``<priority_label_prefix><P1..P5>`` (other labels with
that prefix are removed on update); status follows ``STATES`` (GitHub has open/closed).
Label names are case-insensitive on GitHub and at most 50 characters; the marker is 38.

Idempotency:

- **Create**: the issue carries the label ``triaged-<incident id>``. If the create times
  out after GitHub committed it, the delivery worker's retry calls ``find_incident``,
  which lists issues with that label (open or closed) and returns the oldest, so no
  second issue is opened. Only if the label could not be set (no triage/push access,
  which the healthcheck reports) is a duplicate possible.
- **Update**: adding a label that is there, removing one that is gone (404) and writing
  the same body change nothing, so a repeated update converges. The note is commented only if the issue's
  latest comment is not that same text, so a retry after a lost answer does not post it
  twice.
- **Resolve**: closing a closed issue changes nothing (an issue a person already closed
  keeps its reason); a deleted issue (410 Gone) counts as resolved. Transferred issues
  answer a redirect that aiohttp follows.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import aiohttp
from pydantic import Field, HttpUrl, SecretStr

from connectors.base import ConnectorConfig, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable
from connectors.http import Api

API_VERSION = "2022-11-28"
# Our status -> GitHub issue state. An update never reopens an issue a person closed.
STATES = {"open": "open", "acknowledged": "open", "resolved": "closed"}
BODY_LIMIT = 65_000  # GitHub refuses bodies and comments over 65,536 characters (422)
TITLE_LIMIT = 256
_LABELLING = ("admin", "maintain", "push", "triage")


class GitHubConfig(ConnectorConfig):
    """Where the issues go and how they are labelled."""

    kind: Literal["github"] = "github"
    endpoint: HttpUrl = HttpUrl("https://api.github.com")  # GHES: https://HOST/api/v3
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")  # owner/name
    token: SecretStr  # fine-grained (Issues: read and write), classic (repo) or app token
    labels: list[str] = []  # added to every new issue, e.g. ["incident"]
    priority_label_prefix: str = Field(default="priority/", min_length=1)


class GitHubConnector:
    """Opens, updates and closes one GitHub issue per incident."""

    name = "github"
    Config = GitHubConfig

    def __init__(self, config: GitHubConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session
        self._base = str(config.endpoint).rstrip("/")
        self._client = Api(session, self._base, self._headers(), config.timeout)

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Create the issue with marker, priority and configured labels."""
        repo = self.config.repository
        labels = _unique([req.marker, *self._priority_label(req), *self.config.labels])
        body = {"title": req.title[:TITLE_LIMIT], "body": _body(req), "labels": labels}
        issue = _issue(
            await self._send("POST", f"/repos/{repo}/issues", "github open", json=body), "github open"
        )
        dropped = [name for name in labels if name.lower() not in _label_names(issue)]
        if dropped:  # no push access: GitHub dropped them without saying so
            await self._send(
                "POST",
                f"/repos/{repo}/issues/{issue['number']}/labels",
                "github label",
                json={"labels": dropped},
            )
        return self._ref(issue, repo)

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Swap the priority label, refresh the body, comment the note.

        Labels go through the add/remove-label calls rather than ``PATCH labels``: GitHub
        silently ignores ``labels`` in a PATCH from a token without push access, while
        triage access may add and remove them.
        """
        path = self._issue_path(ref)
        issue = _issue(await self._send("GET", path, "github update"), "github update")
        current = _label_names(issue, lower=False)
        has = {n.lower() for n in current}
        priority = self._priority_label(req)
        prefix, keep = self.config.priority_label_prefix.lower(), {p.lower() for p in priority}
        stale = [n for n in current if n.lower().startswith(prefix) and n.lower() not in keep]
        missing = [n for n in _unique([req.marker, *priority]) if n.lower() not in has]
        if missing:
            await self._send("POST", f"{path}/labels", "github update", json={"labels": missing})
        for name in stale:
            try:
                await self._send("DELETE", f"{path}/labels/{quote(name, safe='')}", "github update")
            except ConnectorRejected as err:
                if err.status != 404:  # 404: not on the issue (any more), which is the goal
                    raise
        body = _body(req)
        if not _same(issue.get("body"), body):
            await self._send("PATCH", path, "github update", json={"body": body})
        await self._comment(path, issue, req)

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Comment the note (if any) and close the issue as completed."""
        path = self._issue_path(ref)
        try:
            if req.note:
                issue = _issue(await self._send("GET", path, "github resolve"), "github resolve")
                await self._comment(path, issue, req)
                if issue.get("state") == STATES["resolved"]:
                    return
            closing = {"state": STATES["resolved"], "state_reason": "completed"}
            await self._send("PATCH", path, "github resolve", json=closing)
        except ConnectorRejected as err:
            if err.status != 410:  # 410 Gone: the issue was deleted, nothing left to close
                raise

    async def find_incident(self, req: IncidentRequest) -> IncidentRef | None:
        """The oldest issue (not pull request) labelled with the marker, open or closed."""
        repo = self.config.repository
        params = {
            "labels": req.marker,
            "state": "all",
            "sort": "created",
            "direction": "asc",
            "per_page": "100",
        }
        found = await self._send("GET", f"/repos/{repo}/issues", "github find", params=params)
        for issue in found if isinstance(found, list) else []:
            if not isinstance(issue, dict) or "number" not in issue or "pull_request" in issue:
                continue
            if req.marker.lower() in _label_names(issue):
                return self._ref(issue, repo)
        return None

    async def healthcheck(self) -> None:
        """Read the repository: token valid, may label issues, issues enabled (no write)."""
        repo = self.config.repository
        answer = await self._client.call("GET", f"/repos/{repo}", "github check")
        scopes = answer.headers.get("X-OAuth-Scopes")
        if scopes is not None and not {"repo", "public_repo"} & {s.strip() for s in scopes.split(",")}:
            raise ConnectorAuthError(f"github check: the classic token lacks the repo scope for {repo}")
        info = answer.body if isinstance(answer.body, dict) else {}
        permissions = info.get("permissions")
        # Absent for some app tokens: then we cannot tell, and let it pass.
        if isinstance(permissions, dict) and not any(permissions.get(p) for p in _LABELLING):
            raise ConnectorAuthError(
                f"github check: the token can read {repo} but not label issues (needs triage or push)"
            )
        if info.get("has_issues") is False:
            raise ConnectorRejected(f"github check: issues are disabled in {repo}")

    async def _comment(self, path: str, issue: dict[str, Any], req: IncidentRequest) -> None:
        """Post the note unless it already is the latest comment (a retried update)."""
        if not req.note:
            return
        text = _comment_text(req)
        count = int(issue.get("comments") or 0)
        if count:
            params = {"per_page": "1", "page": str(count)}
            last = await self._send("GET", f"{path}/comments", "github comment", params=params)
            if (
                isinstance(last, list)
                and last
                and isinstance(last[-1], dict)
                and _same(last[-1].get("body"), text)
            ):
                return
        await self._send("POST", f"{path}/comments", "github comment", json={"body": text})

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

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.config.token.get_secret_value()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "triaged",  # GitHub refuses requests without one
        }

    def _issue_path(self, ref: IncidentRef) -> str:
        # The repository the issue was opened in, even if the config moved on since.
        repo = ref.extra.get("repository") or self.config.repository
        return f"/repos/{repo}/issues/{ref.key}"

    def _priority_label(self, req: IncidentRequest) -> list[str]:
        return [f"{self.config.priority_label_prefix}{req.priority}"] if req.priority else []

    @staticmethod
    def _ref(issue: dict[str, Any], repo: str) -> IncidentRef:
        return IncidentRef(
            key=str(issue["number"]), url=str(issue.get("html_url", "")), extra={"repository": repo}
        )


def _issue(body: Any, what: str) -> dict[str, Any]:
    """The issue GitHub answered; a 2xx we cannot read (say, a proxy's page) may hide a
    committed change, so it is ``ConnectorUnavailable`` (retried, then found), not dropped."""
    if isinstance(body, dict) and isinstance(body.get("number"), int):
        return body
    raise ConnectorUnavailable(f"{what}: the answer is not a GitHub issue")


def _label_names(issue: Any, *, lower: bool = True) -> list[str]:
    """The issue's label names, lower-cased by default: GitHub compares them case-insensitively."""
    labels = issue.get("labels", []) if isinstance(issue, dict) else []
    names = [lab["name"] if isinstance(lab, dict) else str(lab) for lab in labels]
    return [n.lower() for n in names] if lower else names


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(n for n in names if n))


def _same(stored: Any, text: str) -> bool:
    return isinstance(stored, str) and stored.replace("\r\n", "\n").strip() == text.strip()


def _body(req: IncidentRequest) -> str:
    text = req.description()
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "\n\n(truncated)"


def _comment_text(req: IncidentRequest) -> str:
    text = f"{req.note}\n\n_triaged: priority {req.priority}, {req.status}_"
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "\n\n(truncated)"
