"""Incident view cost against the incident's size: ``get_incident(limit=100)`` of an
incident with 100 alerts (the baseline) and with ``--members`` alerts, on both stores.

    .venv/bin/python benchmarks/incident_view.py [--members 100000] [--repeat 30]

Both views return 100 alerts. The ratio big / small is the figure: about 1 when a view
reads ``limit`` alerts, and grows with members when it reads them all (as before schema
3). The Redis store runs on a redis-server of its own (no persistence). Memberships are
written through the store's own commit (``update_incident``), in batches of 5,000, as a
storm's would be.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.ingest import HOST, free_port  # noqa: E402
from daemon.models import AlertStatus, Incident, IncidentAlert, IncidentStatus  # noqa: E402
from daemon.settings import RedisStoreSettings  # noqa: E402
from daemon.store import Store  # noqa: E402
from daemon.store.redis_store import RedisStore  # noqa: E402
from daemon.store.sqlite import SqliteStore  # noqa: E402
from daemon.workset import WorkSet  # noqa: E402

LIMIT = 100
BATCH = 5000


async def fill(store: Store, incident_id: str, n: int) -> None:
    """An incident whose ``n`` alerts joined over a minute."""
    rng = random.Random(incident_id)
    for start in range(0, n, BATCH):

        def add(ws: WorkSet, start: int = start) -> None:
            ws.touch_incident(Incident(incident_id, "g", "t", IncidentStatus.OPEN, "P2", [], 1.0, 1.0, n, n))
            if start == 0:
                ws.new_incidents.add(incident_id)
            for _ in range(min(BATCH, n - start)):
                fp = f"{rng.getrandbits(64):016x}"
                seen = 1000.0 + rng.random() * 60
                member = IncidentAlert(fp, AlertStatus.FIRING, 1, seen, seen, "HighLatency")
                ws.put_member(incident_id, member)

        await store.update_incident(incident_id, add)


async def view_ms(store: Store, incident_id: str, repeat: int) -> float:
    """Median milliseconds of one view."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        detail = await store.get_incident(incident_id, limit=LIMIT)
        times.append((time.perf_counter() - t0) * 1000)
        assert detail is not None
    return statistics.median(times)


async def measure(store: Store, members: int, repeat: int) -> tuple[float, float, float]:
    await store.open()
    try:
        t0 = time.perf_counter()
        await fill(store, "small", LIMIT)
        await fill(store, "big", members)
        filled = time.perf_counter() - t0
        small = await view_ms(store, "small", repeat)
        big = await view_ms(store, "big", repeat)
    finally:
        await store.close()
    return small, big, filled


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteStore(Path(tmp) / "view.db", synchronous="normal")
        rows.append(("sqlite", *asyncio.run(measure(sqlite, args.members, args.repeat))))
        port = free_port()
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(host=HOST, port=port)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            url = SecretStr(f"redis://{HOST}:{port}/0")
            store = RedisStore(RedisStoreSettings(kind="redis", url=url, prefix="bench"))
            rows.append(("redis", *asyncio.run(measure(store, args.members, args.repeat))))
        finally:
            proc.terminate()
            proc.wait()
    print(f"get_incident(limit={LIMIT}), median of {args.repeat}; {args.members:,} members against {LIMIT}")
    big_head = f"{args.members:,} members ms"
    print(f"{'store':8} {f'{LIMIT} members ms':>14} {big_head:>20} {'ratio':>7} {'fill s':>7}")
    for name, small, big, filled in rows:
        print(f"{name:8} {small:14.2f} {big:20.2f} {big / small:7.1f} {filled:7.1f}")


if __name__ == "__main__":
    main()
