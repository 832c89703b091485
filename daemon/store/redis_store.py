"""The shared store for many replicas: Redis streams, optimistic transactions, reclaim of crashed work.

How "nothing lost, nothing doubled" holds across replicas:

- The intake is a stream read through one consumer group; an entry stays pending
  until the transaction that commits its effects also XACKs it. Entries a crashed or
  stuck replica left pending are taken over with XAUTOCLAIM after ``claim_idle``.
- A pipeline step WATCHes every key it read (the entries' ``done`` markers, the
  alerts, the groups' open-incident pointers and the incidents), computes in memory,
  and writes in MULTI/EXEC. If another replica changed any of them first, EXEC fails
  and the step is recomputed on fresh state, so two replicas can never both open an
  incident for one group, and an entry applied by one is skipped by the other.
- One round trip per kind of read and one EXEC per batch keep Redis commands per
  alert small (see benchmarks/).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Container, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

import orjson
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError, ResponseError, WatchError

from connectors.base import IncidentRef
from connectors.delivery import DeliveryJob
from daemon.errors import StoreUnavailable
from daemon.models import (
    AlertCounters,
    AlertStatus,
    Incident,
    IncidentAlert,
    IncidentStatus,
    Notification,
    OutboxJob,
    TimelineEvent,
)
from daemon.redis_keys import CONSUMER_GROUP, RedisKeys
from daemon.settings import RedisStoreSettings
from daemon.slices import Slicer
from daemon.store import codec, redis_packing
from daemon.store.base import BatchFn, IncidentDetail, IntakeEntry, MoreKeys
from daemon.store.group_commit import GroupCommit
from daemon.store.intake_memo import IntakeMemo
from daemon.store.redis_outbox import RedisOutbox
from daemon.store.wakeup import Wakeup
from daemon.task_stop import cancel_and_wait
from daemon.workset import DERIVED_GROUP_PREFIXES, WorkSet

T = TypeVar("T")
log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 50  # optimistic retries before giving up on a batch (then retried later)
ENTRIES_PER_TAKE = 200
IDLE_POLL = 0.05  # other replicas' appends are seen by polling this often when idle
BACKLOG_REFRESH = 0.2
HOUSEKEEPING_EVERY = 5.0
# Ticket index entries checked per housekeeping round (every HOUSEKEEPING_EVERY seconds).
TICKETS_SWEPT = 500
DONE_TTL = 86400  # seconds a committed entry's marker outlives the entry
# The pipeline's turn among replicas (``turn``): a lease, so a replica that dies holding
# it stalls the others for at most this long; a waiter asks again this often, and after
# the lease's length goes ahead without it (the batch's transaction still guards it).
TURN_LEASE_SECONDS = 5.0
TURN_POLL_SECONDS = 0.005
# Delete the lease only if it is still ours (it may have expired and been taken since).
_RELEASE_TURN = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def _put_open_groups(ws: WorkSet, groups: Sequence[str], incident_ids: Sequence[bytes | None]) -> None:
    """The groups' open-incident pointers as read (MGET order), the absent ones left out."""
    for g, incident_id in zip(groups, incident_ids, strict=False):
        if incident_id:
            ws.open_groups[g] = incident_id.decode()


async def _batched(items: AsyncIterator[T], size: int) -> AsyncIterator[list[T]]:
    batch: list[T] = []
    async for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Loaded(NamedTuple):
    """An incident as the work set loaded it: what its index entries say until it is written."""

    status: IncidentStatus
    deferrals: dict[str, float]


def _loaded(ws: WorkSet) -> dict[str, _Loaded]:
    """Taken before ``fn`` runs: it changes the loaded incidents in place."""
    return {i: _Loaded(incident.status, dict(incident.deferrals())) for i, incident in ws.incidents.items()}


def _counters(fps: Sequence[str], docs: Sequence[bytes | None]) -> dict[str, AlertCounters]:
    """The stored counters of these alerts (an alert stored before counters: none)."""
    return {fp: codec.decode_counters(fp, doc) for fp, doc in zip(fps, docs, strict=True) if doc}


def _text(entry_id: bytes | str) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


class RedisStore:
    """``Store`` on a Redis (or Valkey) server shared by every replica."""

    def __init__(self, settings: RedisStoreSettings, consumer: str | None = None) -> None:
        self.settings = settings
        self.keys = RedisKeys(settings.prefix)
        self.consumer = consumer or _consumer_name()
        self._client: aioredis.Redis | None = None
        self._backlog = 0
        self._backlog_seq = 0
        self._wakeup = Wakeup()  # a local append: the pipeline takes at once
        self._deliveries = Wakeup()  # this replica enqueued deliveries: its worker claims at once
        self._tasks: list[asyncio.Task[None]] = []
        self._group_ready = False
        self._own_pending = True  # re-read our own pending entries before new ones
        self._last_claim = 0.0
        self._retention = int(settings.retention)
        self._alerts_per_entry = 1.0  # moving average, sizes take()'s reads
        # Optimistic transactions retried because another replica wrote first, by operation
        # (exported as triaged_store_conflicts_total).
        self.conflicts: collections.Counter[str] = collections.Counter()
        self._turns = 0
        # The token of the turn this replica holds now (None: it holds none). While it
        # holds one, a batch watches the turn key instead of every alert it read.
        self._turn_token: str | None = None
        # What this replica appended and has not taken: an entry another replica takes is
        # never forgotten here, but the memo drops its oldest entries when full.
        self._memo: IntakeMemo[str] = IntakeMemo()
        self._closing = False
        self._appends: GroupCommit[tuple[bytes, Notification], None] = GroupCommit(self._commit_appends)
        self._tickets_cursor = 0
        self._tickets_ready = False  # a Redis down at open: housekeeping indexes them later
        self._deferred_ready = False  # a Redis down at open: the upkeep's next read indexes them

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Connect lazily; a Redis that is down at start makes us unready, not dead."""
        password = self.settings.password.get_secret_value() if self.settings.password else None
        self._client = aioredis.from_url(
            self.settings.url.get_secret_value(),
            password=password,
            socket_timeout=self.settings.timeout,
            socket_connect_timeout=self.settings.connect_timeout,
            health_check_interval=10,
            decode_responses=False,
        )
        redis_packing.pack_with_hiredis(self._client.connection_pool)
        self._closing = False
        self.outbox = RedisOutbox(self._client, self.keys, self._retention)
        with contextlib.suppress(StoreUnavailable):
            await self._ensure_group()
            await self._refresh_backlog()
            await self._index_tickets()
            await self._index_deferred()
        self._tasks = [
            asyncio.create_task(self._every(BACKLOG_REFRESH, self._refresh_backlog)),
            asyncio.create_task(self._every(HOUSEKEEPING_EVERY, self._housekeeping)),
        ]

    async def close(self) -> None:
        """Stop background work and disconnect."""
        self._closing = True
        await self._appends.finish()  # appends in flight are answered first
        await cancel_and_wait(self._tasks)
        self._tasks = []
        self._memo.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> Any:
        """The connection pool (open() must have run).

        Typed ``Any`` on purpose: redis-py annotates replies as unions over every
        decoding mode, and this store always runs with ``decode_responses=False`` (bytes).
        """
        if self._client is None:
            raise StoreUnavailable("redis store is not open")
        return self._client

    async def _every(self, period: float, fn: Callable[[], Any]) -> None:
        # The flag ends the loop even if close()'s cancellation was lost (see task_stop).
        while not self._closing:
            await asyncio.sleep(period)
            try:
                await fn()
            except StoreUnavailable as err:
                log.debug("redis_background_failed", error=str(err))

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.client.xgroup_create(self.keys.intake, CONSUMER_GROUP, id="0", mkstream=True)
        except ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise StoreUnavailable(f"redis: {err}") from err
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        self._group_ready = True

    async def ping(self) -> bool:
        """Ready when Redis answers and the consumer group exists."""
        try:
            await self._ensure_group()
            await self.client.ping()
        except (RedisError, StoreUnavailable, OSError):
            return False
        return True

    async def _refresh_backlog(self) -> None:
        seq = self._backlog_seq
        try:
            raw = await self.client.get(self.keys.backlog)
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        # A local append or commit that finished while the GET was in flight knows better:
        # do not overwrite its newer value with an older reading.
        if seq == self._backlog_seq:
            self._backlog = int(raw or 0)

    def _set_backlog(self, value: int) -> None:
        self._backlog = max(0, value)
        self._backlog_seq += 1

    # -- intake ------------------------------------------------------------------------

    async def append(self, notification: Notification) -> None:
        """XADD and count in one transaction; returns once Redis has it (durability: see docs).

        Appends that arrive while a transaction is in flight share the next one (a group
        commit, as on SQLite): one webhook an alert cost a MULTI, XADD, INCRBY and EXEC
        each, and a round trip.
        """
        await self._appends.submit((codec.encode_notification(notification), notification))

    async def _commit_appends(self, batch: list[tuple[bytes, Notification]]) -> list[None]:
        try:
            await self._ensure_group()
            async with self.client.pipeline(transaction=True) as pipe:
                for body, notification in batch:
                    pipe.xadd(self.keys.intake, {"n": len(notification.alerts), "b": body})
                pipe.incrby(self.keys.backlog, sum(len(n.alerts) for _, n in batch))
                replies = await pipe.execute()
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        for (_, notification), entry_id in zip(batch, replies[:-1], strict=True):
            self._memo.keep(_text(entry_id), notification)
        self._set_backlog(int(replies[-1]))
        self._wakeup.set()
        return [None] * len(batch)

    def backlog(self) -> int:
        """Alerts accepted by any replica and not yet committed (refreshed every 0.2 s)."""
        return self._backlog

    async def backlog_now(self) -> int:
        """The exact shared backlog, read from Redis now."""
        try:
            raw = await self.client.get(self.keys.backlog)
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        return int(raw or 0)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Replicas take turns at the pipeline: one batch at a time across all of them.

        Why: every batch reads the group pointers, incidents and alert states that most
        concurrent batches also read, so without turns two replicas' batches usually
        collide, and the one whose EXEC fails computes its batch again (in the scaling
        benchmark, 4 replicas computed 44 batches to commit 16). Taking turns loses no
        parallelism that conflicts had not already lost; the edge, API and deliveries of
        every replica still run at once.
        """
        key = self.keys.pipeline_turn
        self._turns += 1
        token = f"{self.consumer}:{self._turns}"
        give_up = time.monotonic() + TURN_LEASE_SECONDS
        try:
            while not await self.client.set(key, token, nx=True, px=int(TURN_LEASE_SECONDS * 1000)):
                if time.monotonic() >= give_up:
                    log.warning("pipeline_turn_not_released", key=key, waited=TURN_LEASE_SECONDS)
                    break
                await asyncio.sleep(TURN_POLL_SECONDS)
            else:
                self._turn_token = token
        except RedisError as err:
            # The step's entries are delivered to us: re-read them first next time rather
            # than leave them to a reclaim.
            self._own_pending = True
            raise StoreUnavailable(f"redis: {err}") from err
        try:
            yield
        finally:
            self._turn_token = None
            # Not released (Redis gone): the lease runs out by itself.
            with contextlib.suppress(RedisError):
                await self.client.eval(_RELEASE_TURN, 1, key, token)

    async def wait_for_intake(self, timeout: float) -> None:
        """Wake on a local append, or poll soon: other replicas' appends are not signalled."""
        await self._wakeup.wait(min(timeout, IDLE_POLL))

    async def take(self, max_alerts: int) -> list[IntakeEntry]:
        """Our own unfinished entries first, then stale ones of dead replicas, then new ones."""
        # Entries to ask for: enough for max_alerts at the recent alerts-per-entry, so a
        # 50-alert sender's batch does not read (and send over the wire) ten batches' worth.
        count = max(1, min(ENTRIES_PER_TAKE, round(max_alerts / self._alerts_per_entry)))
        try:
            await self._ensure_group()
            rows: list[Any] = []
            if self._own_pending:
                rows = await self._read_group("0", count)
                self._own_pending = bool(rows)
            if not rows and time.monotonic() - self._last_claim >= self.settings.claim_idle / 4:
                self._last_claim = time.monotonic()
                rows = await self._autoclaim(count)
            if not rows:
                rows = await self._read_group(">", count)
        except RedisError as err:
            # The read may have been applied (entries delivered to us) with its answer lost:
            # re-read our own pending entries first next time, or they would wait for a reclaim.
            self._own_pending = True
            raise StoreUnavailable(f"redis: {err}") from err
        entries: list[IntakeEntry] = []
        total, sizes = 0, list[int]()
        for entry_id, fields in rows:
            if not fields:  # deleted under us (trimmed): nothing to process
                continue
            size = int(fields.get(b"n", 1))
            sizes.append(size)
            if entries and total + size > max_alerts:
                self._own_pending = True  # delivered to us but not taken: next time
                break
            eid = _text(entry_id)
            # Appended here: the memo still holds the objects (see intake_memo.py).
            notification = self._memo.get(eid) or codec.decode_notification(fields[b"b"])
            entries.append(IntakeEntry(eid, notification))
            total += size
        self._memo.forget(e.entry_id for e in entries)
        if sizes:
            self._alerts_per_entry = 0.5 * self._alerts_per_entry + 0.5 * (sum(sizes) / len(sizes))
        return entries

    async def _read_group(self, start: str, count: int) -> list[Any]:
        reply = await self.client.xreadgroup(
            CONSUMER_GROUP, self.consumer, {self.keys.intake: start}, count=count
        )
        return list(reply[0][1]) if reply else []

    async def _autoclaim(self, count: int) -> list[Any]:
        reply = await self.client.xautoclaim(
            self.keys.intake,
            CONSUMER_GROUP,
            self.consumer,
            min_idle_time=int(self.settings.claim_idle * 1000),
            start_id="0-0",
            count=count,
        )
        claimed = list(reply[1])
        if claimed:
            log.warning("intake_reclaimed", entries=len(claimed), consumer=self.consumer)
        return claimed

    # -- pipeline state ----------------------------------------------------------------

    async def process_batch(
        self,
        entries: Sequence[IntakeEntry],
        fingerprints: Iterable[str],
        group_keys: Iterable[str],
        fn: BatchFn[T],
        more_keys: MoreKeys | None = None,
    ) -> T:
        """WATCH what we read, apply ``fn``, MULTI/EXEC; recompute if another replica won."""
        fps, groups = list(dict.fromkeys(fingerprints)), list(dict.fromkeys(group_keys))
        try:
            for attempt in range(MAX_ATTEMPTS):
                try:
                    return await self._attempt_batch(entries, fps, groups, fn, more_keys)
                except WatchError:
                    self.conflicts["batch"] += 1
                    await asyncio.sleep(min(0.001 * 2**attempt, 0.05))
        except RedisError as err:
            self._own_pending = True
            raise StoreUnavailable(f"redis: {err}") from err
        self._own_pending = True
        raise StoreUnavailable("redis: too much contention; the batch will be retried")

    async def _attempt_batch(
        self,
        entries: Sequence[IntakeEntry],
        fps: list[str],
        groups: list[str],
        fn: BatchFn[T],
        more_keys: MoreKeys | None,
    ) -> T:
        k = self.keys
        async with self.client.pipeline(transaction=True) as pipe:
            ws, counters, done_flags = await self._read_batch(pipe, entries, fps, groups)
            if more_keys is not None:
                await self._load_more_groups(pipe, ws, set(groups), more_keys)
            await self._load_incidents(pipe, ws, counters)
            loaded = _loaded(ws)
            pending = [e for e, flag in zip(entries, done_flags, strict=True) if flag is None]
            result = await fn(ws, pending)
            jobs = await self._new_jobs(pipe, ws)
            pipe.multi()
            slicer = Slicer()
            for _ in self._queue_writes(pipe, ws, jobs, loaded, slicer):
                await asyncio.sleep(0)
            for entry in pending:
                pipe.set(k.done(entry.entry_id), b"1", ex=DONE_TTL)
            if entries:
                pipe.xack(k.intake, CONSUMER_GROUP, *[e.entry_id for e in entries])
            n_done = sum(e.size for e in pending)
            if n_done:
                pipe.decrby(k.backlog, n_done)
            # Packing the transaction and reading its replies is one more stretch without
            # a turn of the loop (redis-py, 5-17 ms for a big batch): the loop runs first.
            await asyncio.sleep(0)
            replies = await pipe.execute()
        if jobs:
            self._deliveries.set()
        if n_done:
            self._set_backlog(int(replies[-1]))
        return result

    async def _read_batch(
        self, pipe: Any, entries: Sequence[IntakeEntry], fps: list[str], groups: list[str]
    ) -> tuple[WorkSet, dict[str, AlertCounters], list[bytes | None]]:
        """Watch, then read, the entries' marks, the alerts (with their counters) and the
        groups' pointers; returns the work set, the counters and each entry's mark."""
        k = self.keys
        done_keys = [k.done(e.entry_id) for e in entries]
        alert_keys = [k.alert(fp) for fp in fps]
        counter_keys = [k.counters(fp) for fp in fps]
        group_keys = [k.group(g) for g in groups]
        token = self._turn_token
        if token is not None:
            # Alert states, entry marks and derived pointers are written by batches
            # alone, and batches run one at a time under the turn: watching the turn
            # key fences them (another replica takes it only after our lease ended,
            # and that write, or the lease's expiry, fails our EXEC). Watching every
            # alert instead cost redis-server 2.4 ms a WATCH, 73% of its CPU in the
            # ingest benchmark (Redis 7.0 compares each watched key with all the
            # others). Group pointers and incidents stay watched: people's actions
            # (update_incident) write them outside any turn.
            await pipe.watch(k.pipeline_turn, *group_keys)
        else:
            # Both: a replica of an older triaged writes states without counters.
            await pipe.watch(*done_keys, *alert_keys, *counter_keys, *group_keys)
        reader = self.client.pipeline(transaction=False)
        for keys in (done_keys, alert_keys, counter_keys, group_keys):
            # MGET of no keys is an error; an empty batch reads nothing.
            reader.mget(keys or [k.backlog])
        reader.get(k.pipeline_turn)
        done_flags, alert_docs, counter_docs, group_ids, holder = await reader.execute()
        if token is not None and holder != token.encode():
            # The lease ran out and maybe another replica took it: this attempt is
            # not fenced. Retried watching every key, as outside a turn.
            self._turn_token = None
            log.warning(
                "pipeline_turn_lost",
                lease_seconds=TURN_LEASE_SECONDS,
                note="a batch outlived its lease; retried watching every key it reads",
            )
            raise WatchError("the pipeline turn was lost during the batch")
        ws = WorkSet()
        counters = _counters(fps, counter_docs if fps else [])
        slicer = Slicer()  # a batch of new alerts decodes ~1 KB a state
        for state in codec.decode_alert_states(alert_docs if fps else [], counters):
            ws.alerts[state.fingerprint] = state
            await slicer.pause()
        _put_open_groups(ws, groups, group_ids if groups else [])
        return ws, counters, done_flags if entries else []

    async def _load_more_groups(self, pipe: Any, ws: WorkSet, loaded: set[str], more_keys: MoreKeys) -> None:
        """Watch, then read, the group keys that depend on the loaded alert states.

        Why a second round trip: Redis 7.0's WATCH compares each new key with every key
        the connection already watches (quadratic), and a batch of new alerts names about
        ten correlation keys each. A storm's repeats need none of them; watching them all
        made WATCH 80% of redis-server's CPU in the storm benchmark.
        """
        extra = [g for g in dict.fromkeys(await more_keys(ws.alerts)) if g not in loaded]
        if not extra:
            return
        keys = [self.keys.group(g) for g in extra]
        # Derived pointers are written by batches alone: under the turn, not watched.
        fenced = self._turn_token is not None
        watched = [
            key
            for g, key in zip(extra, keys, strict=True)
            if not (fenced and g.startswith(DERIVED_GROUP_PREFIXES))
        ]
        if watched:
            await pipe.watch(*watched)
        _put_open_groups(ws, extra, await self.client.mget(keys))

    async def _load_incidents(self, pipe: Any, ws: WorkSet, counters: dict[str, AlertCounters]) -> None:
        """Watch, then read, the incidents the batch may touch and the alerts' memberships.

        Members are read without watching their hash: every membership change also
        rewrites the incident key, which is watched. ``counters``: the alerts' counters,
        which replace their memberships' own.
        """
        wanted = {s.incident_id for s in ws.alerts.values() if s.incident_id}
        wanted.update(ws.open_groups.values())
        ids = sorted(wanted)
        if not ids:
            return
        await pipe.watch(*[self.keys.incident(i) for i in ids])
        by_incident: dict[str, list[str]] = {}
        for fp, s in ws.alerts.items():
            if s.incident_id:
                by_incident.setdefault(s.incident_id, []).append(fp)
        reader = self.client.pipeline(transaction=False)
        reader.mget([self.keys.incident(i) for i in ids])
        for incident_id, fps in by_incident.items():  # one HMGET per incident, not an HGET per alert
            reader.hmget(self.keys.members(incident_id), fps)
        replies = await reader.execute()
        for doc in replies[0]:
            if doc:
                incident = codec.decode_incident(doc)
                ws.incidents[incident.id] = incident
        slicer = Slicer()
        for (incident_id, fps), docs in zip(by_incident.items(), replies[1:], strict=True):
            for fp, doc in zip(fps, docs, strict=True):
                if doc:
                    member = codec.decode_member(doc)
                    if (c := counters.get(fp)) is not None:
                        c.apply_to_member(incident_id, member)
                    ws.members[(incident_id, fp)] = member
                    await slicer.pause()

    async def _new_jobs(self, pipe: Any, ws: WorkSet) -> list[OutboxJob]:
        """The outbox jobs not enqueued before (their markers are watched, then checked)."""
        unique = list({j.idempotency_key: j for j in reversed(ws.outbox)}.values())[::-1]
        if not unique:
            return []
        marker_keys = [self.keys.outbox_job(j.idempotency_key) for j in unique]
        await pipe.watch(*marker_keys)
        reader = self.client.pipeline(transaction=False)
        for key in marker_keys:
            reader.exists(key)
        seen = [n or None for n in await reader.execute()]
        return [j for j, s in zip(unique, seen, strict=True) if s is None]

    def _queue_writes(
        self, pipe: Any, ws: WorkSet, jobs: list[OutboxJob], loaded: dict[str, _Loaded], slicer: Slicer
    ) -> Iterator[None]:
        """The batch's changes as few commands as it takes (Redis CPU is per command);
        yields when ``slicer`` says a slice of encoding is used up (the caller lets the
        event loop run: the transaction is only sent once every command is queued).

        ``loaded``: each loaded incident's status and deferrals before the batch; an
        incident whose status did not change keeps its index entries, and an open one its
        persistence.
        """
        k = self.keys
        yield from self._queue_alerts(pipe, ws, slicer)
        for incident_id in ws.dirty_incidents:
            self._queue_incident(pipe, ws.incidents[incident_id], loaded.get(incident_id))
        members: dict[str, dict[str, bytes]] = {}
        for incident_id, fp in ws.whole_members():
            members.setdefault(incident_id, {})[fp] = codec.encode_member(ws.members[(incident_id, fp)])
            if slicer.due():
                yield
        for incident_id, fields in members.items():
            pipe.hset(k.members(incident_id), mapping=fields)
        joined: dict[str, dict[str, float]] = {}
        for incident_id, fp in ws.dirty_members:
            joined.setdefault(incident_id, {})[fp] = ws.members[(incident_id, fp)].first_seen
        for incident_id, scores in joined.items():
            pipe.zadd(k.joined(incident_id), scores)
        self._queue_groups(pipe, ws)
        events: dict[str, list[bytes]] = {}
        for incident_id, event in ws.events:
            events.setdefault(incident_id, []).append(codec.encode_event(event))
            if slicer.due():
                yield
        for incident_id, docs in events.items():
            pipe.rpush(k.events(incident_id), *docs)
        for incident_id in ws.dirty_incidents:
            incident = ws.incidents[incident_id]
            was = loaded.get(incident_id)
            if incident.status is IncidentStatus.RESOLVED or was is None or was.status is not incident.status:
                self._queue_expiry(pipe, incident)
        for job in jobs:
            self.outbox.queue_enqueue(pipe, job)

    def _queue_alerts(self, pipe: Any, ws: WorkSet, slicer: Slicer) -> Iterator[None]:
        """Firing alerts in one MSET; resolved ones one by one, as they expire.

        The counters of every changed alert; the whole state only of those that changed
        more than their counters (a repeat does not).
        """
        k = self.keys
        firing: dict[str, bytes] = {}
        for fp in ws.dirty_alerts:
            state = ws.alerts[fp]
            if state.status is AlertStatus.RESOLVED:
                pipe.set(k.alert(fp), codec.encode_alert_state(state), ex=self._retention)
            else:
                firing[k.alert(fp)] = codec.encode_alert_state(state)
            if slicer.due():
                yield
        for c in ws.counters():
            if ws.alerts[c.fingerprint].status is AlertStatus.RESOLVED:
                pipe.set(k.counters(c.fingerprint), codec.encode_counters(c), ex=self._retention)
            else:
                firing[k.counters(c.fingerprint)] = codec.encode_counters(c)
        if firing:
            pipe.mset(firing)

    def _queue_groups(self, pipe: Any, ws: WorkSet) -> None:
        k = self.keys
        for g in ws.dirty_groups:
            open_id = ws.open_groups.get(g)
            if open_id is None:
                pipe.delete(k.group(g))
            elif g.startswith(DERIVED_GROUP_PREFIXES):
                # Correlation pointers are never cleared one by one: they expire.
                pipe.set(k.group(g), open_id.encode(), ex=self._retention)
            else:
                pipe.set(k.group(g), open_id.encode())

    def _queue_incident(self, pipe: Any, incident: Incident, was: _Loaded | None) -> None:
        k = self.keys
        pipe.set(k.incident(incident.id), codec.encode_incident(incident))
        # Deferrals change far less often than incidents are written: commands only for a change.
        deferrals = dict(incident.deferrals())
        before = was.deferrals if was is not None else {}
        if gone := [k.deferral(kind, incident.id) for kind in before if kind not in deferrals]:
            pipe.zrem(k.deferred, *gone)
        if changed := {
            k.deferral(kind, incident.id): at for kind, at in deferrals.items() if before.get(kind) != at
        }:
            pipe.zadd(k.deferred, changed)
        if was is not None and was.status is incident.status:
            return  # its index entries are already right
        pipe.zadd(k.incidents(), {incident.id: incident.opened_at})
        for status in IncidentStatus:
            if status is incident.status:
                pipe.zadd(k.incidents(status.value), {incident.id: incident.opened_at})
            else:
                pipe.zrem(k.incidents(status.value), incident.id)

    def _queue_expiry(self, pipe: Any, incident: Incident) -> None:
        """Resolved incidents expire after ``retention``; open ones are kept."""
        k = self.keys
        for key in (
            k.incident(incident.id),
            k.members(incident.id),
            k.joined(incident.id),
            k.events(incident.id),
            k.refs(incident.id),
        ):
            if incident.status is IncidentStatus.RESOLVED:
                pipe.expire(key, self._retention)
            else:
                pipe.persist(key)

    async def update_incident(self, incident_id: str, fn: Callable[[WorkSet], T]) -> T:
        """WATCH the incident and its group pointer, apply ``fn``, MULTI/EXEC, retry on conflict."""
        k = self.keys
        try:
            for _ in range(MAX_ATTEMPTS):
                async with self.client.pipeline(transaction=True) as pipe:
                    await pipe.watch(k.incident(incident_id))
                    ws = WorkSet()
                    doc = await self.client.get(k.incident(incident_id))
                    if doc:
                        incident = codec.decode_incident(doc)
                        ws.incidents[incident.id] = incident
                        await pipe.watch(k.group(incident.group_key))
                        current = await self.client.get(k.group(incident.group_key))
                        if current:
                            ws.open_groups[incident.group_key] = current.decode()
                    loaded = _loaded(ws)
                    result = fn(ws)
                    jobs = await self._new_jobs(pipe, ws)
                    pipe.multi()
                    # One incident's writes: too few to be worth a turn of the loop.
                    for _ in self._queue_writes(pipe, ws, jobs, loaded, Slicer(math.inf)):
                        pass
                    try:
                        await pipe.execute()
                    except WatchError:
                        self.conflicts["incident"] += 1
                        continue
                    if jobs:
                        self._deliveries.set()
                    return result
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        raise StoreUnavailable("redis: too much contention on this incident; retry")

    # -- reads -------------------------------------------------------------------------

    async def put_silence(self, silence: dict[str, Any]) -> None:
        """Create or replace a silence (a hash field per silence)."""
        try:
            await self.client.hset(self.keys.silences(), silence["id"], codec.dump(silence))
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err

    async def list_silences(self) -> list[dict[str, Any]]:
        """Every stored silence."""
        try:
            docs = await self.client.hvals(self.keys.silences())
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        return [orjson.loads(d) for d in docs]

    async def sweep_groups(self) -> int:
        """Nothing to do: derived pointers (topology, similarity, storms) carry a TTL here."""
        return 0

    async def list_incidents(self, status: IncidentStatus | None, limit: int) -> list[Incident]:
        """Newest first, from the sorted-set index."""
        try:
            ids = await self.client.zrevrange(
                self.keys.incidents(status.value if status else None), 0, limit - 1
            )
            if not ids:
                return []
            docs = await self.client.mget([self.keys.incident(i.decode()) for i in ids])
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        return [codec.decode_incident(d) for d in docs if d]

    async def get_incident(self, incident_id: str, limit: int | None = None) -> IncidentDetail | None:
        """The incident, its members (with alert states) and timeline, from one MULTI snapshot."""
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")  # -0 would mean "all" below
        k = self.keys
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.get(k.incident(incident_id))
                pipe.zrange(k.joined(incident_id), 0, -1 if limit is None else limit - 1)
                pipe.zcard(k.joined(incident_id))
                pipe.hlen(k.members(incident_id))
                pipe.lrange(k.events(incident_id), 0 if limit is None else -limit, -1)
                pipe.llen(k.events(incident_id))
                doc, fps, n_joined, alerts_total, events_raw, timeline_total = await pipe.execute()
            if not doc:
                return None
            members = await self._members_in_join_order(incident_id, fps, n_joined == alerts_total, limit)
            member_fps = [m.fingerprint for m in members]
            states_raw, counters_raw = [], []
            if members:
                reader = self.client.pipeline(transaction=False)
                reader.mget([k.alert(fp) for fp in member_fps])
                reader.mget([k.counters(fp) for fp in member_fps])
                states_raw, counters_raw = await reader.execute()
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        counters = _counters(member_fps, counters_raw)
        for m in members:
            if (c := counters.get(m.fingerprint)) is not None:
                c.apply_to_member(incident_id, m)
        states = {s.fingerprint: s for s in codec.decode_alert_states(states_raw, counters)}
        alerts = [codec.alert_view(m, states.get(m.fingerprint)) for m in members]
        events = [codec.decode_event(e) for e in events_raw]
        incident = codec.decode_incident(doc)
        try:
            external = await self.outbox.external_view(incident_id)
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        for connector, view in external.items():
            incident.external[connector] = {**incident.external.get(connector, {}), **view}
        return IncidentDetail(incident, alerts, events, alerts_total, int(timeline_total))

    async def _members_in_join_order(
        self, incident_id: str, fps: list[bytes], indexed: bool, limit: int | None
    ) -> list[IncidentAlert]:
        """The first ``limit`` members by (first_seen, fingerprint): through ``joined``
        when it holds every member, else (an incident from before it) all, sorted here."""
        key = self.keys.members(incident_id)
        if indexed:
            docs = await self.client.hmget(key, fps) if fps else []
            return [codec.decode_member(d) for d in docs if d]
        members = sorted(
            (codec.decode_member(v) for v in (await self.client.hgetall(key)).values()),
            key=lambda m: (m.first_seen, m.fingerprint),
        )
        return members[:limit]

    async def timeline_since(
        self, incident_id: str, cursor: int, kinds: Container[str] | None = None
    ) -> tuple[list[TimelineEvent], int]:
        """Events after ``cursor``, an index into the incident's event list (RPUSH only)."""
        try:
            raw = await self.client.lrange(self.keys.events(incident_id), cursor, -1)
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        return codec.decode_events(raw, kinds), cursor + len(raw)

    async def list_outbox(self, limit: int) -> list[OutboxJob]:
        """Enqueued deliveries, oldest first."""
        try:
            keys = await self.client.zrange(self.keys.outbox_all, 0, limit - 1)
            reader = self.client.pipeline(transaction=False)
            for key in keys:
                reader.hget(self.keys.outbox_job(key.decode()), "doc")
            docs = await reader.execute() if keys else []
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        return [codec.decode_outbox(d) for d in docs if d]

    async def claim_deliveries(self, limit: int, lease: float) -> list[DeliveryJob]:
        """Due outbox jobs, in order per (incident, connector), leased (any replica)."""
        return await self.outbox.claim(limit, lease)

    async def incident_of_ticket(self, connector: str, key: str) -> str | None:
        """The ticket index's incident, if that incident has not expired since."""
        k = self.keys
        field = k.ticket_field(connector, key)
        try:
            found = await self.client.hget(k.tickets, field)
            if found is None:
                return None
            incident_id = _text(found)
            if await self.client.exists(k.incident(incident_id)):
                return incident_id
            await self.client.hdel(k.tickets, field)
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        return None

    async def deferred(self, until: float, limit: int) -> list[tuple[str, str, float]]:
        """Due deferrals, soonest first: a range of one sorted set, however many are open."""
        await self._index_deferred()
        try:
            top = "+inf" if math.isinf(until) else until
            found = await self.client.zrangebyscore(
                self.keys.deferred, "-inf", top, start=0, num=limit, withscores=True
            )
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        return [(*RedisKeys.parse_deferral(member), float(at)) for member, at in found]

    async def _index_deferred(self) -> None:
        """Once per Redis: index the deferrals of incidents written before the index existed.

        A writer racing with it can leave an entry its incident no longer has: the upkeep
        re-reads an incident before acting, so such an entry costs a look, not an action.
        """
        if self._deferred_ready:
            return
        try:
            k = self.keys
            if await self.client.exists(k.deferred_indexed):
                self._deferred_ready = True
                return
            added = 0
            for status in (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED):
                start = 0
                while chunk := [
                    _text(i) for i in await self.client.zrange(k.incidents(status.value), start, start + 499)
                ]:
                    start += len(chunk)
                    docs = await self.client.mget([k.incident(i) for i in chunk])
                    entries = {
                        k.deferral(kind, incident.id): at
                        for incident in (codec.decode_incident(d) for d in docs if d)
                        for kind, at in incident.deferrals()
                    }
                    if entries:
                        await self.client.zadd(k.deferred, entries)
                        added += len(entries)
            await self.client.set(k.deferred_indexed, b"1")
            self._deferred_ready = True
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        if added:
            log.info("deferrals_indexed", deferrals=added)

    async def _index_tickets(self) -> None:
        """Once per Redis: add the tickets stored before the index existed (from ``refs:*``).

        Replicas starting together may both run it; each HSET writes the same value.
        """
        if self._tickets_ready:
            return
        k = self.keys
        try:
            if await self.client.exists(k.tickets_indexed):
                self._tickets_ready = True
                return
            added = 0
            prefix = k.refs("")
            async for batch in _batched(self.client.scan_iter(match=f"{prefix}*", count=1000), 500):
                reader = self.client.pipeline(transaction=False)
                for key in batch:
                    reader.hgetall(key)
                fields: dict[bytes, bytes] = {}
                for key, refs in zip(batch, await reader.execute(), strict=True):
                    incident_id = _text(key)[len(prefix) :]
                    for connector, doc in refs.items():
                        ticket = str(orjson.loads(doc)["key"])
                        fields[k.ticket_field(_text(connector), ticket)] = incident_id.encode()
                if fields:
                    await self.client.hset(k.tickets, mapping=fields)
                    added += len(fields)
            await self.client.set(k.tickets_indexed, b"1")
            self._tickets_ready = True
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err
        if added:
            log.info("tickets_indexed", tickets=added)

    async def _sweep_tickets(self) -> None:
        """Drop a few hundred index entries whose incident expired, resuming where the last
        sweep stopped: one pass over the index takes many housekeeping rounds, never a stall."""
        k = self.keys
        cursor, fields = await self.client.hscan(k.tickets, self._tickets_cursor, count=TICKETS_SWEPT)
        self._tickets_cursor = int(cursor)
        if not fields:
            return
        names = list(fields)
        reader = self.client.pipeline(transaction=False)
        for name in names:
            reader.exists(k.incident(fields[name].decode()))
        gone = [n for n, alive in zip(names, await reader.execute(), strict=True) if not alive]
        if gone:
            await self.client.hdel(k.tickets, *gone)

    async def wait_for_deliveries(self, timeout: float) -> None:
        """Wake when this replica enqueued deliveries, or after ``timeout`` (other replicas'
        jobs and retries coming due are found by that poll)."""
        await self._deliveries.wait(timeout)

    async def finish_delivery(self, job: DeliveryJob, ref: IncidentRef | None) -> None:
        """Mark a job done (and remember the ticket of an open)."""
        await self.outbox.finish(job, ref)

    async def retry_delivery(self, job: DeliveryJob, delay: float, error: str) -> None:
        """Reschedule a job after ``delay`` seconds."""
        await self.outbox.retry(job, delay, error)

    async def dead_letter(self, job: DeliveryJob, error: str) -> None:
        """Park a job."""
        await self.outbox.dead(job, error)

    async def list_deliveries(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Outbox jobs for the API, newest first."""
        return await self.outbox.listing(status, limit)

    async def retry_dead_letter(self, job_id: str) -> bool:
        """Make a dead letter pending again."""
        requeued = await self.outbox.requeue(job_id)
        if requeued:
            self._deliveries.set()
        return requeued

    # -- housekeeping ------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        """Trim the intake below its oldest unacknowledged entry; sweep expired index ids."""
        try:
            await self._trim_intake()
            await self._sweep_index()
            await self._index_tickets()
            await self._sweep_tickets()
        except RedisError as err:
            raise StoreUnavailable(f"redis: {err}") from err

    async def _trim_intake(self) -> None:
        k = self.keys
        groups = await self.client.xinfo_groups(k.intake)
        group = next((g for g in groups if g["name"] == CONSUMER_GROUP.encode()), None)
        if group is None:
            return
        last = _text(group["last-delivered-id"])
        summary = await self.client.xpending(k.intake, CONSUMER_GROUP)
        if summary["pending"]:
            min_id = _text(summary["min"])
        else:
            ms, _, seq = last.partition("-")
            min_id = f"{ms}-{int(seq or 0) + 1}"
        if min_id != "0-1":
            # Everything below min_id was delivered and acknowledged: safe to drop.
            await self.client.xtrim(k.intake, minid=min_id, approximate=False)

    async def _sweep_index(self) -> None:
        """Drop index entries whose incident expired (resolved longer ago than retention)."""
        k = self.keys
        cutoff = time.time() - self._retention
        old = await self.client.zrangebyscore(k.incidents(), "-inf", cutoff, start=0, num=500)
        if not old:
            return
        exists = await self.client.mget([k.incident(i.decode()) for i in old])
        gone = [i for i, doc in zip(old, exists, strict=True) if doc is None]
        if gone:
            async with self.client.pipeline(transaction=True) as pipe:
                for key in [k.incidents(), *[k.incidents(s.value) for s in IncidentStatus]]:
                    pipe.zrem(key, *gone)
                await pipe.execute()
