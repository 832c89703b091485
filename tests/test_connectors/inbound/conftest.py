"""Fixtures for the inbound parsers: the vendors' documented bodies and correctly signed headers."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest
from support import REPO

FIXTURES = REPO / "tests" / "fixtures" / "inbound"
SECRET = "It's a Secret to Everybody"

Signer = Callable[..., dict[str, str]]


def _hex(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def auth_headers(kind: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    """The headers each tracker sends to prove it is itself, computed as its docs say."""
    if kind == "github":
        return {"X-Hub-Signature-256": "sha256=" + _hex(body, secret)}
    if kind in ("jira_cloud", "jira_server"):
        return {"X-Hub-Signature": "sha256=" + _hex(body, secret)}
    if kind == "gitlab":
        return {"X-Gitlab-Token": secret}
    if kind == "pagerduty":
        return {"X-PagerDuty-Signature": "v1=" + _hex(body, secret)}
    return {"Authorization": f"Bearer {secret}"}  # opsgenie, servicenow


@pytest.fixture(scope="session")
def secret() -> str:
    """The inbound_secret every test configures."""
    return SECRET


@pytest.fixture(scope="session")
def body() -> Callable[[str], bytes]:
    """A fixture body by ``<vendor>/<file>`` (see tests/fixtures/inbound/README.md)."""

    def load(path: str) -> bytes:
        return (FIXTURES / path).read_bytes()

    return load


@pytest.fixture(scope="session")
def signed() -> Signer:
    """``signed(kind, body, **extra)``: the auth headers for ``body`` plus extra headers."""

    def make(kind: str, raw: bytes, **extra: str) -> dict[str, str]:
        return {**auth_headers(kind, raw), **{k.replace("_", "-"): v for k, v in extra.items()}}

    return make
