"""The SQLite outbox's queries: claim in order per (incident, connector), lease, retry, dead-letter.

Plain functions over a connection; ``SqliteStore`` runs them on its writer thread.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson

from connectors.base import IncidentRef
from connectors.delivery import CIRCUIT_OPEN, DeliveryJob
from daemon.store import codec
from daemon.store.sqlite_tx import immediate

# The head of each (incident, connector) queue: the oldest job not yet done or dead.
_CLAIM = """
SELECT o.id, o.incident_id, o.connector, o.attempts, o.doc, r.doc
FROM outbox o
LEFT JOIN refs r ON r.incident_id = o.incident_id AND r.connector = o.connector
WHERE o.status = 'pending' AND o.next_at <= :now AND o.lease_until <= :now
  AND o.id = (SELECT MIN(p.id) FROM outbox p
              WHERE p.incident_id = o.incident_id AND p.connector = o.connector
                AND p.status = 'pending')
ORDER BY o.next_at, o.id
LIMIT :limit
"""


def claim(conn: sqlite3.Connection, limit: int, lease: float) -> list[DeliveryJob]:
    """Due queue heads, leased for ``lease`` seconds so a slow call is not taken twice."""
    now = time.time()
    with immediate(conn):
        rows = conn.execute(_CLAIM, {"now": now, "limit": limit}).fetchall()
        # The attempt is counted when it starts: a crash during the call leaves a count,
        # so the next try looks the ticket up before creating it again.
        conn.executemany(
            "UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id = ?",
            [(now + lease, r[0]) for r in rows],
        )
    return [_job(*row) for row in rows]


def _job(
    job_id: int, incident_id: str, connector: str, attempts: int, doc: bytes, ref_doc: bytes | None
) -> DeliveryJob:
    data = orjson.loads(doc)
    return DeliveryJob(
        job_id=str(job_id),
        incident_id=incident_id,
        connector=connector,
        action=data["action"],
        request=codec.request_from_json(data["payload"]),
        attempts=attempts,
        ref=codec.ref_from_json(orjson.loads(ref_doc)) if ref_doc else None,
    )


def finish(conn: sqlite3.Connection, job: DeliveryJob, ref: IncidentRef | None) -> None:
    """Done; an ``open`` records the ticket in ``refs``.

    The incident row is never written here: the pipeline is its only writer, and a
    write from this thread could be overwritten by a batch that loaded it earlier.
    The API merges ``refs`` and dead letters into the incident's ``external`` view.
    """
    with immediate(conn):
        conn.execute(
            "UPDATE outbox SET status = 'done', last_error = '' WHERE id = ?",
            (int(job.job_id),),
        )
        if job.action == "open" and ref is not None:
            conn.execute(
                "INSERT OR REPLACE INTO refs (incident_id, connector, doc) VALUES (?, ?, ?)",
                (job.incident_id, job.connector, codec.dump(codec.ref_to_json(ref))),
            )
            conn.execute(
                "INSERT OR REPLACE INTO tickets (connector, key, incident_id) VALUES (?, ?, ?)",
                (job.connector, ref.key, job.incident_id),
            )


def index_tickets(conn: sqlite3.Connection) -> None:
    """Fill ``tickets`` from the ``refs`` of a file written before it existed (schema 3)."""
    rows = conn.execute("SELECT incident_id, connector, doc FROM refs").fetchall()
    conn.executemany(
        "INSERT OR IGNORE INTO tickets (connector, key, incident_id) VALUES (?, ?, ?)",
        [(connector, str(orjson.loads(doc)["key"]), incident_id) for incident_id, connector, doc in rows],
    )


def retry(conn: sqlite3.Connection, job: DeliveryJob, delay: float, error: str) -> None:
    """Count the attempt, release the lease, due again after ``delay``.

    A job held back by an open circuit breaker was not attempted: its count and its
    last real error stay as they were.
    """
    if error == CIRCUIT_OPEN:
        conn.execute(
            "UPDATE outbox SET next_at = ?, lease_until = 0, attempts = attempts - 1 WHERE id = ?",
            (time.time() + delay, int(job.job_id)),
        )
        return
    conn.execute(
        "UPDATE outbox SET next_at = ?, lease_until = 0, last_error = ? WHERE id = ?",
        (time.time() + delay, error[:500], int(job.job_id)),
    )


def dead(conn: sqlite3.Connection, job: DeliveryJob, error: str) -> None:
    """Park the job; later jobs of the same queue may proceed (they dead-letter too if they need it)."""
    conn.execute(
        "UPDATE outbox SET status = 'dead', lease_until = 0, last_error = ? WHERE id = ?",
        (error[:500], int(job.job_id)),
    )


def listing(conn: sqlite3.Connection, status: str | None, limit: int) -> list[dict[str, Any]]:
    """Jobs for the API, newest first."""
    q = (
        "SELECT id, incident_id, connector, status, attempts, next_at, last_error, doc FROM outbox "
        + ("WHERE status = ? " if status else "")
        + "ORDER BY id DESC LIMIT ?"
    )
    args: tuple[Any, ...] = (status, limit) if status else (limit,)
    return [_view(*row) for row in conn.execute(q, args)]


def _view(
    job_id: int,
    incident_id: str,
    connector: str,
    status: str,
    attempts: int,
    next_at: float,
    last_error: str,
    doc: bytes,
) -> dict[str, Any]:
    data = orjson.loads(doc)
    return {
        "id": str(job_id),
        "incident_id": incident_id,
        "connector": connector,
        "action": data["action"],
        "status": status,
        "attempts": attempts,
        "next_attempt_at": next_at,
        "last_error": last_error,
        "idempotency_key": data["idempotency_key"],
    }


def requeue(conn: sqlite3.Connection, job_id: str) -> bool:
    """A person retries a dead letter: pending again, due now, attempts reset."""
    if not job_id.isdigit():
        return False
    cur = conn.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_at = 0, lease_until = 0 "
        "WHERE id = ? AND status = 'dead'",
        (int(job_id),),
    )
    return cur.rowcount == 1


def external_view(conn: sqlite3.Connection, incident_id: str) -> dict[str, dict[str, Any]]:
    """Per connector: the ticket (key, url) and the delivery state, for the incident view."""
    view: dict[str, dict[str, Any]] = {}
    for connector, doc in conn.execute(
        "SELECT connector, doc FROM refs WHERE incident_id = ?", (incident_id,)
    ):
        view[connector] = {**orjson.loads(doc), "state": "delivered"}
    for connector, status, doc, error in conn.execute(
        "SELECT connector, status, doc, last_error FROM outbox "
        "WHERE incident_id = ? AND status IN ('pending', 'dead') ORDER BY id",
        (incident_id,),
    ):
        entry = view.setdefault(connector, {})
        entry["state"] = "dead_letter" if status == "dead" else "pending"
        entry["pending_action"] = orjson.loads(doc)["action"]
        if error:
            entry["last_error"] = error
    return view
