"""ServiceNow, Table API on ``incident``: one incident record per triaged incident.

Documented calls used (ServiceNow docs, REST API reference -> Table API; every answer
is ``{"result": ...}``, every error ``{"error": {"message", "detail"}, "status": "failure"}``):

- ``POST /api/now/table/incident`` (201): ``short_description``, ``description``,
  ``impact``, ``urgency``, ``correlation_id`` (the marker), ``correlation_display``,
  optional ``assignment_group`` and any site-mandatory ``extra_fields``.
- ``PATCH /api/now/table/incident/{sys_id}`` (200; 404 when the record is gone): new
  impact/urgency/description, the note in ``work_notes`` (or ``comments``), ``state``;
  resolve sets ``state`` 6 (Resolved) with ``close_code`` and ``close_notes``.
- ``GET /api/now/table/incident/{sys_id}?sysparm_display_value=true`` reads the journal
  (``work_notes``) to see whether a note was already added.
- ``GET /api/now/table/incident?sysparm_query=correlation_id=<marker>`` for
  ``find_incident``. An invalid part of an encoded query is *ignored* by default (it
  does not fail), so every result is checked for the marker before it is trusted.
- Healthcheck: ``GET /api/now/table/incident?sysparm_limit=1`` (and ``GET
  /api/now/table/sys_user_group/{id}`` when an assignment group is configured).

Auth: Basic (``username``/``password``) or an OAuth bearer ``oauth_token``. Inbound REST
rate-limit rules (per hour, per user/role) deny with 429 ``Rate limit exceeded`` and a
``Retry-After`` (seconds), which ``connectors.http.send`` turns into ``retry_after``. ServiceNow
also answers 403 for *data policy* and business-rule refusals (e.g. a mandatory field
missing): those are turned into ``ConnectorRejected`` here, not an auth error.

Priority: ServiceNow derives ``priority`` from impact x urgency through its priority
lookup rules. With the out-of-box matrix (1 high .. 3 low)::

                 urgency 1   urgency 2   urgency 3
    impact 1     1 Critical  2 High      3 Moderate
    impact 2     2 High      3 Moderate  4 Low
    impact 3     3 Moderate  4 Low       5 Planning

``DEFAULT_IMPACT_URGENCY`` picks one cell per level: P1 (1,1), P2 (1,2), P3 (2,2),
P4 (2,3), P5 (3,3); override ``impact_urgency`` if the site changed the lookup rules.
States (out of box): 1 New, 2 In Progress, 6 Resolved, 7 Closed; acknowledging sets
``acknowledged_state`` (2), resolving ``resolved_state`` (6).

Idempotency:

- **Create**: the record carries the marker in ``correlation_id``. If a create times out
  after ServiceNow committed it, the delivery worker's retry calls ``find_incident``,
  which queries ``correlation_id`` and returns the oldest match: no second incident.
- **Update**: impact, urgency, description and state are absolute values (repeating
  them changes nothing). Journal fields only append, so the note is sent only when the
  latest journal entry is not that same text: a retry after a lost answer adds it once.
- **Resolve**: setting Resolved again is harmless; the answer must show state 6 or 7
  (a business rule that silently keeps the state is reported, not hidden). An incident
  deleted meanwhile (404) or already closed (closed records are read-only: 403) counts as
  resolved.
- **Healthcheck** proves the credentials and *read* access to ``incident`` only: the
  Table API cannot tell whether the create/write ACLs would pass without writing.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import aiohttp
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import PRIORITIES, ConnectorConfig, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected
from connectors.http import Api

# Our priority -> (impact, urgency); see the matrix in the module docstring.
DEFAULT_IMPACT_URGENCY: dict[str, tuple[int, int]] = {
    "P1": (1, 1),
    "P2": (1, 2),
    "P3": (2, 2),
    "P4": (2, 3),
    "P5": (3, 3),
}
ACKNOWLEDGED_STATE = 2  # In Progress
RESOLVED_STATE = 6  # Resolved (needs close_code and close_notes)
CLOSED_STATES = ("6", "7")  # Resolved, Closed
SHORT_DESCRIPTION_LIMIT = 160  # incident.short_description max length out of box
CORRELATION_LIMIT = 100  # task.correlation_id / correlation_display max length
TABLE = "/api/now/table/incident"


class ServiceNowConfig(ConnectorConfig):
    """Instance URL (``endpoint``), credentials, and the site's field values."""

    kind: Literal["servicenow"] = "servicenow"
    username: str | None = None
    password: SecretStr | None = None
    oauth_token: SecretStr | None = None
    assignment_group: str | None = None  # sys_id of a sys_user_group
    extra_fields: dict[str, str] = {}  # e.g. {"caller_id": "<sys_id>", "category": "software"}
    impact_urgency: dict[str, tuple[int, int]] = DEFAULT_IMPACT_URGENCY
    note_field: Literal["work_notes", "comments"] = "work_notes"
    acknowledged_state: int | None = ACKNOWLEDGED_STATE  # None: acknowledging changes no state
    resolved_state: int = RESOLVED_STATE
    close_code: str = Field(default="Solution provided", min_length=1)  # site-specific choice
    close_notes: str = Field(default="Resolved by triaged: every alert of the incident resolved.")
    correlation_display: str = Field(default="triaged", max_length=CORRELATION_LIMIT)

    @field_validator("impact_urgency")
    @classmethod
    def _matrix(cls, cells: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        """Only P1..P5, each to an (impact, urgency) pair of 1..3."""
        if set(cells) - set(PRIORITIES):
            raise ValueError(f"unknown priorities {sorted(set(cells) - set(PRIORITIES))}; use P1..P5")
        if any(not (1 <= v <= 3) for pair in cells.values() for v in pair):
            raise ValueError("impact and urgency are 1 (high) to 3 (low)")
        return cells

    @model_validator(mode="after")
    def _one_auth(self) -> ServiceNowConfig:
        """Exactly one way to authenticate: username+password, or an OAuth token."""
        basic = self.username is not None or self.password is not None
        if basic == (self.oauth_token is not None):
            raise ValueError("set either username and password, or oauth_token")
        if basic and (not self.username or self.password is None):
            raise ValueError("basic auth needs both username and password")
        return self


class ServiceNowConnector:
    """Opens, updates and resolves one ServiceNow incident per triaged incident."""

    name = "servicenow"
    Config = ServiceNowConfig

    def __init__(self, config: ServiceNowConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session
        self._base = str(config.endpoint).rstrip("/")
        self._client = Api(session, self._base, self._headers(), config.timeout)

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Create the incident with the marker in ``correlation_id``."""
        record: dict[str, Any] = {
            **self.config.extra_fields,
            "short_description": req.title[:SHORT_DESCRIPTION_LIMIT],
            "description": req.description(),
            **self._impact_urgency(req),
            "correlation_id": req.marker[:CORRELATION_LIMIT],
            "correlation_display": self.config.correlation_display,
        }
        if self.config.assignment_group:
            record["assignment_group"] = self.config.assignment_group
        params = {"sysparm_fields": "sys_id,number", "sysparm_exclude_reference_link": "true"}
        result = await self._send("POST", TABLE, "servicenow open", json=record, params=params)
        return self._ref(_record(result, "servicenow open"))

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """One PATCH: impact/urgency, description, acknowledged state, and the note."""
        change: dict[str, Any] = {"description": req.description(), **self._impact_urgency(req)}
        if req.status == "acknowledged" and self.config.acknowledged_state is not None:
            change["state"] = str(self.config.acknowledged_state)
        if req.note and not await self._noted(ref, req.note):
            change[self.config.note_field] = req.note
        params = {"sysparm_fields": "sys_id"}
        await self._send("PATCH", f"{TABLE}/{ref.key}", "servicenow update", json=change, params=params)

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Set Resolved with close code and notes; check the answer really shows it."""
        change: dict[str, Any] = {
            "state": str(self.config.resolved_state),
            "close_code": self.config.close_code,
            "close_notes": self.config.close_notes,
        }
        params = {"sysparm_fields": "sys_id,state"}
        try:
            if req.note and not await self._noted(ref, req.note):
                change[self.config.note_field] = req.note
            result = await self._send(
                "PATCH", f"{TABLE}/{ref.key}", "servicenow resolve", json=change, params=params
            )
        except ConnectorRejected as err:
            if err.status == 404:  # deleted meanwhile: nothing left to resolve
                return
            if err.status == 403 and await self._state(ref) in CLOSED_STATES:
                return  # closed records are read-only; it is resolved already
            raise
        state = str(_record(result, "servicenow resolve").get("state", ""))
        if state not in (str(self.config.resolved_state), *CLOSED_STATES):
            raise ConnectorRejected(
                f"servicenow resolve: incident {ref.extra.get('number', ref.key)} is still in state "
                f"{state or '?'}: a business rule kept it from state {self.config.resolved_state}"
            )

    async def find_incident(self, req: IncidentRequest) -> IncidentRef | None:
        """The oldest incident whose ``correlation_id`` is the marker."""
        marker = req.marker[:CORRELATION_LIMIT]
        params = {
            "sysparm_query": f"correlation_id={marker}^ORDERBYsys_created_on",
            "sysparm_fields": "sys_id,number,correlation_id",
            "sysparm_limit": "20",
        }
        result = await self._send("GET", TABLE, "servicenow find", params=params)
        for record in result if isinstance(result, list) else []:
            if isinstance(record, dict) and record.get("correlation_id") == marker:
                return self._ref(record)
        return None

    async def healthcheck(self) -> None:
        """Credentials valid and ``incident`` readable (write ACLs cannot be checked)."""
        params = {"sysparm_limit": "1", "sysparm_fields": "sys_id"}
        await self._send("GET", TABLE, "servicenow check", params=params)
        group = self.config.assignment_group
        if group:
            path = f"/api/now/table/sys_user_group/{group}"
            try:
                await self._send("GET", path, "servicenow check", params={"sysparm_fields": "sys_id"})
            except ConnectorRejected as err:
                if err.status == 404:
                    raise ConnectorRejected(
                        f"servicenow check: assignment group {group} not found (or not readable)",
                        status=404,
                    ) from None
                raise

    async def _noted(self, ref: IncidentRef, note: str) -> bool:
        """Whether the latest journal entry of the note field already is this note."""
        field = self.config.note_field
        params = {"sysparm_fields": field, "sysparm_display_value": "true"}
        result = await self._send("GET", f"{TABLE}/{ref.key}", "servicenow update", params=params)
        journal = _record(result, "servicenow update").get(field)
        if not isinstance(journal, str) or "\n" not in journal:
            return False
        # Display value: newest entry first, "<date> - <user> (Work notes)\n<text>\n\n<older>..."
        latest = journal.split("\n", 1)[1].rstrip("\n")
        text = note.strip()
        return latest == text or latest.startswith(text + "\n\n")

    async def _state(self, ref: IncidentRef) -> str | None:
        """The incident's state, or None when it cannot be read."""
        try:
            result = await self._send(
                "GET", f"{TABLE}/{ref.key}", "servicenow resolve", params={"sysparm_fields": "state"}
            )
        except ConnectorRejected:
            return None
        return str(_record(result, "servicenow resolve").get("state", "")) or None

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        try:
            answer = await self._client.call(method, path, what, json=json, params=params)
        except ConnectorAuthError as err:
            # A data policy or business rule refusing the values is the request's fault.
            if err.status == 403 and "Data Policy Exception" in str(err):
                raise ConnectorRejected(str(err), status=403) from None
            raise
        body = answer.body
        return body.get("result") if isinstance(body, dict) else None

    def _headers(self) -> dict[str, str]:
        config = self.config
        if config.oauth_token is not None:
            auth = f"Bearer {config.oauth_token.get_secret_value()}"
        else:
            password = config.password.get_secret_value() if config.password else ""
            pair = f"{config.username}:{password}".encode()
            auth = f"Basic {base64.b64encode(pair).decode()}"
        return {"Accept": "application/json", "Authorization": auth}

    def _impact_urgency(self, req: IncidentRequest) -> dict[str, str]:
        cell = self.config.impact_urgency.get(req.priority)
        return {"impact": str(cell[0]), "urgency": str(cell[1])} if cell else {}

    def _ref(self, record: dict[str, Any]) -> IncidentRef:
        sys_id = str(record.get("sys_id", ""))
        if not sys_id:
            raise ConnectorRejected("servicenow: the answer carries no sys_id")
        url = f"{self._base}/nav_to.do?uri=incident.do%3Fsys_id%3D{sys_id}"
        number = record.get("number")
        return IncidentRef(key=sys_id, url=url, extra={"number": number} if number else {})


def _record(result: Any, what: str) -> dict[str, Any]:
    """The single record of a ``{"result": {...}}`` answer."""
    if not isinstance(result, dict):
        raise ConnectorRejected(f"{what}: unexpected answer (no result record)")
    return result
