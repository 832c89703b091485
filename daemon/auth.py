"""Per-source authentication at the HTTP edge: bearer, basic, HMAC signatures, address allow-lists.

Every configured check must pass. Each comparison is constant-time and every check
runs even after one failed, so the time of a refusal says nothing about which part
was wrong; the caller answers a bare 401 ``{"error": "unauthorized"}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Mapping
from functools import lru_cache

from daemon.settings import SourceSettings

GRAFANA_SIGNATURE = "X-Grafana-Alerting-Signature"
SIGNATURE = "X-Triaged-Signature"
TIMESTAMP = "X-Triaged-Timestamp"
# Senders whose own signing scheme has no timestamp unless the user configures one.
_UNTIMED_BY_DEFAULT = frozenset({"grafana"})


def authorized(
    source: str,
    settings: SourceSettings,
    headers: Mapping[str, str],
    body: bytes,
    remote: str | None,
    now: float | None = None,
) -> bool:
    """True when the request passes every check ``settings`` configures (none: always)."""
    ok = True
    if settings.allow_ips:
        ok &= address_allowed(remote, tuple(settings.allow_ips))
    if settings.token is not None:
        ok &= bearer_ok(headers.get("Authorization", ""), settings.token.get_secret_value())
    if settings.basic_username is not None and settings.basic_password is not None:
        ok &= basic_ok(
            headers.get("Authorization", ""),
            settings.basic_username,
            settings.basic_password.get_secret_value(),
        )
    if settings.hmac_secret is not None:
        sig_header = settings.hmac_header or (GRAFANA_SIGNATURE if source == "grafana" else SIGNATURE)
        ts_header = settings.hmac_timestamp_header
        if ts_header is None and source not in _UNTIMED_BY_DEFAULT:
            ts_header = TIMESTAMP
        ok &= signature_ok(
            settings.hmac_secret.get_secret_value().encode(),
            body,
            headers.get(sig_header, ""),
            headers.get(ts_header, "") if ts_header else None,
            settings.hmac_tolerance,
            time.time() if now is None else now,
        )
    return ok


def needs_body(settings: SourceSettings) -> bool:
    """A signature covers the body, so the body must be read before authentication."""
    return settings.hmac_secret is not None


def bearer_ok(header: str, expected: str) -> bool:
    """``Authorization: Bearer <token>``; scheme and token compared in constant time."""
    scheme, _, given = header.partition(" ")
    ok_scheme = hmac.compare_digest(_raw(scheme.lower()), b"bearer")
    ok_token = hmac.compare_digest(_raw(given.strip()), expected.encode())
    return ok_scheme and ok_token


def basic_ok(header: str, username: str, password: str) -> bool:
    """``Authorization: Basic base64(user:password)``; both halves compared in constant time."""
    scheme, _, encoded = header.partition(" ")
    try:
        decoded = base64.b64decode(_raw(encoded.strip()), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    user, _, given = decoded.partition(b":")
    ok_scheme = hmac.compare_digest(_raw(scheme.lower()), b"basic")
    ok_user = hmac.compare_digest(user, username.encode())
    ok_password = hmac.compare_digest(given, password.encode())
    return ok_scheme and ok_user and ok_password


def sign(secret: bytes, body: bytes, timestamp: str | None = None) -> str:
    """Hex HMAC-SHA256 of ``timestamp:body`` (or of the body alone): Grafana's scheme, and ours."""
    message = body if timestamp is None else _raw(timestamp) + b":" + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signature_ok(
    secret: bytes,
    body: bytes,
    given: str,
    timestamp: str | None,
    tolerance: float,
    now: float,
) -> bool:
    """The signature matches and, when a timestamp is part of the scheme, it is recent.

    The timestamp is signed, so a captured request replays only within ``tolerance``;
    a timestamp in the future by more than that is refused too (a skewed or forged clock).
    """
    fresh = True
    if timestamp is not None:
        try:
            sent = float(timestamp) if timestamp.isascii() and len(timestamp) < 20 else float("nan")
        except ValueError:
            sent = float("nan")
        fresh = abs(now - sent) <= tolerance  # NaN compares False: refused
    given = given.strip().removeprefix("sha256=").lower()
    expected = sign(secret, body, timestamp)
    ok_sig = hmac.compare_digest(_raw(given), expected.encode())
    return fresh and ok_sig


def _raw(value: str) -> bytes:
    """Header text as bytes that never fail to encode (the HTTP parser surrogate-escapes non-UTF-8)."""
    return value.encode("utf-8", "surrogatepass")


def address_allowed(remote: str | None, cidrs: tuple[str, ...]) -> bool:
    """The peer address is inside one of the allowed networks (the proxy's, behind one)."""
    if remote is None:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(cidrs))


@lru_cache(maxsize=64)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
