"""The one place where HTTP outcomes become connector errors (conventions: translate once).

Every connector sends its requests through ``send``: it sets the timeout, reads the
answer, and maps timeouts, connection errors, 429/5xx, rate-limit headers, 401/403
and other 4xx onto ``ConnectorUnavailable`` / ``ConnectorAuthError`` /
``ConnectorRejected``. Messages name the action and the status, never the URL
(Slack and Teams carry secrets in theirs) nor any header.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from connectors.errors import ConnectorAuthError, ConnectorRejected, ConnectorUnavailable
from connectors.ssrf import check_url, policy_of

_ERROR_TEXT_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful (2xx) answer: status, parsed JSON body (or None) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Api:
    """One tracker's base URL, headers and timeout, bound once so calls name only what differs."""

    session: aiohttp.ClientSession
    base: str
    headers: Mapping[str, str]
    timeout: float

    async def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Answer:
        """``send`` to ``base + path``."""
        return await send(
            self.session,
            method,
            self.base + path,
            what=what,
            timeout=self.timeout,
            json=json,
            params=params,
            headers=self.headers,
        )


class MaybeCommitted(ConnectorUnavailable):
    """The request was sent and no answer came back: the tracker may have applied it."""


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    timeout: float,
    json: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> Answer:
    """Send one request; return the 2xx answer or raise the translated error."""
    # SSRF guard: the URL's host here, every address a name resolves to in the session's resolver.
    check_url(url, policy_of(session), what)
    body = orjson.dumps(json) if json is not None else data
    hdrs = dict(headers or {})
    if json is not None:
        hdrs.setdefault("Content-Type", "application/json")
    try:
        async with session.request(
            method,
            url,
            data=body,
            headers=hdrs,
            params=params,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            raw = await resp.read()
            status, resp_headers = resp.status, resp.headers
    except aiohttp.ClientConnectorCertificateError as err:
        why = getattr(err.certificate_error, "verify_message", "") or type(err.certificate_error).__name__
        raise ConnectorUnavailable(
            f"{what}: TLS certificate not trusted ({why}); a tracker behind a private CA needs ca_file"
        ) from None
    except aiohttp.ClientConnectorError as err:
        raise ConnectorUnavailable(f"{what}: cannot connect ({err.os_error.strerror})") from None
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise MaybeCommitted(f"{what}: no answer within {timeout:g}s") from None
    except aiohttp.ClientError as err:
        raise MaybeCommitted(f"{what}: connection lost ({type(err).__name__})") from None
    if 200 <= status < 300:
        return Answer(status, _parse(raw), resp_headers)
    raise _translate(what, status, resp_headers, raw)


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode(errors="replace")


def _translate(what: str, status: int, headers: Mapping[str, str], raw: bytes) -> Exception:
    text = raw.decode(errors="replace").strip().replace("\n", " ")[:_ERROR_TEXT_LIMIT]
    message = f"{what}: HTTP {status}" + (f": {text}" if text else "")
    retry_after = retry_after_seconds(headers)
    if status == 429 or status >= 500 or status == 408:
        return ConnectorUnavailable(message, status=status, retry_after=retry_after)
    if status == 403 and _rate_limited(headers, text):
        # GitHub answers 403 (not 429) for its primary and secondary rate limits.
        return ConnectorUnavailable(message, status=status, retry_after=retry_after or 60.0)
    if status in (401, 403):
        return ConnectorAuthError(message, status=status)
    return ConnectorRejected(message, status=status)


def _rate_limited(headers: Mapping[str, str], text: str) -> bool:
    return headers.get("X-RateLimit-Remaining") == "0" or "rate limit" in text.lower()


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset``."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.replace(".", "", 1).isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            pass
    # A reset time only matters when the quota is used up: GitHub sends x-ratelimit-reset
    # (up to an hour away) on every answer, and a plain 502 must not wait for it.
    remaining = headers.get("X-RateLimit-Remaining") or headers.get("RateLimit-Remaining")
    reset = headers.get("X-RateLimit-Reset") or headers.get("RateLimit-Reset")
    if remaining == "0" and reset and reset.replace(".", "", 1).isdigit():
        seconds = float(reset)
        # Epoch seconds (GitHub, GitLab) or a delta (the IETF draft's RateLimit-Reset).
        return max(0.0, seconds - now) if seconds > 1_000_000_000 else seconds
    return None
