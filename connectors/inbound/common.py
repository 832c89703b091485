"""Shared by every tracker's inbound parser: headers, secrets, untrusted JSON, timestamps.

Authentication always happens before the body is parsed, so an unauthenticated caller
learns nothing about what the parser accepts (401, never 400), and every comparison of a
secret or signature is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.base import PRIORITIES
from connectors.inbound.base import InboundAuthError, InboundError

# Anything bigger is not a tracker webhook (PagerDuty caps at 256 KB, GitHub at 25 MB but
# issue events are small); refusing early bounds the JSON parser's work.
MAX_BODY = 5 * 1024 * 1024
# A priority label or name ending in P1..P5 ("priority/P2", "priority::P2", "P2").
_PRIORITY_SUFFIX = re.compile(r"(?:^|[^A-Za-z0-9])(P[1-5])$", re.IGNORECASE)


def header(headers: Mapping[str, str], name: str) -> str:
    """A header by case-insensitive name ("" when absent): callers may pass a plain dict."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def require_secret(secret: str | None, kind: str) -> str:
    """The configured secret; without one every request is refused (fail closed)."""
    if not secret:
        raise InboundAuthError(f"{kind}: no inbound_secret is configured for this connector")
    return secret


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body, as GitHub, Jira and PagerDuty sign."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(given: Sequence[str], expected: str, kind: str) -> None:
    """Accept if any given signature equals the expected one (constant-time each).

    Several are allowed because PagerDuty sends one per active secret during rotation.
    """
    ok = False
    for candidate in given:
        # compare_digest on bytes: a non-ASCII header must not raise TypeError.
        ok |= hmac.compare_digest(candidate.strip().lower().encode(), expected.encode())
    if not ok:
        raise InboundAuthError(f"{kind}: signature missing or wrong")


def check_token(given: str, secret: str, kind: str) -> None:
    """A shared token sent as is (GitLab) or as ``Bearer <token>``; constant-time."""
    if not given or not hmac.compare_digest(given.encode(), secret.encode()):
        raise InboundAuthError(f"{kind}: token missing or wrong")


def bearer(headers: Mapping[str, str]) -> str:
    """The token of ``Authorization: Bearer <token>``, or ""."""
    scheme, _, token = header(headers, "Authorization").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def load_object(body: bytes, kind: str) -> Mapping[str, Any]:
    """The body as a JSON object, or ``InboundError`` saying why not."""
    if len(body) > MAX_BODY:
        raise InboundError(f"{kind}: body larger than {MAX_BODY} bytes")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise InboundError(f"{kind}: body is not JSON ({type(err).__name__})") from None
    if not isinstance(payload, dict):
        raise InboundError(f"{kind}: body is not a JSON object")
    return payload


def obj(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested object, or {} when absent or null; another type is a malformed body."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InboundError(f"{key}: expected an object")
    return value


def items(parent: Mapping[str, Any], key: str) -> list[Any]:
    """A nested list, or [] when absent or null."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InboundError(f"{key}: expected a list")
    return value


def text(parent: Mapping[str, Any], key: str) -> str:
    """A scalar field as a string ("" when absent or null): ids arrive as numbers or strings."""
    value = parent.get(key)
    if value is None:
        return ""
    if isinstance(value, bool):
        raise InboundError(f"{key}: expected a string or number")
    if isinstance(value, str | int | float):
        return str(value)
    raise InboundError(f"{key}: expected a string or number")


def required(parent: Mapping[str, Any], key: str, where: str) -> str:
    """A scalar field that must be present: without it the event cannot be matched."""
    value = text(parent, key).strip()
    if not value:
        raise InboundError(f"{where}.{key}: missing")
    return value


def iso_time(value: str, where: str) -> float:
    """Unix seconds from ISO 8601 (``Z`` or offset) or GitLab's ``2015-05-17 18:08:09 UTC``."""
    raw = value.strip()
    if raw.endswith(" UTC"):
        raw = raw[:-4] + "+00:00"
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InboundError(f"{where}: not a timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        # Trackers send UTC when they omit the offset (ServiceNow's internal format).
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def epoch(value: Any, where: str) -> float:
    """Unix seconds from an epoch number in s, ms, us or ns (told apart by magnitude)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InboundError(f"{where}: expected an epoch number")
    try:
        number = float(value)
    except ValueError:
        raise InboundError(f"{where}: expected an epoch number") from None
    if not 0 <= number < 1e20:
        raise InboundError(f"{where}: epoch out of range")
    for scale in (1e18, 1e15, 1e12):  # ns, us, ms: any date after 2001 in that unit
        if number >= scale:
            return number / (scale / 1e9)
    return number


def priority_from_label(name: str) -> str | None:
    """P1..P5 from a label such as ``priority/P2`` or ``priority::P2`` (any prefix)."""
    match = _PRIORITY_SUFFIX.search(name.strip())
    level = match.group(1).upper() if match else None
    return level if level in PRIORITIES else None


def body_digest(body: bytes) -> str:
    """A short stable id for trackers that send no delivery id: a redelivery is the same bytes."""
    return hashlib.sha256(body).hexdigest()[:24]


# The status line the outbound connectors append to the comments they write
# ("_triaged: priority P2, open_" on GitHub/GitLab, "triaged: priority P2, ..." on Jira)
# and Jira's resolve comment: a webhook about triaged's own comment is an echo, not news.
_ECHO = re.compile(r"(?:^|\n)_?triaged: priority P[1-5]\b|^Resolved by triaged:")


def is_echo(comment: str) -> bool:
    """Whether a comment was written by triaged itself (so it is not fed back as a note)."""
    return bool(_ECHO.search(comment))
