"""What a connector raises; the delivery worker decides retries from the type alone.

::

    ConnectorError
    ├── ConnectorUnavailable   transient: timeout, connection refused, 5xx, 429, rate limit
    │                          (``retry_after`` seconds when the tracker said so)
    ├── ConnectorRejected      permanent: the tracker refused this request (4xx); retrying
    │                          the same request cannot succeed, so it is dead-lettered
    └── ConnectorAuthError     credentials or permissions are wrong (401/403): permanent
                               until a person fixes the config; also dead-lettered
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every connector error; messages never contain secrets."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectorUnavailable(ConnectorError):
    """Try again later (after ``retry_after`` seconds when known)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ConnectorRejected(ConnectorError):
    """The tracker will not accept this request as it is."""


class ConnectorAuthError(ConnectorRejected):
    """Wrong or insufficient credentials."""
