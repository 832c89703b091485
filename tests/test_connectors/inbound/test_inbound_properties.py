"""Every inbound parser, on any input: a list of well-formed events, or InboundError / InboundAuthError.

Hypothesis drives raw bytes, arbitrary headers, and the vendors' documented payloads with
random subtrees replaced, each correctly authenticated so that the parsing code (not only
the signature check) is exercised.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import REPO

from connectors import CONNECTORS
from connectors.base import PRIORITIES
from connectors.inbound import ACTIONS, INBOUND, InboundError, InboundEvent

Signer = Callable[..., dict[str, str]]
SECRET = "It's a Secret to Everybody"  # as the conftest signs
FIXTURES = REPO / "tests" / "fixtures" / "inbound"
VENDOR_DIR = {"jira_cloud": "jira", "jira_server": "jira"}
# The event-type headers each vendor sends with its documented bodies.
EVENT_HEADERS = {
    "github": {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1"},
    "gitlab": {"X-Gitlab-Event": "Issue Hook"},
}
KINDS = sorted(INBOUND)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def documented(kind: str) -> list[Any]:
    """The vendor's fixture payloads, parsed."""
    folder = FIXTURES / VENDOR_DIR.get(kind, kind)
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def check(kind: str, events: object) -> None:
    """What every successful parse must return."""
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, InboundEvent)
        assert event.connector_kind == kind
        assert event.action in ACTIONS
        assert event.ref.strip()
        assert event.event_id
        assert math.isfinite(event.at)
        assert event.priority is None or event.priority in PRIORITIES
        assert (event.priority is not None) == (event.action == "priority")


def attempt(kind: str, headers: dict[str, str], raw: bytes, secret: str | None) -> None:
    try:
        events = INBOUND[kind](headers, raw, secret)
    except InboundError:
        return  # InboundAuthError is a subclass; anything else escapes and fails the test
    check(kind, events)


def test_registry_uses_connector_kinds() -> None:
    """Every inbound parser is keyed by an outbound connector kind."""
    assert set(INBOUND) <= set(CONNECTORS)
    assert {"github", "gitlab", "jira_cloud", "jira_server", "pagerduty", "opsgenie", "servicenow"} <= set(
        INBOUND
    )


@pytest.mark.parametrize("kind", KINDS)
def test_every_documented_payload_parses(kind: str, signed: Signer) -> None:
    """Every fixture of the vendor parses without error into well-formed events."""
    for payload in documented(kind):
        raw = json.dumps(payload).encode()
        check(kind, INBOUND[kind]({**signed(kind, raw), **EVENT_HEADERS.get(kind, {})}, raw, SECRET))


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    raw=st.binary(max_size=300),
    headers=st.dictionaries(st.text(max_size=30), st.text(max_size=80), max_size=4),
    secret=st.none() | st.text(max_size=20),
)
def test_any_bytes_and_headers(kind: str, raw: bytes, headers: dict[str, str], secret: str | None) -> None:
    """Unauthenticated junk of any shape: an InboundError (almost always the auth kind), never a crash."""
    attempt(kind, headers, raw, secret)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), raw=st.binary(max_size=300))
def test_any_authenticated_bytes(kind: str, raw: bytes, signed: Signer) -> None:
    """Correctly signed random bytes reach the JSON reader: events or InboundError only."""
    attempt(kind, {**signed(kind, raw), **EVENT_HEADERS.get(kind, {})}, raw, SECRET)


def _replace(payload: Any, path: list[int], value: Any) -> Any:
    """The payload with the node reached by ``path`` (indices into sorted keys) replaced."""
    if not path or not isinstance(payload, dict | list) or not payload:
        return value
    keys = sorted(payload) if isinstance(payload, dict) else list(range(len(payload)))
    key = keys[path[0] % len(keys)]
    copy = dict(payload) if isinstance(payload, dict) else list(payload)
    copy[key] = _replace(payload[key], path[1:], value)
    return copy


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(KINDS),
    which=st.integers(min_value=0, max_value=50),
    path=st.lists(st.integers(min_value=0, max_value=40), max_size=5),
    value=JSON,
)
def test_mutated_documented_payloads(
    kind: str, which: int, path: list[int], value: Any, signed: Signer
) -> None:
    """A documented payload with any subtree replaced by any JSON value: events or InboundError."""
    payloads = documented(kind)
    raw = json.dumps(_replace(payloads[which % len(payloads)], path, value)).encode()
    attempt(kind, {**signed(kind, raw), **EVENT_HEADERS.get(kind, {})}, raw, SECRET)
