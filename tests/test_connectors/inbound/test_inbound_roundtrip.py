"""The ``ref`` of an inbound event is the ``IncidentRef.key`` the outbound connector stored.

Each real connector opens a ticket in its fake tracker over loopback HTTP; the ticket id
the tracker's API handed back is put where that tracker's webhook carries it (in a
documented payload), and the parsed event must name the same ``ref`` the connector
returned: otherwise the daemon could never find the incident a webhook is about.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from fakes import github, gitlab, jira_cloud, jira_server, opsgenie, pagerduty, servicenow
from fakes.base import FAKE, Ticket

from connectors import CONNECTORS
from connectors.base import IncidentRequest
from connectors.inbound import INBOUND

SECRET = "It's a Secret to Everybody"  # as the conftest signs
Signer = Callable[..., dict[str, str]]
REQUEST = IncidentRequest(incident_id="inc_01RT", title="DiskFull (host=db-1)", priority="P2", status="open")


def _set(payload: dict[str, Any], path: str, value: object) -> bytes:
    *parents, leaf = path.split(".")
    node = payload
    for key in parents:
        node = node[key]
    node[leaf] = value
    return json.dumps(payload).encode()


# kind -> (fake module, fixture, where the webhook carries the id, the id as the tracker's API gave it)
CASES: dict[str, tuple[Any, str, str, Callable[[Ticket], object]]] = {
    "github": (github, "github/issues_closed.json", "issue.number", lambda t: t.raw["number"]),
    "gitlab": (gitlab, "gitlab/issue_close.json", "object_attributes.iid", lambda t: t.raw["iid"]),
    "jira_cloud": (jira_cloud, "jira/issue_updated_done.json", "issue.key", lambda t: t.key),
    "jira_server": (jira_server, "jira/issue_updated_done.json", "issue.key", lambda t: t.key),
    "servicenow": (servicenow, "servicenow/resolved.json", "sys_id", lambda t: t.raw["sys_id"]),
    "opsgenie": (opsgenie, "opsgenie/close.json", "alert.alias", lambda t: t.raw["alias"]),
    # PagerDuty's incident carries the Events API dedup_key as its incident_key.
    "pagerduty": (pagerduty, "pagerduty/resolved.json", "event.data.incident_key", lambda t: t.marker),
}
EVENT_HEADERS = {"github": {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1"}}


def test_every_inbound_kind_is_round_tripped() -> None:
    """No parser escapes this check."""
    assert set(CASES) == set(INBOUND)


@pytest.mark.parametrize("kind", sorted(CASES))
async def test_ref_matches_the_stored_key(
    kind: str, aiohttp_server: Callable[..., Any], body: Callable[[str], bytes], signed: Signer
) -> None:
    """open_incident's IncidentRef.key == the ref parsed from the tracker's webhook about that ticket."""
    fake_module, fixture, path, vendor_id = CASES[kind]
    server = await aiohttp_server(fake_module.create_app())
    cls = CONNECTORS[kind]
    config = cls.Config.model_validate(fake_module.connector_config(str(server.make_url("")).rstrip("/")))
    async with aiohttp.ClientSession() as session:
        ref = await cls(config, session).open_incident(REQUEST)
    [ticket] = server.app[FAKE].tickets.values()
    raw = _set(json.loads(body(fixture)), path, vendor_id(ticket))
    events = INBOUND[kind]({**signed(kind, raw), **EVENT_HEADERS.get(kind, {})}, raw, SECRET)
    assert [e.action for e in events] == ["resolve"]
    assert events[0].ref == ref.key
