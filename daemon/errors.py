"""The daemon's exceptions, mapped to HTTP statuses or CLI messages at the boundary.

::

    DaemonError
    ├── ConfigError          a config file or environment override is invalid (all problems at once)
    ├── PayloadError         a webhook body is malformed: 400
    │   └── PayloadTooLarge  a body over the configured limit: 413
    ├── AuthError            missing or wrong credentials: 401
    ├── NotFound             no such incident: 404
    ├── Conflict             the change does not apply to the incident's state: 409
    └── StoreUnavailable     the store cannot durably accept writes now: 503
"""

from __future__ import annotations

from collections.abc import Sequence


class DaemonError(Exception):
    """Base of every error the daemon raises on purpose."""


class ConfigError(DaemonError):
    """Invalid configuration; ``problems`` lists every one, each naming file, key and expectation."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class PayloadError(DaemonError):
    """A webhook body that cannot be accepted; the message names the problem for the sender."""


class PayloadTooLarge(PayloadError):
    """A body larger than ``intake.max_body_bytes``."""


class AuthError(DaemonError):
    """Missing or wrong credentials; the message never says which part was wrong."""


class NotFound(DaemonError):
    """The requested object does not exist."""


class Conflict(DaemonError):
    """The requested change does not apply in the object's current state."""


class StoreUnavailable(DaemonError):
    """The store cannot durably accept the write now; senders should retry."""
