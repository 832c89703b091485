"""The Redis outbox: ordered per-(incident, connector) queues with due times, claimed by Lua.

``RedisStore`` enqueues jobs inside its batch transaction (``queue_enqueue``); the
delivery worker of any replica claims due queue heads with one script call, which
also leases them (bumps their due time) so no other replica takes the same job.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from redis.exceptions import RedisError

from connectors.base import IncidentRef
from connectors.delivery import CIRCUIT_OPEN, DeliveryJob
from daemon.errors import StoreUnavailable
from daemon.models import OutboxJob
from daemon.redis_keys import RedisKeys
from daemon.store import codec

# KEYS[1] ready zset. ARGV: now, lease, limit, queue prefix, job prefix.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, member in ipairs(due) do
  local head = redis.call('LINDEX', ARGV[4] .. member, 0)
  if head then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), member)
    local job = redis.call('HMGET', ARGV[5] .. head, 'doc', 'attempts')
    redis.call('HINCRBY', ARGV[5] .. head, 'attempts', 1)
    table.insert(out, head)
    table.insert(out, job[1])
    table.insert(out, job[2])
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return out
"""

# KEYS: ready, queue, job. ARGV: member, job key, now, status, error, retention.
# Removes the job from its queue and makes the queue's next job due now (or drops the queue).
_SETTLE = """
redis.call('LREM', KEYS[2], 1, ARGV[2])
redis.call('HSET', KEYS[3], 'status', ARGV[4], 'last_error', ARGV[5])
if ARGV[4] == 'done' then redis.call('EXPIRE', KEYS[3], tonumber(ARGV[6])) end
if redis.call('LLEN', KEYS[2]) > 0 then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
"""


class RedisOutbox:
    """Outbox operations for ``RedisStore`` (same client, same key prefix)."""

    def __init__(self, client: Any, keys: RedisKeys, retention: int) -> None:
        self.client = client
        self.keys = keys
        self.retention = retention
        self._claim = client.register_script(_CLAIM)
        self._settle = client.register_script(_SETTLE)

    def queue_enqueue(self, pipe: Any, job: OutboxJob) -> None:
        """Inside the caller's MULTI: store the job, append it to its queue, mark the queue due."""
        k = self.keys
        member = f"{job.incident_id}|{job.connector}"
        pipe.hset(
            k.outbox_job(job.idempotency_key),
            mapping={
                "doc": codec.dump(job.to_json()),
                "status": "pending",
                "attempts": 0,
                "incident_id": job.incident_id,
                "connector": job.connector,
                "last_error": "",
                "next_at": 0,
            },
        )
        pipe.rpush(k.outbox_queue(job.incident_id, job.connector), job.idempotency_key)
        # Per-incident index of its jobs, for the incident view (expires like the incident).
        pipe.rpush(k.outbox_of(job.incident_id), job.idempotency_key)
        pipe.expire(k.outbox_of(job.incident_id), self.retention)
        # Due now: a new job is never delayed (created_at is the event's time, which a
        # test clock or a late batch may put in the future or the past).
        pipe.zadd(k.outbox_ready, {member: 0}, nx=True)
        pipe.zadd(k.outbox_all, {job.idempotency_key: job.created_at})

    async def claim(self, limit: int, lease: float) -> list[DeliveryJob]:
        """Due queue heads, leased."""
        k = self.keys
        try:
            flat = await self._claim(
                keys=[k.outbox_ready],
                args=[time.time(), lease, limit, k.outbox_queue("", "")[:-1], k.outbox_job("")],
            )
            triples = [flat[i : i + 3] for i in range(0, len(flat), 3)]
            docs = [orjson.loads(doc) for _, doc, _ in triples]
            reader = self.client.pipeline(transaction=False)
            for d in docs:
                reader.hget(k.refs(d["incident_id"]), d["connector"])
            refs = await reader.execute() if docs else []
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        jobs = []
        for (key, _, attempts), d, ref in zip(triples, docs, refs, strict=True):
            jobs.append(
                DeliveryJob(
                    job_id=key.decode(),
                    incident_id=d["incident_id"],
                    connector=d["connector"],
                    action=d["action"],
                    request=codec.request_from_json(d["payload"]),
                    attempts=int(attempts or 0),
                    ref=codec.ref_from_json(orjson.loads(ref)) if ref else None,
                )
            )
        return jobs

    async def finish(self, job: DeliveryJob, ref: IncidentRef | None) -> None:
        """Done: remember the ticket of an open, advance the queue."""
        try:
            if job.action == "open" and ref is not None:
                k, doc = self.keys, codec.dump(codec.ref_to_json(ref))
                async with self.client.pipeline(transaction=True) as pipe:
                    pipe.hset(k.refs(job.incident_id), job.connector, doc)
                    pipe.hset(k.tickets, k.ticket_field(job.connector, ref.key), job.incident_id)
                    await pipe.execute()
            await self._advance(job, "done", "")
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err

    async def dead(self, job: DeliveryJob, error: str) -> None:
        """Park the job (it leaves its queue; a person can put it back)."""
        try:
            await self._advance(job, "dead", error[:500])
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err

    async def _advance(self, job: DeliveryJob, status: str, error: str) -> None:
        k = self.keys
        await self._settle(
            keys=[k.outbox_ready, k.outbox_queue(job.incident_id, job.connector), k.outbox_job(job.job_id)],
            args=[
                f"{job.incident_id}|{job.connector}",
                job.job_id,
                time.time(),
                status,
                error,
                self.retention,
            ],
        )

    async def retry(self, job: DeliveryJob, delay: float, error: str) -> None:
        """Count the attempt and make the queue due after ``delay``."""
        k = self.keys
        due = time.time() + delay
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                if error == CIRCUIT_OPEN:  # held back, not attempted: uncount, keep the error
                    pipe.hincrby(k.outbox_job(job.job_id), "attempts", -1)
                else:
                    pipe.hset(k.outbox_job(job.job_id), "last_error", error[:500])
                pipe.hset(k.outbox_job(job.job_id), "next_at", due)
                pipe.zadd(k.outbox_ready, {f"{job.incident_id}|{job.connector}": due})
                await pipe.execute()
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err

    async def listing(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Jobs for the API, newest first (scans at most 10x ``limit`` when filtering)."""
        k = self.keys
        try:
            keys = await self.client.zrevrange(k.outbox_all, 0, limit * (10 if status else 1) - 1)
            reader = self.client.pipeline(transaction=False)
            for key in keys:
                reader.hgetall(k.outbox_job(key.decode()))
            rows = await reader.execute() if keys else []
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        out = []
        for key, row in zip(keys, rows, strict=True):
            if not row or (status and row[b"status"].decode() != status):
                continue
            d = orjson.loads(row[b"doc"])
            out.append(
                {
                    "id": key.decode(),
                    "incident_id": d["incident_id"],
                    "connector": d["connector"],
                    "action": d["action"],
                    "status": row[b"status"].decode(),
                    "attempts": int(row[b"attempts"]),
                    "next_attempt_at": float(row[b"next_at"]),
                    "last_error": row[b"last_error"].decode(),
                    "idempotency_key": d["idempotency_key"],
                }
            )
            if len(out) >= limit:
                break
        return out

    async def requeue(self, job_id: str) -> bool:
        """A dead letter goes back to the head of its queue, due now."""
        k = self.keys
        try:
            row = await self.client.hgetall(k.outbox_job(job_id))
            if not row or row[b"status"] != b"dead":
                return False
            incident_id, connector = row[b"incident_id"].decode(), row[b"connector"].decode()
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(k.outbox_job(job_id), mapping={"status": "pending", "attempts": 0})
                pipe.lpush(k.outbox_queue(incident_id, connector), job_id)
                pipe.zadd(k.outbox_ready, {f"{incident_id}|{connector}": time.time()})
                await pipe.execute()
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        return True

    async def external_view(self, incident_id: str) -> dict[str, dict[str, Any]]:
        """Per connector: the ticket once delivered, and a pending or dead job's state."""
        k = self.keys
        raw = await self.client.hgetall(k.refs(incident_id))
        view = {c.decode(): {**orjson.loads(v), "state": "delivered"} for c, v in raw.items()}
        keys = await self.client.lrange(k.outbox_of(incident_id), 0, -1)
        if keys:
            reader = self.client.pipeline(transaction=False)
            for key in keys:
                reader.hmget(k.outbox_job(key.decode()), "status", "connector", "doc", "last_error")
            for status, connector, doc, error in await reader.execute():
                if status in (b"pending", b"dead") and connector:
                    entry = view.setdefault(connector.decode(), {})
                    entry["state"] = "dead_letter" if status == b"dead" else "pending"
                    entry["pending_action"] = orjson.loads(doc)["action"]
                    if error:
                        entry["last_error"] = error.decode()
        return view
