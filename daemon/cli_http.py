"""The small HTTP client the operator commands (``incidents``, ``silences``) share.

Synchronous urllib on purpose: one request per command, no event loop to manage.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from daemon.settings import Settings

TOKEN_ENV = "TRIAGED_API_TOKEN"


class CommandFailed(Exception):
    """An error to print as one line (HTTP status and the API's message, or why no answer)."""


def http_url(text: str) -> str:
    """``--url`` of every command that talks to a daemon: an http(s) URL with a host, or a
    usage error (urllib would raise ValueError at the request, as a traceback)."""
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018  (raises ValueError for a port out of range or not a number)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL ({err})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected http://HOST:PORT or https://HOST:PORT, got {text!r}")
    return text


def seconds(text: str) -> float:
    """A positive, finite number of seconds (``--timeout``), or a usage error."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def base_url(url: str | None, settings: Settings) -> str:
    """``--url``, or the daemon's own listen address (https when it serves TLS).

    A self-signed certificate is trusted through ``SSL_CERT_FILE``, as for any Python client.
    """
    scheme = "https" if settings.tls.cert_file is not None else "http"
    host, _, port = settings.listen.rpartition(":")
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"  # the daemon listens everywhere; talk to it locally
    return (url or f"{scheme}://{host}:{port}").rstrip("/")


def call(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    """One JSON request; the parsed answer, or ``CommandFailed``.

    The API token, when the daemon requires one, comes from ``$TRIAGED_API_TOKEN`` (never
    from the command line, where other users could read it in the process list).
    """
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    token = os.environ.get(TOKEN_ENV)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        try:
            detail = json.loads(err.read()).get("error", err.reason)
        except ValueError:
            detail = err.reason
        raise CommandFailed(f"{err.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise CommandFailed(f"cannot reach {url}: {reason}") from None
