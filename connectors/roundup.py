"""Roundup issue tracker, through its REST interface (Roundup >= 2.0, ``doc/rest.txt``).

``endpoint`` is the tracker's web URL, exactly the ``web`` setting of ``[tracker]`` in its
``config.ini`` (e.g. ``https://bugs.example.org/demo/``); the API lives under
``<endpoint>rest/data``. Documented calls used:

- ``POST rest/data/issue`` ``{"title", "priority", "status"}`` -> 201 ``{"data": {"id", "link"}}``.
  Link properties are given by their key name (``"priority": "urgent"``).
- ``POST rest/data/msg`` ``{"content", "author", "date": "."}`` -> 201: the description and each
  note become a message, linked to the issue through its ``messages`` multilink.
- ``GET rest/data/issue/<id>?@fields=messages&@verbose=0`` -> the item and its ``@etag``
  (also the ``ETag`` header); ``PUT rest/data/issue/<id>`` with ``If-Match: <etag>`` sets
  ``priority``/``status``/``messages``; a stale etag answers 412, re-read and retried once.
- ``GET rest/data/msg/<id>?@fields=content&@verbose=3``: the latest message's text.
- ``GET rest/data/issue?title=<marker>&@fields=title``: case-insensitive substring search.
- ``GET rest/data/priority?@verbose=2`` / ``rest/data/status?@verbose=2``: names (healthcheck).

Auth and CSRF: HTTP Basic; Roundup refuses changing requests without ``X-Requested-With``
and an ``Origin`` equal to the tracker's web URL without its path (400 "Required Header
Missing"), so every request carries both plus ``Referer``. The user needs the "Rest Access"
permission (403 otherwise). Errors are ``{"error": {"status", "msg"}}``; a bad password is
401, the failed-login and API rate limiters answer 429 with ``Retry-After``
(``X-RateLimit-Reset`` is in seconds from now, which ``http.send`` reads as a delta).

Mapping: P1..P5 -> the classic template's ``critical, urgent, bug, feature, wish``; open ->
``unread``, acknowledged -> ``in-progress``, resolved -> ``resolved`` (both tables configurable).
Every change sends ``status`` explicitly, because the classic ``statusauditor`` otherwise moves
an issue that gets a message from unread/resolved to ``chatting``.

Idempotency: the marker is the title's suffix ``[triaged-<incident id>]``. A create that timed
out after Roundup committed it is found by ``find_incident`` (title search, exact suffix
checked here) before delivery retries, so it is never created twice. Roundup's own
Post-Once-Exactly tokens (``POST rest/data/issue/@poe``) do not help here: a used token
answers 400, not the created issue, so a lost answer still needs the lookup. The
description is attached right after the create; if that fails the open raises
``ConnectorUnavailable`` so the retry finds the issue (then without its description). Updates
and resolves set absolute values under ``If-Match`` and post the note only if it is not
already the issue's latest message, so a retry whose first attempt committed changes nothing.
"""

from __future__ import annotations

import base64
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr, model_validator

from connectors.base import PRIORITIES, ConnectorConfig, IncidentRef, IncidentRequest
from connectors.errors import ConnectorError, ConnectorRejected, ConnectorUnavailable
from connectors.http import Answer, send

STATUSES = ("open", "acknowledged", "resolved")
# The classic template's priority and status names (initial_data.py).
DEFAULT_PRIORITIES = {"P1": "critical", "P2": "urgent", "P3": "bug", "P4": "feature", "P5": "wish"}
DEFAULT_STATUSES = {"open": "unread", "acknowledged": "in-progress", "resolved": "resolved"}
_TITLE_LIMIT = 200


class RoundupConfig(ConnectorConfig):
    """Tracker web URL (``endpoint``), the REST user, and the vocabulary of this tracker."""

    kind: Literal["roundup"] = "roundup"
    username: str
    password: SecretStr
    priorities: dict[str, str] = DEFAULT_PRIORITIES
    statuses: dict[str, str] = DEFAULT_STATUSES
    # Only when a proxy makes the public origin differ from the endpoint's (allowed_api_origins).
    origin: str | None = None

    @model_validator(mode="after")
    def _complete_tables(self) -> RoundupConfig:
        missing = [p for p in PRIORITIES if p not in self.priorities]
        missing += [s for s in STATUSES if s not in self.statuses]
        if missing:
            raise ValueError(f"no Roundup name configured for {', '.join(missing)}")
        return self


class RoundupConnector:
    """One issue per incident; notes become messages; resolve sets status ``resolved``."""

    name = "roundup"
    Config = RoundupConfig

    def __init__(self, config: RoundupConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session
        web = str(config.endpoint)
        self._web = web if web.endswith("/") else web + "/"
        parts = urlsplit(self._web)
        credentials = f"{config.username}:{config.password.get_secret_value()}".encode()
        self._headers = {
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
            "Accept": "application/json",
            "X-Requested-With": "rest",
            "Origin": config.origin or f"{parts.scheme}://{parts.netloc}",
            "Referer": self._web,
        }

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Create the issue (marker in its title), then attach the description as its first message."""
        status = self.config.statuses[req.status if req.status in STATUSES else "open"]
        created = await self._call(
            "POST",
            "issue",
            "roundup open",
            json={"title": _title(req), "priority": self.config.priorities[req.priority], "status": status},
        )
        ref = self._ref(str(_data(created)["id"]))
        try:
            await self._change(ref.key, {"status": status}, req.description(), "roundup open")
        except ConnectorError as err:
            # The issue exists: a retry must find it (Findable), not be dead-lettered.
            raise ConnectorUnavailable(
                f"roundup open: issue{ref.key} created, description not attached ({err})",
                status=err.status,
                retry_after=getattr(err, "retry_after", None),
            ) from None
        return ref

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Set priority and status; the note becomes a message."""
        fields = {
            "priority": self.config.priorities[req.priority],
            "status": self.config.statuses[req.status if req.status in STATUSES else "open"],
        }
        await self._change(ref.key, fields, req.note, "roundup update")

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Set the resolved status (and post the note, if any)."""
        await self._change(ref.key, {"status": self.config.statuses["resolved"]}, req.note, "roundup resolve")

    async def find_incident(self, req: IncidentRequest) -> IncidentRef | None:
        """The oldest issue whose title ends in this incident's marker."""
        answer = await self._call(
            "GET", "issue", "roundup find", params={"title": req.marker, "@fields": "title", "@sort": "id"}
        )
        suffix = f"[{req.marker}]"
        for item in _data(answer).get("collection", []):
            if str(item.get("title", "")).endswith(suffix):
                return self._ref(str(item["id"]))
        return None

    async def healthcheck(self) -> None:
        """Log in, check REST access and that the configured names exist (reads only).

        Roundup cannot tell a user's Create/Edit permissions without writing, so a user
        lacking them passes here (a false positive, by preference) and meets a 403 on the
        first delivery.
        """
        wanted = {"priority": self.config.priorities.values(), "status": self.config.statuses.values()}
        for class_name, names in wanted.items():
            answer = await self._call("GET", class_name, "roundup check", params={"@verbose": "2"})
            known = {item.get("name") for item in _data(answer).get("collection", [])}
            missing = sorted(set(names) - known)
            if missing:
                raise ConnectorRejected(f"roundup check: no {class_name} named {', '.join(missing)}")
        # Searching issues is what find_incident needs (View permission on issue).
        await self._call("GET", "issue", "roundup check", params={"@page_size": "1"})

    async def _change(self, issue_id: str, fields: dict[str, str], note: str, what: str) -> None:
        """Read-modify-write of one issue under If-Match, retried once on a stale etag (412)."""
        etag, messages = await self._read(issue_id, what)
        msg_id = None
        if note and not await self._is_latest(messages, note, what):
            created = await self._call(
                "POST", "msg", what, json={"content": note, "author": self.config.username, "date": "."}
            )
            msg_id = str(_data(created)["id"])
        for attempt in (1, 2):
            body: dict[str, Any] = dict(fields)
            if msg_id is not None and msg_id not in messages:
                body["messages"] = [*messages, msg_id]
            try:
                await self._call("PUT", f"issue/{issue_id}", what, json=body, headers={"If-Match": etag})
                return
            except ConnectorRejected as err:
                if err.status != 412 or attempt == 2:
                    raise
            etag, messages = await self._read(issue_id, what)

    async def _read(self, issue_id: str, what: str) -> tuple[str, list[str]]:
        answer = await self._call(
            "GET", f"issue/{issue_id}", what, params={"@fields": "messages", "@verbose": "0"}
        )
        data = _data(answer)
        etag = data.get("@etag") or answer.headers.get("ETag", "")
        return str(etag), [str(m) for m in data.get("attributes", {}).get("messages", [])]

    async def _is_latest(self, messages: list[str], note: str, what: str) -> bool:
        """Whether the issue's newest message already says ``note`` (a retried update)."""
        if not messages:
            return False
        latest = max(messages, key=lambda m: int(m) if m.isdigit() else 0)
        answer = await self._call(
            "GET", f"msg/{latest}", what, params={"@fields": "content", "@verbose": "3"}
        )
        content = _data(answer).get("attributes", {}).get("content")
        return isinstance(content, str) and content.strip() == note.strip()

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        return await send(
            self.session,
            method,
            f"{self._web}rest/data/{path}",
            what=what,
            timeout=self.config.timeout,
            json=json,
            params=params,
            headers={**self._headers, **(headers or {})},
        )

    def _ref(self, issue_id: str) -> IncidentRef:
        return IncidentRef(key=issue_id, url=f"{self._web}issue{issue_id}")


def _title(req: IncidentRequest) -> str:
    """The incident's title, shortened, ending in the searchable marker."""
    title = " ".join(req.title.split())
    if len(title) > _TITLE_LIMIT:
        title = title[: _TITLE_LIMIT - 1] + "…"
    return f"{title} [{req.marker}]"


def _data(answer: Answer) -> dict[str, Any]:
    """The ``data`` envelope of a Roundup answer."""
    body = answer.body
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise ConnectorUnavailable(f"unexpected Roundup answer (HTTP {answer.status}): no data envelope")
    return data
