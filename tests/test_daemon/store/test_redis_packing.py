"""hiredis packs the store's commands into exactly the bytes redis-py's own packer writes."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from daemon.store import redis_packing
from daemon.store.redis_packing import PackedConnection

KEYS = [f"triaged:alert:{i:016x}" for i in range(1500)]
DOC = b'{"fingerprint":"00ff","labels":{"alertname":"\\u00e9t\\u00e9"}}' * 10
COMMANDS: list[tuple[object, ...]] = [
    ("WATCH", *KEYS),
    ("MGET", *KEYS),
    ("MSET", *[x for k in KEYS for x in (k, DOC)]),
    ("SET", "triaged:pipeline-turn", "replica-1:7", "NX", "PX", 5000),
    ("ZADD", "triaged:incidents", 1_800_000_000.123456, "inc_01", 0.1, "inc_02"),
    ("XADD", "triaged:intake", "*", "n", 50, "b", DOC),
    ("HSET", "triaged:members:inc_01", "f\u00e9", b"\x00\xff"),
    ("CONFIG GET", "maxmemory-policy"),
    ("EVALSHA", "abc", 1, "k", -3, 2**62),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: str(c[0]))
def test_hiredis_packs_the_same_bytes(command: tuple[object, ...]) -> None:
    python, hiredis = Connection(), PackedConnection()
    assert b"".join(hiredis.pack_command(*command)) == b"".join(python.pack_command(*command))
    assert b"".join(hiredis.pack_commands([command, command])) == b"".join(
        python.pack_commands([command, command])
    )


def test_what_redis_py_refuses_is_refused_alike() -> None:
    for connection in (Connection(), PackedConnection()):
        with pytest.raises(DataError):
            connection.pack_command("SET", "k", True)


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://127.0.0.1:6380/0", "unix:///run/r.sock"]
)
def test_every_kind_of_pool_gets_the_packed_connection(url: str) -> None:
    client = aioredis.from_url(url)
    plain = client.connection_pool.connection_class
    assert redis_packing.pack_with_hiredis(client.connection_pool)
    packed = client.connection_pool.connection_class
    assert packed is not plain
    assert issubclass(packed, plain)
