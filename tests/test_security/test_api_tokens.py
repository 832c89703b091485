"""API tokens and scopes: every route needs its scope, over real loopback HTTP on the real app."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from support import fixture_raw, settle

from daemon.api_auth import ROUTE_SCOPES, build_api_auth, route_scope
from daemon.app import create_app
from daemon.errors import ConfigError
from daemon.settings import Settings
from daemon.tls import preflight

READ = "read-token-0123456789abcdef"
WRITE = "write-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"
INGEST = "ingest-token-0123456789abcdef"
SOURCE_TOKEN = "am-source-token-0123456789"
AM = "/api/v1/alerts/alertmanager"
JSON = {"Content-Type": "application/json"}

TOKENS = [
    {"name": "reader", "token": READ, "scopes": ["read"]},
    {"name": "writer", "token": WRITE, "scopes": ["write"]},
    {"name": "boss", "token": ADMIN, "scopes": ["admin"]},
    {"name": "am", "token": INGEST, "scopes": ["ingest"]},
]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def secured(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> TestClient[Any, Any]:
    """The app with four tokens, one per scope; no per-source credentials."""
    app = create_app(make_settings(api={"tokens": TOKENS}))
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


async def _incident(client: TestClient[Any, Any]) -> str:
    resp = await client.post(AM, data=fixture_raw("firing_grouped"), headers={**JSON, **bearer(INGEST)})
    assert resp.status == 202
    await settle(client.app)
    listing = await (await client.get("/api/v1/incidents", headers=bearer(READ))).json()
    incident_id: str = listing["incidents"][0]["id"]
    return incident_id


async def test_each_route_needs_its_scope(secured: TestClient[Any, Any]) -> None:
    """read reads, write acts, admin administers; a missing scope is 403 naming it, never the token."""
    incident_id = await _incident(secured)
    cases: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("GET", "/api/v1/incidents", "read", None),
        ("GET", f"/api/v1/incidents/{incident_id}", "read", None),
        ("GET", "/api/v1/silences", "read", None),
        ("GET", "/api/v1/deliveries", "read", None),
        ("GET", "/metrics", "read", None),
        ("POST", f"/api/v1/incidents/{incident_id}/ack", "write", {"actor": "a"}),
        ("POST", f"/api/v1/incidents/{incident_id}/feedback", "write", {"actor": "a", "note": "n"}),
        ("POST", "/api/v1/silences", "write", {"matchers": ['alertname="X"'], "duration": "1h"}),
        ("POST", "/api/v1/model/reload", "admin", None),
    ]
    for method, path, scope, body in cases:
        for token, granted in ((READ, {"read"}), (WRITE, {"read", "write"}), (INGEST, {"ingest"})):
            resp = await secured.request(method, path, json=body, headers=bearer(token))
            text = await resp.text()
            if scope in granted:
                assert resp.status < 400 or resp.status == 409, (method, path, token, resp.status, text)
            else:
                assert resp.status == 403, (method, path, token, resp.status, text)
                assert (await resp.json())["missing_scope"] == scope
                assert token not in text
        resp = await secured.request(method, path, json=body, headers=bearer(ADMIN))
        assert resp.status < 400 or resp.status == 409, (method, path, "admin", resp.status)


async def test_missing_or_wrong_token_is_a_bare_401(secured: TestClient[Any, Any]) -> None:
    """No token, a wrong one, a near miss or a non-bearer scheme: 401 with no detail."""
    for headers in (
        {},
        bearer("nope"),
        bearer(READ[:-1]),
        bearer(READ + "x"),
        {"Authorization": f"Basic {READ}"},
        {"Authorization": READ},
    ):
        resp = await secured.get("/api/v1/incidents", headers=headers)
        assert resp.status == 401, headers
        assert await resp.json() == {"error": "unauthorized"}
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    # Unknown paths: no token learns nothing (401); a valid token gets the plain 404.
    assert (await secured.get("/api/v1/nope")).status == 401
    assert (await secured.get("/api/v1/nope", headers=bearer(READ))).status == 404


async def test_probes_are_open_and_metrics_can_be_public(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], secured: TestClient[Any, Any]
) -> None:
    """/healthz and /readyz need no token; /metrics does unless api.metrics_public."""
    for path in ("/healthz", "/readyz"):
        assert (await secured.get(path)).status == 200
    assert (await secured.get("/metrics")).status == 401
    public = await aiohttp_client(create_app(make_settings(api={"tokens": TOKENS, "metrics_public": True})))
    assert (await public.get("/metrics")).status == 200
    assert (await public.get("/api/v1/incidents")).status == 401


async def test_ingest_needs_an_ingest_token_unless_the_source_has_its_own(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], secured: TestClient[Any, Any]
) -> None:
    """A sender without credentials of its own needs an ingest token; one with its own uses those."""
    body = fixture_raw("firing_grouped")
    assert (await secured.post(AM, data=body, headers=JSON)).status == 401
    assert (await secured.post(AM, data=body, headers={**JSON, **bearer(READ)})).status == 403
    assert (await secured.post(AM, data=body, headers={**JSON, **bearer(INGEST)})).status == 202
    assert (await secured.post(AM, data=body, headers={**JSON, **bearer(ADMIN)})).status == 202

    own = make_settings(api={"tokens": TOKENS}, sources={"alertmanager": {"token": SOURCE_TOKEN}})
    client = await aiohttp_client(create_app(own))
    assert (await client.post(AM, data=body, headers=JSON)).status == 401
    assert (await client.post(AM, data=body, headers={**JSON, **bearer(SOURCE_TOKEN)})).status == 202
    # The per-source token is not an API token.
    assert (await client.get("/api/v1/incidents", headers=bearer(SOURCE_TOKEN))).status == 401


async def test_without_tokens_the_loopback_api_stays_open(client: TestClient[Any, Any]) -> None:
    """The default (no tokens, loopback listener) keeps today's open API, on both stores."""
    assert (await client.get("/api/v1/incidents")).status == 200
    assert (await client.get("/metrics")).status == 200


def test_every_registered_route_has_a_decided_scope(make_settings: Callable[..., Settings]) -> None:
    """A route added without a scope decision needs admin; the known ones are all in the table."""
    app = create_app(make_settings())
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        canonical = route.resource.canonical
        if canonical.startswith("/api/v1/inbound/"):
            continue
        assert (route.method, canonical) in ROUTE_SCOPES, (route.method, canonical)
    assert route_scope("POST", "/api/v1/something/new") == "admin"
    assert route_scope("POST", "/api/v1/inbound/jira") == "open"


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ([{"name": "a", "token": "short", "scopes": ["read"]}], "at least 16 characters"),
        ([{"name": "a", "token": READ, "scopes": ["root"]}], "scopes"),
        ([{"name": "a", "token": READ, "scopes": []}], "scopes"),
        ([{"name": "a", "scopes": ["read"]}], "exactly one of token or token_file"),
        ([{"name": "a", "token": READ, "scopes": ["read"]}] * 2, "unique"),
    ],
)
def test_bad_tokens_are_config_errors(
    make_settings: Callable[..., Settings], tokens: list[dict[str, Any]], expected: str
) -> None:
    """Each bad token entry names api.tokens and the problem, and never echoes a token."""
    with pytest.raises(ConfigError) as info:
        make_settings(api={"tokens": tokens})
    text = "\n".join(info.value.problems)
    assert "api.tokens" in text
    assert expected in text
    assert READ not in text
    assert "short" not in text.replace("shorter", "")


def test_token_files_are_read_by_the_preflight(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """token_file is read when serving or checking (trailing newline trimmed); problems name the entry.

    Parsing alone does not read it, so configs written for another machine still parse.
    """
    good, short = tmp_path / "good", tmp_path / "short"
    good.write_text(READ + "\n")
    short.write_text("S3CRET\n")
    tokens = [
        {"name": "f", "token_file": str(good), "scopes": ["read"]},
        {"name": "g", "token_file": str(tmp_path / "missing"), "scopes": ["read"]},
        {"name": "h", "token_file": str(short), "scopes": ["read"]},
        {"name": "i", "token": READ, "scopes": ["write"]},
    ]
    settings = make_settings(api={"tokens": tokens})
    assert settings.api.tokens[0].secret() == READ
    with pytest.raises(ConfigError) as info:
        preflight(settings)
    assert info.value.problems == [
        "api.tokens.1: token_file: cannot read secret file: No such file or directory",
        "api.tokens.2: token must be at least 16 characters",
        "api.tokens.3: the same secret as another token",
    ]
    assert preflight(make_settings(api={"tokens": tokens[:1]})) is None


def test_the_middleware_keeps_digests_not_tokens(make_settings: Callable[..., Settings]) -> None:
    """Tokens are hashed once at build; the request path holds SHA-256 digests, never a token."""
    settings = make_settings(api={"tokens": TOKENS})
    middleware = build_api_auth(settings.api, settings.sources)
    assert middleware is not None
    cells = [c.cell_contents for c in middleware.__closure__ or ()]
    known = next(c for c in cells if isinstance(c, tuple))
    assert [k.digest for k in known] == [hashlib.sha256(t["token"].encode()).digest() for t in TOKENS]
    assert not any(t["token"] in repr(c) for c in cells for t in TOKENS)
