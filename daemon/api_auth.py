"""API tokens at the HTTP edge: each route needs a scope, each token carries scopes.

Tokens are hashed once when the app is built; a request's token is hashed and its
digest compared with every configured digest in constant time (no early exit), so
neither the time nor the answer tells a caller how close a guess was. Missing or
wrong credentials get a bare 401; a valid token without the route's scope gets 403
naming the scope it lacks, never the token.

With no token configured, the API is open as before; ``triaged serve`` then refuses
a non-loopback listener unless ``api.allow_unauthenticated`` says so
(``daemon/api_settings.py::exposure_problem``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from daemon.api_settings import ApiSettings
from daemon.errors import AuthError
from daemon.http_errors import Handler, json_error
from daemon.settings import SourceSettings, SourcesSettings

log = structlog.get_logger(__name__)

# Set on a request whose API token carries ``ingest``: the ingest handler may accept it in
# place of the source's own credentials (per-source auth OR an ingest token).
INGEST_GRANTED = web.RequestKey("api_ingest_granted", bool)
OPEN = "open"  # no token at this layer (health probes; inbound tracker callbacks sign themselves)
SOURCE = "source"  # a sender: its own per-source credentials, or an ingest token

# (method, canonical route) -> scope. Routes not listed need ``admin``: a route added
# later is closed until someone decides who may call it.
ROUTE_SCOPES: Mapping[tuple[str, str], str] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("POST", "/api/v1/alerts/{source}"): SOURCE,
    ("PUT", "/api/v1/alerts/{source}"): SOURCE,
    ("POST", "/api/v1/alerts/generic/{name}"): SOURCE,
    ("POST", "/api/v1/reports"): SOURCE,
    ("GET", "/api/v1/incidents"): "read",
    ("GET", "/api/v1/incidents/{id}"): "read",
    ("GET", "/api/v1/silences"): "read",
    ("GET", "/api/v1/deliveries"): "read",
    ("GET", "/api/v1/openapi.json"): "read",
    ("GET", "/metrics"): "read",
    ("POST", "/api/v1/incidents/{id}/ack"): "write",
    ("POST", "/api/v1/incidents/{id}/resolve"): "write",
    ("POST", "/api/v1/incidents/{id}/feedback"): "write",
    ("POST", "/api/v1/incidents/{id}/reopen"): "write",
    ("POST", "/api/v1/incidents/{id}/note"): "write",
    ("POST", "/api/v1/incidents/{id}/priority"): "write",
    ("POST", "/api/v1/incidents/{id}/assign"): "write",
    ("POST", "/api/v1/silences"): "write",
    ("DELETE", "/api/v1/silences/{id}"): "write",
    ("POST", "/api/v1/model/reload"): "admin",
    ("POST", "/api/v1/deliveries/{id}/retry"): "admin",
}
# Tracker callbacks (``/api/v1/inbound/...``) are verified by the tracker's signature
# in their own handler; a bearer token here would be a second, unsendable credential.
OPEN_PREFIXES = ("/api/v1/inbound/",)


@dataclass(frozen=True, slots=True)
class _Known:
    name: str
    digest: bytes
    scopes: frozenset[str]


def route_scope(method: str, canonical: str) -> str:
    """The scope a route needs (``open``, ``source`` or a token scope); unknown routes need admin."""
    if canonical.startswith(OPEN_PREFIXES):
        return OPEN
    method = "GET" if method == "HEAD" else method
    return ROUTE_SCOPES.get((method, canonical), "admin")


def identify(known: tuple[_Known, ...], header: str) -> _Known | None:
    """The configured token an ``Authorization: Bearer`` header carries, or None."""
    scheme, _, given = header.partition(" ")
    digest = hashlib.sha256(given.strip().encode("utf-8", "surrogatepass")).digest()
    found: _Known | None = None
    for entry in known:  # every entry is compared: the time does not depend on which matched
        if hmac.compare_digest(digest, entry.digest):
            found = entry
    return found if scheme.lower() == "bearer" else None


def build_api_auth(api: ApiSettings, sources: SourcesSettings) -> Middleware | None:
    """The middleware for ``api``; None when no token is configured (the API stays open)."""
    if not api.tokens:
        return None
    known = tuple(_Known(t.name, t.digest(), t.granted()) for t in api.tokens)

    @web.middleware
    async def api_auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        """401 without a known token, 403 when the token lacks the route's scope."""
        info = request.match_info
        caller = identify(known, request.headers.get("Authorization", ""))
        if info.route.resource is None:
            # No such route (404/405): any valid token may learn that; no token learns nothing.
            if caller is None:
                raise AuthError()
            return await handler(request)
        canonical = info.route.resource.canonical
        needed = route_scope(request.method, canonical)
        if needed == OPEN or (canonical == "/metrics" and api.metrics_public):
            return await handler(request)
        if needed == SOURCE:
            if caller is not None and "ingest" in caller.scopes:
                request[INGEST_GRANTED] = True
                return await handler(request)
            if _has_own_auth(_source_of(info, canonical, sources)):
                return await handler(request)  # the sender's own credentials decide (daemon/auth.py)
            needed = "ingest"
        if caller is None:
            log.info("api_unauthorized", path=canonical, method=request.method)
            raise AuthError()
        structlog.contextvars.bind_contextvars(api_token=caller.name)
        if needed not in caller.scopes:
            log.info("api_forbidden", path=canonical, method=request.method, missing_scope=needed)
            return json_error(403, f"this token lacks the {needed!r} scope", missing_scope=needed)
        return await handler(request)

    return api_auth_middleware


def _source_of(info: Mapping[str, str], canonical: str, sources: SourcesSettings) -> SourceSettings | None:
    if canonical == "/api/v1/reports":
        return sources.report
    if canonical.startswith("/api/v1/alerts/generic/"):
        return sources.generic
    found = getattr(sources, info.get("source", ""), None)
    return found if isinstance(found, SourceSettings) else None


def _has_own_auth(source: SourceSettings | None) -> bool:
    """The sender has credentials of its own configured (token, basic, HMAC or address list)."""
    if source is None:
        return False
    return bool(
        source.token is not None
        or source.token_file is not None
        or source.basic_username is not None
        or source.hmac_secret is not None
        or source.allow_ips
    )
