"""The upkeep's search for deferred work, on SQLite: the deferral index (``Store.deferred``)
against the scan it replaced (every open and acknowledged incident read and decoded, at
most the 5,000 newest of each, as ``upkeep.run`` did every minute until session 11).

    .venv/bin/python benchmarks/upkeep_scan.py [--incidents 20000] [--deferred 0.05]

``--deferred`` of the open incidents wait for a step (half a delayed resolution, half an
escalation), the oldest ones among them: the case the scan's window missed. The figure
is scan / index, and whether each found every deferral.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from daemon.models import Incident, IncidentStatus  # noqa: E402
from daemon.store.sqlite import SqliteStore  # noqa: E402
from daemon.workset import WorkSet  # noqa: E402

SCAN_LIMIT = 5000  # what upkeep.run read per status


async def fill(store: SqliteStore, incidents: int, share: float) -> set[tuple[str, str]]:
    """Open incidents, oldest first; the oldest ``share`` of them deferred. Returns the deferrals."""
    expected: set[tuple[str, str]] = set()
    chunk = 500
    for start in range(0, incidents, chunk):

        def write(ws: WorkSet, start: int = start) -> None:
            for n in range(start, min(start + chunk, incidents)):
                incident = Incident(
                    f"inc_{n:08d}", f"g{n}", "t", IncidentStatus.OPEN, "P2", [], 1000.0 + n, 1000.0 + n, 1, 1
                )
                incident.lifecycle["route"] = {"team": "ops", "connectors": ["jira"]}  # a realistic doc
                if n < incidents * share:
                    if n % 2:
                        incident.correlation["resolve_after"] = 5000.0 + n
                        expected.add(("resolve", incident.id))
                    else:
                        incident.lifecycle["escalate_at"] = 5000.0 + n
                        expected.add(("escalate", incident.id))
                ws.touch_incident(incident)

        await store.update_incident(f"inc_{start:08d}", write)
    return expected


async def scan(store: SqliteStore) -> set[tuple[str, str]]:
    """What upkeep.run found before the index."""
    found = set()
    for status in (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED):
        for incident in await store.list_incidents(status, SCAN_LIMIT):
            found.update((kind, incident.id) for kind, _ in incident.deferrals())
    return found


async def index(store: SqliteStore) -> set[tuple[str, str]]:
    return {(kind, i) for kind, i, _ in await store.deferred(math.inf, 10_000)}


async def timed(fn: object, store: SqliteStore, repeat: int) -> tuple[float, set[tuple[str, str]]]:
    times, found = [], set()
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = await fn(store)  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), found


async def run(incidents: int, share: float, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "upkeep.db", synchronous="normal")
        await store.open()
        try:
            t0 = time.perf_counter()
            expected = await fill(store, incidents, share)
            print(
                f"{incidents:,} open incidents, {len(expected):,} deferred (the oldest); "
                f"filled in {time.perf_counter() - t0:.1f} s; median of {repeat} reads"
            )
            fast, a = await timed(index, store, repeat)
            slow, b = await timed(scan, store, max(3, repeat // 10))
            print(f"{'read':6} {'ms':>9} {'found':>7} {'missed':>7}")
            print(f"{'index':6} {fast:9.3f} {len(a & expected):7,} {len(expected - a):7,}")
            print(f"{'scan':6} {slow:9.1f} {len(b & expected):7,} {len(expected - b):7,}")
            print(f"scan / index: {slow / fast:,.0f}")
        finally:
            await store.close()


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--deferred", type=float, default=0.05, help="share of incidents deferred")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.incidents, args.deferred, args.repeat))


if __name__ == "__main__":
    main()
