"""Finding the incident a tracker's inbound webhook is about, on SQLite: the ticket index
(``Store.incident_of_ticket``) against the scan it replaced (the 5,000 newest incidents,
each one's detail read, as ``api_actions._find`` did before session 10).

    .venv/bin/python benchmarks/inbound_lookup.py [--incidents 5000] [--members 20]

Every incident is routed to the tracker and has a ticket. Three lookups are timed: the
newest ticket, the oldest, and a ticket that is not ours (trackers send webhooks for
every ticket of a project). The figure is scan / index per case.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from connectors.base import IncidentRef, IncidentRequest  # noqa: E402
from daemon.models import AlertStatus, Incident, IncidentAlert, IncidentStatus, OutboxJob  # noqa: E402
from daemon.store.codec import request_to_json  # noqa: E402
from daemon.store.sqlite import SqliteStore  # noqa: E402
from daemon.workset import WorkSet  # noqa: E402

CONNECTOR = "jira"
SCAN = 5000


async def fill(store: SqliteStore, incidents: int, members: int) -> None:
    for n in range(incidents):
        incident_id = f"inc_{n:08d}"
        req = IncidentRequest(incident_id=incident_id, title="t", priority="P2", status="open")
        job = OutboxJob(
            f"{incident_id}:{CONNECTOR}:open:1", incident_id, CONNECTOR, "open", 1.0, request_to_json(req)
        )

        def create(ws: WorkSet, incident_id: str = incident_id, n: int = n, job: OutboxJob = job) -> None:
            incident = Incident(
                incident_id, "g", "t", IncidentStatus.OPEN, "P2", [], 1000.0 + n, 1000.0 + n, 1, 1
            )
            incident.external[CONNECTOR] = {"state": "routed"}
            ws.touch_incident(incident)
            ws.new_incidents.add(incident_id)
            for m in range(members):
                fp = f"{n:08x}{m:08x}"
                ws.put_member(
                    incident_id, IncidentAlert(fp, AlertStatus.FIRING, 1, 1000.0 + n, 1000.0 + n, "A")
                )
            ws.enqueue(job)

        await store.update_incident(incident_id, create)
    while jobs := await store.claim_deliveries(500, lease=60):
        for job in jobs:
            await store.finish_delivery(job, IncidentRef(f"OPS-{job.incident_id[4:]}"))


async def scan(store: SqliteStore, ref: str) -> str | None:
    """The lookup before the index (api_actions._find up to session 9)."""
    for incident in await store.list_incidents(None, SCAN):
        if CONNECTOR not in incident.external:
            continue
        detail = await store.get_incident(incident.id)
        ticket = detail.incident.external.get(CONNECTOR) if detail else None
        if isinstance(ticket, dict) and ref in {str(v) for v in ticket.values() if isinstance(v, str | int)}:
            return incident.id
    return None


async def timed(fn: object, ref: str, repeat: int) -> tuple[float, str | None]:
    times, found = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = await fn(ref)  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), found


async def run(incidents: int, members: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "inbound.db", synchronous="normal")
        await store.open()
        try:
            t0 = time.perf_counter()
            await fill(store, incidents, members)
            print(
                f"{incidents:,} incidents x {members} alerts, each with a {CONNECTOR} ticket "
                f"(filled in {time.perf_counter() - t0:.1f} s); median of {repeat} lookups"
            )
            print(f"{'ticket':10} {'index ms':>9} {'scan ms':>9} {'ratio':>8}")
            cases = {"newest": f"OPS-{incidents - 1:08d}", "oldest": "OPS-00000000", "not ours": "OPS-X"}
            for name, ref in cases.items():
                fast, a = await timed(lambda r: store.incident_of_ticket(CONNECTOR, r), ref, repeat)
                slow, b = await timed(lambda r: scan(store, r), ref, max(1, repeat // 10))
                in_window = incidents <= SCAN or name != "oldest"
                assert a == b or not in_window, (name, a, b)
                note = "" if in_window else "  (the scan missed it: outside its window)"
                print(f"{name:10} {fast:9.3f} {slow:9.1f} {slow / fast:8.0f}{note}")
        finally:
            await store.close()


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=5000)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.incidents, args.members, args.repeat))


if __name__ == "__main__":
    main()
