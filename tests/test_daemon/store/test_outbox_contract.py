"""The outbox contract on both stores: order per (incident, connector), leases, retries, dead letters."""

from __future__ import annotations

import asyncio

from connectors.base import IncidentRef, IncidentRequest
from daemon.models import OutboxJob
from daemon.store import Store
from daemon.store.codec import request_to_json
from daemon.workset import WorkSet


def job(incident: str, connector: str, action: str, rev: int) -> OutboxJob:
    """An outbox job as the router makes it."""
    key = f"{incident}:{connector}:{action}:{rev}"
    req = IncidentRequest(incident_id=incident, title="t", priority="P2", status="open")
    return OutboxJob(
        key,
        incident,
        connector,
        action,
        1000.0 + rev,
        request_to_json(req),
    )


async def enqueue(store: Store, *jobs: OutboxJob) -> None:
    """Commit jobs the way the pipeline does (inside an incident update)."""

    def fn(ws: WorkSet) -> None:
        for j in jobs:
            ws.enqueue(j)

    await store.update_incident(jobs[0].incident_id, fn)


async def test_one_job_per_queue_in_order(store: Store) -> None:
    """Only the head of each (incident, connector) queue is handed out, oldest first."""
    await enqueue(
        store, job("i1", "jira", "open", 1), job("i1", "jira", "update", 2), job("i1", "jira", "resolve", 3)
    )
    await enqueue(store, job("i1", "slack", "open", 1))
    await enqueue(store, job("i2", "jira", "open", 1))
    claimed = await store.claim_deliveries(10, lease=30)
    assert sorted((j.incident_id, j.connector, j.action) for j in claimed) == [
        ("i1", "jira", "open"),
        ("i1", "slack", "open"),
        ("i2", "jira", "open"),
    ]
    # Leased: not handed out again while in flight.
    assert await store.claim_deliveries(10, lease=30) == []
    i1_jira = next(j for j in claimed if j.incident_id == "i1" and j.connector == "jira")
    assert i1_jira.ref is None
    await store.finish_delivery(i1_jira, IncidentRef("OPS-1", "https://jira/OPS-1"))
    [nxt] = await store.claim_deliveries(10, lease=30)
    assert (nxt.action, nxt.ref) == ("update", IncidentRef("OPS-1", "https://jira/OPS-1"))
    await store.finish_delivery(nxt, None)
    [last] = await store.claim_deliveries(10, lease=30)
    assert last.action == "resolve"
    assert last.request.title == "t"


async def test_same_key_is_enqueued_once(store: Store) -> None:
    """A retried batch re-enqueues the same idempotency key: one job."""
    await enqueue(store, job("i1", "jira", "open", 1))
    await enqueue(store, job("i1", "jira", "open", 1))
    [only] = await store.claim_deliveries(10, lease=30)
    await store.finish_delivery(only, IncidentRef("OPS-1"))
    assert await store.claim_deliveries(10, lease=0) == []


async def test_retry_waits_and_counts(store: Store) -> None:
    """A retried job is due after its delay, with its attempts counted and its error kept."""
    await enqueue(store, job("i1", "jira", "open", 1))
    [first] = await store.claim_deliveries(10, lease=30)
    await store.retry_delivery(first, 0.3, "HTTP 503")
    assert await store.claim_deliveries(10, lease=30) == []
    await asyncio.sleep(0.35)
    [again] = await store.claim_deliveries(10, lease=30)
    assert again.attempts == 1
    [listed] = await store.list_deliveries("pending", 10)
    assert listed["last_error"] == "HTTP 503"


async def test_dead_letter_and_manual_retry(store: Store) -> None:
    """A dead letter leaves its queue (the next job proceeds), is listed, and can be retried by hand."""
    await enqueue(store, job("i1", "jira", "open", 1), job("i1", "jira", "update", 2))
    [first] = await store.claim_deliveries(10, lease=30)
    await store.dead_letter(first, "HTTP 400: project does not exist")
    [dead] = await store.list_deliveries("dead", 10)
    assert dead["last_error"].startswith("HTTP 400")
    [nxt] = await store.claim_deliveries(10, lease=30)
    assert nxt.action == "update"
    await store.retry_delivery(nxt, 60, "waiting")
    assert await store.retry_dead_letter(dead["id"]) is True
    assert await store.retry_dead_letter(dead["id"]) is False  # no longer dead
    assert await store.retry_dead_letter("nope") is False
    [back] = await store.claim_deliveries(10, lease=30)
    assert (back.action, back.attempts) == ("open", 0)


async def test_a_call_cut_off_by_a_crash_counts_as_an_attempt(store: Store) -> None:
    """A job whose lease ran out (its worker died mid-call) comes back with the attempt counted,
    so the next try looks the ticket up before creating it again."""
    await enqueue(store, job("i1", "jira", "open", 1))
    [first] = await store.claim_deliveries(10, lease=0.2)
    assert first.attempts == 0
    await asyncio.sleep(0.3)  # the "crashed" worker never finishes it
    [again] = await store.claim_deliveries(10, lease=30)
    assert again.job_id == first.job_id
    assert again.attempts == 1


async def test_incident_view_shows_tickets_and_dead_letters(store: Store) -> None:
    """The incident detail's ``external`` shows each tracker's ticket, pending job or dead letter."""
    from daemon.models import Incident, IncidentStatus

    def create(ws: WorkSet) -> None:
        incident = Incident("i1", "g", "t", IncidentStatus.OPEN, "P2", [], 1.0, 1.0, 1, 1)
        ws.touch_incident(incident)
        ws.new_incidents.add("i1")
        for j in (job("i1", "jira", "open", 1), job("i1", "slack", "open", 1)):
            ws.enqueue(j)

    await store.update_incident("i1", create)
    claimed = {j.connector: j for j in await store.claim_deliveries(10, lease=30)}
    await store.finish_delivery(claimed["jira"], IncidentRef("OPS-7", "https://jira/OPS-7"))
    await store.dead_letter(claimed["slack"], "HTTP 404: no_service")
    detail = await store.get_incident("i1")
    assert detail is not None
    external = detail.incident.external
    assert external["jira"]["key"] == "OPS-7"
    assert external["jira"]["state"] == "delivered"
    assert external["slack"]["state"] == "dead_letter"
    assert external["slack"]["last_error"] == "HTTP 404: no_service"
