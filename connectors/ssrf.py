"""The SSRF guard: trackers and webhooks cannot be pointed at cloud metadata or triaged's own API.

Refused unless allowed (``outbound.allow_private_targets`` or an ``allowed_targets``
entry): link-local addresses (169.254.0.0/16 and fe80::/10, which hold the AWS, GCP,
Azure and OpenStack metadata services), AWS's IPv6 metadata address fd00:ec2::254,
the metadata host names, and the daemon's own listener (any loopback or unspecified
address on its port, and its listen address). Other loopback and private addresses
stay allowed: self-hosted trackers live there, and so do the tests' fake trackers.

Checked in three places: at config load (``check_url`` on each connector URL: literal
addresses and names), before each request (``send`` in ``connectors/http.py`` checks
the URL's host), and at connect time for host names (``GuardedResolver`` checks every
address DNS returns, so a name re-pointed at 169.254.169.254 after the load check is
still refused).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl as ssl_module
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from connectors.errors import ConnectorRejected

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)
METADATA_NETWORKS: tuple[IpNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)


class TargetRefused(ConnectorRejected):
    """An outgoing URL points where the SSRF guard does not send (permanent: never retried)."""


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """What may be called: the daemon's own listener is refused, as are metadata addresses."""

    allow_private: bool = False
    # Hosts (lower case), host:port pairs and networks allowed whatever the rules say.
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IpNetwork, ...] = ()
    # The daemon's listener: (host, port); its port on any loopback address is refused too.
    own_listen: tuple[str, int] | None = None

    @classmethod
    def build(
        cls, allow_private: bool, allowed_targets: list[str], own_listen: tuple[str, int] | None
    ) -> TargetPolicy:
        """From config: ``allowed_targets`` entries are CIDRs, hosts or host:port pairs."""
        hosts, networks = set(), []
        for text in allowed_targets:
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                hosts.add(text.lower())
        return cls(allow_private, frozenset(hosts), tuple(networks), own_listen)

    def refusal(self, host: str, port: int) -> str | None:
        """Why ``host:port`` is refused (names the host, never a URL), or None when allowed."""
        host = host.strip("[]").rstrip(".").lower()
        if self.allow_private or host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts:
            return None
        if host in METADATA_HOSTS:
            return f"{host} is a cloud metadata service"
        try:
            address = _unmapped(ipaddress.ip_address(host.partition("%")[0]))
        except ValueError:
            if _legacy_ipv4(host):
                return f"{host} is a non-canonical IPv4 address (write it as a.b.c.d)"
            if host == "localhost" and self._own_port(port):
                return f"{host}:{port} is triaged's own API"
            return None  # a name: its addresses are checked when it is resolved
        if any(address in net for net in self.allowed_networks):
            return None
        if any(address in net for net in METADATA_NETWORKS):
            return f"{address} is link-local (cloud metadata)"
        if self._own_port(port) and (
            address.is_loopback or address.is_unspecified or self._own_host(address)
        ):
            return f"{host}:{port} is triaged's own API"
        return None

    def _own_port(self, port: int) -> bool:
        return self.own_listen is not None and self.own_listen[1] == port

    def _own_host(self, address: IpAddress) -> bool:
        assert self.own_listen is not None
        try:
            listen = _unmapped(ipaddress.ip_address(self.own_listen[0]))
        except ValueError:
            return False
        return address == listen or listen.is_unspecified


DEFAULT_POLICY = TargetPolicy()


def _legacy_ipv4(host: str) -> bool:
    """``2130706433``, ``127.1``, ``0x7f.0.0.1``: forms C resolvers map onto addresses, hiding them."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _unmapped(address: IpAddress) -> IpAddress:
    """``::ffff:169.254.169.254`` is 169.254.169.254."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def url_refusal(url: str, policy: TargetPolicy) -> str | None:
    """Why the URL's host is refused, or None; a URL that does not parse is refused too."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    except ValueError:
        return "the URL has an invalid port"
    if not parts.hostname:
        return "the URL has no host"
    return policy.refusal(parts.hostname, port)


def check_url(url: str, policy: TargetPolicy, what: str) -> None:
    """Raise ``TargetRefused`` (naming ``what`` and the reason, not the URL) when refused."""
    reason = url_refusal(url, policy)
    if reason is not None:
        raise TargetRefused(f"{what}: target refused by the SSRF guard: {reason}")


def policy_of(session: aiohttp.ClientSession) -> TargetPolicy:
    """The policy of a session built by ``guarded_connector``; the default one otherwise."""
    connector = session.connector
    return connector.policy if isinstance(connector, GuardedConnector) else DEFAULT_POLICY


class GuardedResolver(AbstractResolver):
    """Resolves with aiohttp's default resolver, then refuses when any address is forbidden."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of ``host``; all of them must pass, so no retry lands on a bad one."""
        results = await self._inner.resolve(host, port, family)
        if host.lower() in self.policy.allowed_hosts:
            return results
        for result in results:
            reason = self.policy.refusal(result["host"], port)
            if reason is not None:
                raise TargetRefused(f"{host} resolves to a refused address: {reason}")
        return results

    async def close(self) -> None:
        """Close the inner resolver."""
        await self._inner.close()


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector whose name resolution goes through ``GuardedResolver`` and knows its policy."""

    def __init__(self, policy: TargetPolicy, ssl: ssl_module.SSLContext | bool = True) -> None:
        super().__init__(resolver=GuardedResolver(policy), ssl=ssl)
        self.policy = policy


def guarded_connector(policy: TargetPolicy) -> GuardedConnector:
    """The connector for the daemon's outgoing session (``aiohttp.ClientSession(connector=...)``)."""
    return GuardedConnector(policy)
