"""The small HTTP client the operator commands (``incidents``, ``silences``) share.

Synchronous urllib on purpose: one request per command, no event loop to manage.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class CommandFailed(Exception):
    """An error to print as one line (HTTP status and the API's message, or why no answer)."""


def base_url(url: str | None, listen: str) -> str:
    """``--url``, or the daemon's own listen address."""
    return (url or f"http://{listen}").rstrip("/")


def call(method: str, url: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    """One JSON request; the parsed answer, or ``CommandFailed``."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
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
