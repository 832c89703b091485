"""The HTTP sessions trackers are called through: one shared, plus one per private CA.

Every session resolves names through the SSRF guard (``connectors/ssrf.py``). A tracker
with ``ca_file`` gets a session whose TLS trusts that PEM file instead of the system's
roots, as Prometheus' ``ca_file`` does; trackers naming the same file share it.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from connectors.ssrf import GuardedConnector, TargetPolicy

if TYPE_CHECKING:
    from daemon.settings import ConnectorSettings

HEADERS = {"User-Agent": "triaged"}


def ca_context(path: Path) -> ssl.SSLContext:
    """A verifying client context that trusts the certificates in ``path``; ``ValueError``
    (a config error naming the file) when it cannot be read or holds no certificate."""
    try:
        return ssl.create_default_context(cafile=str(path))
    except FileNotFoundError:
        raise ValueError(f"no such file: {path}") from None
    except PermissionError:
        raise ValueError(f"cannot read {path} (permission denied)") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, expected a PEM file of CA certificates") from None
    except ssl.SSLError as err:
        raise ValueError(f"{path} holds no PEM CA certificate ({err.reason or err})") from None


class OutboundSessions:
    """Sessions made on first use and closed together."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self._by_ca: dict[Path | None, aiohttp.ClientSession] = {}

    def for_connector(self, entry: ConnectorSettings) -> aiohttp.ClientSession:
        """The session for this tracker (must be called on the running event loop)."""
        session = self._by_ca.get(entry.ca_file)
        if session is None:
            ssl_context: ssl.SSLContext | bool = True if entry.ca_file is None else ca_context(entry.ca_file)
            connector = GuardedConnector(self.policy, ssl=ssl_context)
            session = self._by_ca[entry.ca_file] = aiohttp.ClientSession(connector=connector, headers=HEADERS)
        return session

    async def close(self) -> None:
        """Close every session."""
        for session in self._by_ca.values():
            await session.close()
        self._by_ca.clear()
