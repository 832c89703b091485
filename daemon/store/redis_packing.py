"""Redis commands packed by hiredis, in C, on redis-py's asyncio connections.

Why: redis-py packs every command of its asyncio connections in Python (its synchronous
ones use hiredis when it is installed), joining the growing buffer again for each
argument. A pipeline batch sends commands of a thousand keys or documents (WATCH, MGET,
MSET, HMGET); packing them was 6% of a replica's CPU in the ingest benchmark (py-spy:
``pack_command`` and ``Encoder.encode``). hiredis's packer writes the same bytes; a test
compares the two on the commands the store sends.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.connection import HiredisRespSerializer
from redis.utils import HIREDIS_AVAILABLE

_SERIALIZER = HiredisRespSerializer()


class _HiredisPacking(AbstractConnection):
    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = _SERIALIZER.pack(*args)
        return packed


class PackedConnection(_HiredisPacking, Connection):
    """TCP."""


class PackedSSLConnection(_HiredisPacking, SSLConnection):
    """TLS (``rediss://``)."""


class PackedUnixConnection(_HiredisPacking, UnixDomainSocketConnection):
    """A Unix socket (``unix://``)."""


_PACKED: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: PackedConnection,
    SSLConnection: PackedSSLConnection,
    UnixDomainSocketConnection: PackedUnixConnection,
}


def pack_with_hiredis(pool: ConnectionPool) -> bool:
    """Make the pool's new connections pack with hiredis; False (unchanged) without hiredis
    or for a connection class of redis-py's this does not know."""
    packed = _PACKED.get(pool.connection_class)
    if not HIREDIS_AVAILABLE or packed is None:
        return False
    pool.connection_class = packed
    return True
