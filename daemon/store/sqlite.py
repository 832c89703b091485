"""The embedded store: two SQLite files in WAL mode, no server to run.

The intake (notifications accepted and not yet processed) is a file of its own,
``<name>.intake<suffix>`` beside the state file, written by its own thread: SQLite has one
writer per file, and a webhook must never wait for a pipeline commit (a batch of a
thousand alerts holds the write lock for tens of milliseconds). Concurrent webhooks are
*group-committed* (everything that arrived while the previous commit was in flight is
written in the next one): one fsync per batch of requests, not per request.

The state file records, in the same transaction as a batch's effects, the highest intake
entry it applied (``intake_applied``); entries up to there are deleted from the intake
afterwards, lazily. So after a crash an entry is applied exactly once: either its effects
and the mark are in the state file, or neither is and it is still in the intake. Everything
else that writes (the pipeline, deliveries, people's actions) uses the state file's writer
thread; API reads use a connection on a thread of their own (WAL lets them run during a
commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson
import structlog

from connectors.base import IncidentRef
from connectors.delivery import DeliveryJob
from daemon.errors import StoreUnavailable
from daemon.models import (
    AlertCounters,
    AlertState,
    Incident,
    IncidentStatus,
    Notification,
    OutboxJob,
    TimelineEvent,
)
from daemon.store import codec, sqlite_outbox
from daemon.store.base import BatchFn, IncidentDetail, IntakeEntry, MoreKeys
from daemon.store.group_commit import GroupCommit
from daemon.store.intake_memo import IntakeMemo
from daemon.store.sqlite_tx import immediate
from daemon.store.state_cache import StateCache
from daemon.store.wakeup import Wakeup
from daemon.workset import WorkSet

T = TypeVar("T")
log = structlog.get_logger(__name__)

# 2: alert_counters, and the intake in a file of its own (a schema-1 file's pending
# intake moves there when it is opened; its documents hold the counters until rewritten).
# 3: tickets, the index from a tracker's ticket key to its incident (filled from refs);
# incident_alerts with first_seen, indexed for the view (rebuilt from its documents).
# 4: deferred, the index of when the upkeep must look at an incident again (filled from
# the documents of the incidents not resolved).
SCHEMA_VERSION = 4
SCHEMA = """
-- The highest intake entry whose effects are committed in this file.
CREATE TABLE IF NOT EXISTS intake_applied (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    upto INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    fingerprint TEXT PRIMARY KEY,
    doc BLOB NOT NULL
);
-- The latest counters of every alert written since schema 2, and of its membership in
-- its incident; they replace those of the documents. A repeat rewrites only this row.
CREATE TABLE IF NOT EXISTS alert_counters (
    fingerprint TEXT PRIMARY KEY,
    last_seen REAL NOT NULL,
    receive_count INTEGER NOT NULL,
    incident_id TEXT,
    member_count INTEGER,
    member_last_seen REAL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at REAL NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_by_status ON incidents (status, opened_at);
CREATE INDEX IF NOT EXISTS incidents_by_opened ON incidents (opened_at);
-- first_seen, a copy of the document's, orders an incident's alerts for the API by
-- index: a view reads ``limit`` rows, not a storm incident's hundred thousand. A rowid
-- table: WITHOUT ROWID (the documents in the key's B-tree) wrote a storm's memberships
-- at 50 us each against 27 (benchmarks/README.md, session 10).
CREATE TABLE IF NOT EXISTS incident_alerts (
    incident_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen REAL NOT NULL,
    doc BLOB NOT NULL,
    PRIMARY KEY (incident_id, fingerprint)
);
CREATE INDEX IF NOT EXISTS incident_alerts_by_fp ON incident_alerts (fingerprint);
CREATE INDEX IF NOT EXISTS incident_alerts_by_join ON incident_alerts (incident_id, first_seen, fingerprint);
CREATE TABLE IF NOT EXISTS open_groups (
    group_key TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY,
    doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS incident_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_events_by_incident ON incident_events (incident_id, id);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    incident_id TEXT NOT NULL,
    connector TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    next_at REAL NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (status, incident_id, connector, id);
CREATE TABLE IF NOT EXISTS refs (
    incident_id TEXT NOT NULL,
    connector TEXT NOT NULL,
    doc BLOB NOT NULL,
    PRIMARY KEY (incident_id, connector)
);
-- A tracker's inbound webhook names its ticket: this finds the incident without a scan.
CREATE TABLE IF NOT EXISTS tickets (
    connector TEXT NOT NULL,
    key TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    PRIMARY KEY (connector, key)
) WITHOUT ROWID;
-- When the upkeep must look at an incident again (``Incident.deferrals``: a delayed
-- resolution, the next escalation step), rewritten with the incident: the upkeep reads
-- what is due, not every open incident (it read at most 5,000, missing the rest).
CREATE TABLE IF NOT EXISTS deferred (
    incident_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (incident_id, kind)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deferred_by_at ON deferred (at);
"""
INTAKE_SCHEMA = """
CREATE TABLE IF NOT EXISTS intake (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    n_alerts INTEGER NOT NULL,
    body BLOB NOT NULL
);
"""
# SQLite's default limit on bound parameters is 32766 since 3.32; stay far below.
_CHUNK = 900


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _counters(conn: sqlite3.Connection, fps: Sequence[str]) -> dict[str, AlertCounters]:
    """The stored counters of these alerts (an alert last written before schema 2 has none)."""
    found: dict[str, AlertCounters] = {}
    for chunk in _chunks(fps):
        q = (
            "SELECT fingerprint, last_seen, receive_count, incident_id, member_count, member_last_seen"
            f" FROM alert_counters WHERE fingerprint IN ({_marks(len(chunk))})"
        )
        for row in conn.execute(q, chunk):
            found[row[0]] = AlertCounters(*row)
    return found


def _marks(n: int) -> str:
    return ",".join("?" * n)


def intake_path(path: Path) -> Path:
    """The intake file beside the state file ``path`` (``triaged.db``: ``triaged.intake.db``)."""
    return path.with_name(f"{path.stem}.intake{path.suffix}")


class SqliteStore:
    """``Store`` on a state file and an intake file."""

    def __init__(self, path: Path, *, synchronous: str = "full") -> None:
        self.path = path
        self.intake_path = intake_path(path)
        self._synchronous = synchronous.upper()
        self._writer = self._reader = self._intake = ThreadPoolExecutor(1)  # replaced in open()
        self._wconn: sqlite3.Connection | None = None  # state file, writer thread
        self._rconn: sqlite3.Connection | None = None  # state file, reader thread
        self._iconn: sqlite3.Connection | None = None  # intake file, intake thread (appends)
        self._tconn: sqlite3.Connection | None = None  # intake file, writer thread (takes)
        self._cache = StateCache()
        self._appends: GroupCommit[tuple[bytes, Notification], None] = GroupCommit(self._commit_appends)
        self._memo: IntakeMemo[int] = IntakeMemo()
        self._cleaner: asyncio.Task[None] | None = None
        # Sizes of the entries appended or recovered and not yet applied; ``backlog`` is their sum.
        self._entry_sizes: dict[int, int] = {}
        self._backlog = 0
        self._last_taken = 0
        self._applied = 0  # intake_applied.upto, as committed
        self._cleaned = 0  # intake entries up to here are deleted
        self._wakeup = Wakeup()  # an append committed: the pipeline takes at once
        self._deliveries = Wakeup()  # a commit enqueued deliveries: the worker claims at once
        self._closed = True

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Create the files and schemas, and count what a previous run left pending."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="sqlite-reader")
        self._intake = ThreadPoolExecutor(1, thread_name_prefix="sqlite-intake")
        self._wconn = await self._write(self._connect)
        self._rconn = await self._read(self._connect)
        self._iconn = await self._run(self._intake, self._connect_intake)
        self._tconn = await self._write(self._connect_intake)
        sizes = await self._write(self._recover_intake)
        self._entry_sizes = dict(sizes)
        self._backlog = sum(self._entry_sizes.values())
        self._last_taken = self._cleaned = self._applied
        self._closed = False
        if self._backlog:
            self._wakeup.set()
            log.info("intake_recovered", entries=len(sizes), alerts=self._backlog)

    def _connect(self) -> sqlite3.Connection:
        conn = self._open_file(self.path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.path} was written by a newer triaged (schema {version} > {SCHEMA_VERSION})"
            )
        # Each step is idempotent and commits alone; user_version moves only after the last.
        _rebuild_members(conn)
        conn.executescript(SCHEMA)
        if version < SCHEMA_VERSION:
            with immediate(conn):
                if version < 3:
                    sqlite_outbox.index_tickets(conn)
                _index_deferred(conn)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return conn

    def _connect_intake(self) -> sqlite3.Connection:
        conn = self._open_file(self.intake_path)
        conn.executescript(INTAKE_SCHEMA)
        return conn

    def _open_file(self, path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _recover_intake(self) -> list[tuple[int, int]]:
        """Sizes of the pending entries, after moving a schema-1 file's intake to its own file.

        The move copies entries with their ids, commits the intake file, then drops the old
        table: a crash in between copies the same rows again (``OR IGNORE``), never twice.
        The intake's id sequence is kept above the applied mark, so that a lost or deleted
        intake file can never make new entries look applied.
        """
        conn, intake = self._wconn, self._tconn
        assert conn is not None
        assert intake is not None
        row = conn.execute("SELECT upto FROM intake_applied").fetchone()
        self._applied = row[0] if row else 0
        old = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'intake'").fetchone()
        moved = list(conn.execute("SELECT id, n_alerts, body FROM intake ORDER BY id")) if old else []
        floor = max([self._applied, *(i for i, _, _ in moved)])
        with immediate(intake):
            intake.executemany("INSERT OR IGNORE INTO intake (id, n_alerts, body) VALUES (?, ?, ?)", moved)
            seq = intake.execute("SELECT seq FROM sqlite_sequence WHERE name = 'intake'").fetchone()
            if seq is None:
                intake.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('intake', ?)", (floor,))
            elif seq[0] < floor:
                intake.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'intake'", (floor,))
            intake.execute("DELETE FROM intake WHERE id <= ?", (self._applied,))
        if old:
            conn.execute("DROP TABLE intake")
            log.info("intake_moved", entries=len(moved), to=str(self.intake_path))
        return list(intake.execute("SELECT id, n_alerts FROM intake ORDER BY id"))

    async def close(self) -> None:
        """Finish pending appends and intake clean-ups, then close every connection."""
        await self._appends.finish()
        if self._cleaner is not None:
            await asyncio.shield(self._cleaner)
        self._closed = True
        self._memo.clear()
        pools = (
            (self._wconn, self._writer),
            (self._tconn, self._writer),
            (self._rconn, self._reader),
            (self._iconn, self._intake),
        )
        for conn, pool in pools:
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(pool, conn.close)
        self._wconn = self._rconn = self._iconn = self._tconn = None
        for _, pool in pools:
            pool.shutdown(wait=True)

    async def ping(self) -> bool:
        """Ready when open and the file answers a query."""
        if self._closed or self._rconn is None:
            return False
        try:
            await self._read(lambda: self._rconn.execute("SELECT 1").fetchone())  # type: ignore[union-attr]
        except StoreUnavailable:
            return False
        return True

    # -- threads -----------------------------------------------------------------------

    async def _write(self, fn: Callable[[], T]) -> T:
        """Run on the writer thread: the only one that writes the state file."""
        return await self._run(self._writer, fn)

    async def _read(self, fn: Callable[[], T]) -> T:
        return await self._run(self._reader, fn)

    @staticmethod
    async def _run(pool: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn)
        except sqlite3.Error as err:
            # Disk full, read-only file, I/O error: the caller answers 503 and the sender retries.
            raise StoreUnavailable(f"sqlite: {err}") from err

    # -- intake ------------------------------------------------------------------------

    async def append(self, notification: Notification) -> None:
        """Durable once this returns; concurrent calls share one commit."""
        if self._closed:
            raise StoreUnavailable("store is closed")
        await self._appends.submit((codec.encode_notification(notification), notification))

    async def _commit_appends(self, batch: list[tuple[bytes, Notification]]) -> list[None]:
        ids = await self._run(self._intake, partial(self._insert_intake, batch))
        for (_, notification), entry_id in zip(batch, ids, strict=True):
            # The pipeline reads the intake file as soon as the append commits, and
            # may apply the entry before this resumes: it is then no longer pending.
            n = len(notification.alerts)
            if entry_id > self._applied:
                self._entry_sizes[entry_id] = n
                self._backlog += n
            if entry_id > self._last_taken:
                self._memo.keep(entry_id, notification)
        self._wakeup.set()
        return [None] * len(batch)

    def _insert_intake(self, batch: list[tuple[bytes, Notification]]) -> list[int]:
        conn = self._iconn
        assert conn is not None
        ids = []
        with immediate(conn):
            for body, notification in batch:
                n = len(notification.alerts)
                cur = conn.execute("INSERT INTO intake (n_alerts, body) VALUES (?, ?)", (n, body))
                assert cur.lastrowid is not None
                ids.append(cur.lastrowid)
        return ids

    def _clean_intake(self, upto: int) -> None:
        """Delete applied entries. Not synced: if a crash loses the deletion, the applied
        mark still skips them; the next append's sync makes it durable."""
        conn = self._iconn
        assert conn is not None
        conn.execute("PRAGMA synchronous=OFF")
        try:
            conn.execute("DELETE FROM intake WHERE id <= ?", (upto,))
        finally:
            conn.execute(f"PRAGMA synchronous={self._synchronous}")

    async def _cleanup(self) -> None:
        while self._cleaned < self._applied:
            upto = self._applied
            try:
                await self._run(self._intake, partial(self._clean_intake, upto))
            except StoreUnavailable as err:
                log.warning("intake_cleanup_failed", error=str(err), note="retried after the next batch")
                return
            self._cleaned = upto

    def backlog(self) -> int:
        """Alerts accepted and not yet committed by the pipeline."""
        return self._backlog

    async def backlog_now(self) -> int:
        """Exact already: this process is the only writer."""
        return self._backlog

    def turn(self) -> contextlib.nullcontext[None]:
        """One process per database file: the turn is always ours."""
        return contextlib.nullcontext()

    async def wait_for_intake(self, timeout: float) -> None:
        """Wake when an append commits (or after ``timeout``)."""
        await self._wakeup.wait(timeout)

    async def take(self, max_alerts: int) -> list[IntakeEntry]:
        """The next pending entries after the last ones handed out."""
        # Decoded on the writer thread: a thousand alerts take ~20 ms, which the event loop
        # would otherwise spend in one piece while webhooks wait. Entries appended by this
        # process are still in the memo and need no decoding at all.
        rows = await self._write(lambda: self._decoded(self._select_intake(max_alerts)))
        if rows:
            self._last_taken = int(rows[-1].entry_id)
            self._memo.forget(int(e.entry_id) for e in rows)
            self._wakeup.set()  # there may be more: let the worker come straight back
        return rows

    def _decoded(self, rows: list[tuple[int, bytes]]) -> list[IntakeEntry]:
        memo = self._memo
        return [IntakeEntry(str(i), memo.get(i) or codec.decode_notification(body)) for i, body in rows]

    def _select_intake(self, max_alerts: int) -> list[tuple[int, bytes]]:
        assert self._tconn is not None
        cur = self._tconn.execute(
            "SELECT id, n_alerts, body FROM intake WHERE id > ? ORDER BY id LIMIT ?",
            (self._last_taken, max(1, max_alerts)),
        )
        rows: list[tuple[int, bytes]] = []
        total = 0
        for entry_id, n, body in cur:
            rows.append((entry_id, body))
            total += n
            if total >= max_alerts:
                break
        return rows

    # -- pipeline state ----------------------------------------------------------------

    async def process_batch(
        self,
        entries: Sequence[IntakeEntry],
        fingerprints: Iterable[str],
        group_keys: Iterable[str],
        fn: BatchFn[T],
        more_keys: MoreKeys | None = None,
    ) -> T:
        """Load, apply ``fn``, commit. One writer thread: no other writer can interleave."""
        fps, keys = list(dict.fromkeys(fingerprints)), list(dict.fromkeys(group_keys))
        # Two reads on the writer thread, the keys that depend on the states named between
        # them on the event loop. Nothing else writes meanwhile: the writer thread is the
        # file's only writer, and everything that queues work on it runs under the
        # pipeline's lock, which the caller holds.
        ws, counters = await self._write(lambda: self._load_alerts(fps))
        if more_keys is not None:
            keys = list(dict.fromkeys([*keys, *await more_keys(ws.alerts)]))
        await self._write(lambda: self._load_rest(ws, keys, counters))
        try:
            # An entry at or below the mark was committed: it must not apply again.
            result = await fn(ws, [e for e in entries if int(e.entry_id) > self._applied])
        except BaseException:
            self._cache.clear()  # fn may have changed cached objects before it failed
            raise
        await self._commit_entries(ws, entries)
        return result

    def _load_alerts(self, fps: list[str]) -> tuple[WorkSet, dict[str, AlertCounters]]:
        """A work set with these alerts' states, and the counters read on the way."""
        conn = self._wconn
        assert conn is not None
        ws = WorkSet()
        missing = self._cache.split_alerts(ws, fps)
        counters = _counters(conn, missing)
        for chunk in _chunks(missing):
            q = f"SELECT doc FROM alerts WHERE fingerprint IN ({_marks(len(chunk))})"
            for state in codec.decode_alert_states((doc for (doc,) in conn.execute(q, chunk)), counters):
                ws.alerts[state.fingerprint] = state
        return ws, counters

    def _load_rest(self, ws: WorkSet, keys: list[str], counters: dict[str, AlertCounters]) -> None:
        """The groups' pointers, then the incidents and memberships the work set names."""
        conn = self._wconn
        assert conn is not None
        for chunk in _chunks(keys):
            q = f"SELECT group_key, incident_id FROM open_groups WHERE group_key IN ({_marks(len(chunk))})"
            ws.open_groups.update(conn.execute(q, chunk))
        wanted = {s.incident_id for s in ws.alerts.values() if s.incident_id}
        wanted.update(ws.open_groups.values())
        for chunk in _chunks(sorted(wanted)):
            q = f"SELECT doc FROM incidents WHERE id IN ({_marks(len(chunk))})"
            for (doc,) in conn.execute(q, chunk):
                incident = codec.decode_incident(doc)
                ws.incidents[incident.id] = incident
        pairs = ((s.incident_id, fp) for fp, s in ws.alerts.items() if s.incident_id)
        wanted_pairs = self._cache.split_members(ws, pairs)
        member_fps = sorted({fp for _, fp in wanted_pairs})
        counters.update(_counters(conn, [fp for fp in member_fps if fp not in counters]))
        for chunk in _chunks(member_fps):
            q = (
                "SELECT incident_id, fingerprint, doc FROM incident_alerts "
                f"WHERE fingerprint IN ({_marks(len(chunk))})"
            )
            for incident_id, fp, doc in conn.execute(q, chunk):
                if (incident_id, fp) in wanted_pairs:
                    member = codec.decode_member(doc)
                    if (c := counters.get(fp)) is not None:
                        c.apply_to_member(incident_id, member)
                    ws.members[(incident_id, fp)] = member

    async def _commit_entries(self, ws: WorkSet, done: Sequence[IntakeEntry]) -> None:
        """One transaction: the batch's effects and the mark of the intake entries it applied."""
        entry_ids = [int(e.entry_id) for e in done]
        try:
            await self._write(lambda: self._commit(ws, entry_ids))
        except BaseException:
            self._cache.clear()
            # Hand the same entries out again on the next take: nothing was written.
            if entry_ids:
                self._last_taken = min(self._last_taken, min(entry_ids) - 1)
            raise
        self._cache.committed(ws)
        if ws.outbox:
            self._deliveries.set()
        if entry_ids:
            # An entry applied before its append's bookkeeping resumed is not counted yet:
            # the append sees it applied and never counts it.
            for entry_id in entry_ids:
                self._backlog -= self._entry_sizes.pop(entry_id, 0)
            self._applied = max(self._applied, *entry_ids)
            if self._cleaner is None or self._cleaner.done():
                self._cleaner = asyncio.create_task(self._cleanup())

    def _commit(self, ws: WorkSet, entry_ids: list[int]) -> None:
        """Write ``ws`` and the mark of the intake entries it applied, in one transaction."""
        rows = _Rows.of(ws)
        conn = self._wconn
        assert conn is not None
        with immediate(conn):
            rows.write(conn)
            if entry_ids:
                conn.execute(
                    "INSERT INTO intake_applied (one, upto) VALUES (1, ?)"
                    " ON CONFLICT (one) DO UPDATE SET upto = max(upto, excluded.upto)",
                    (max(entry_ids),),
                )

    # -- API reads ---------------------------------------------------------------------

    async def list_incidents(self, status: IncidentStatus | None, limit: int) -> list[Incident]:
        """Newest first."""

        def query() -> list[Incident]:
            assert self._rconn is not None
            if status is None:
                cur = self._rconn.execute(
                    "SELECT doc FROM incidents ORDER BY opened_at DESC LIMIT ?", (limit,)
                )
            else:
                cur = self._rconn.execute(
                    "SELECT doc FROM incidents WHERE status = ? ORDER BY opened_at DESC LIMIT ?",
                    (status.value, limit),
                )
            return [codec.decode_incident(doc) for (doc,) in cur]

        return await self._read(query)

    async def get_incident(self, incident_id: str, limit: int | None = None) -> IncidentDetail | None:
        """The incident, its alerts and its timeline, read in one snapshot."""
        return await self._read(lambda: self._detail(incident_id, limit))

    async def timeline_since(
        self, incident_id: str, cursor: int, kinds: Container[str] | None = None
    ) -> tuple[list[TimelineEvent], int]:
        """Events after ``cursor``, a row id of ``incident_events`` (ids only grow)."""

        def query() -> tuple[list[TimelineEvent], int]:
            assert self._rconn is not None
            rows = self._rconn.execute(
                "SELECT id, doc FROM incident_events WHERE incident_id = ? AND id > ? ORDER BY id",
                (incident_id, cursor),
            ).fetchall()
            events = codec.decode_events((doc for _, doc in rows), kinds)
            return events, (rows[-1][0] if rows else cursor)

        return await self._read(query)

    def _detail(self, incident_id: str, limit: int | None = None) -> IncidentDetail | None:
        conn = self._rconn
        assert conn is not None
        conn.execute("BEGIN")
        try:
            row = conn.execute("SELECT doc FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is None:
                return None
            # In join order by index, then cut: only ``limit`` documents are decoded.
            ordered = "SELECT doc FROM incident_alerts WHERE incident_id = ? ORDER BY first_seen, fingerprint"
            page = conn.execute(ordered + " LIMIT ?", (incident_id, -1 if limit is None else limit))
            members = [codec.decode_member(doc) for (doc,) in page]
            count = "SELECT count(*) FROM incident_alerts WHERE incident_id = ?"
            alerts_total = conn.execute(count, (incident_id,)).fetchone()[0]
            states: dict[str, AlertState] = {}
            fps = [m.fingerprint for m in members]
            counters = _counters(conn, fps)
            for m in members:
                if (c := counters.get(m.fingerprint)) is not None:
                    c.apply_to_member(incident_id, m)
            for chunk in _chunks(fps):
                q = f"SELECT doc FROM alerts WHERE fingerprint IN ({_marks(len(chunk))})"
                found = (doc for (doc,) in conn.execute(q, chunk))
                states.update((s.fingerprint, s) for s in codec.decode_alert_states(found, counters))
            if limit is None:
                query = "SELECT doc FROM incident_events WHERE incident_id = ? ORDER BY id"
                docs = [doc for (doc,) in conn.execute(query, (incident_id,))]
                timeline_total = len(docs)
            else:
                query = "SELECT doc FROM incident_events WHERE incident_id = ? ORDER BY id DESC LIMIT ?"
                docs = [doc for (doc,) in conn.execute(query, (incident_id, limit))][::-1]
                count = "SELECT count(*) FROM incident_events WHERE incident_id = ?"
                timeline_total = conn.execute(count, (incident_id,)).fetchone()[0]
            events = [codec.decode_event(doc) for doc in docs]
            external = sqlite_outbox.external_view(conn, incident_id)
        finally:
            conn.execute("COMMIT")
        alerts: list[dict[str, Any]] = [codec.alert_view(m, states.get(m.fingerprint)) for m in members]
        incident = codec.decode_incident(row[0])
        for connector, view in external.items():
            incident.external[connector] = {**incident.external.get(connector, {}), **view}
        return IncidentDetail(incident, alerts, events, alerts_total, timeline_total)

    async def incident_of_ticket(self, connector: str, key: str) -> str | None:
        """The incident whose ticket in ``connector`` has ``key`` (one index lookup)."""
        query = "SELECT incident_id FROM tickets WHERE connector = ? AND key = ?"
        row = await self._read(lambda: self._rconn_().execute(query, (connector, key)).fetchone())
        return row[0] if row else None

    async def deferred(self, until: float, limit: int) -> list[tuple[str, str, float]]:
        """Due deferrals, soonest first (an index range, however many incidents are open)."""
        query = "SELECT kind, incident_id, at FROM deferred WHERE at <= ? ORDER BY at LIMIT ?"
        rows = await self._read(lambda: self._rconn_().execute(query, (until, limit)).fetchall())
        return [(str(kind), str(i), float(at)) for kind, i, at in rows]

    async def claim_deliveries(self, limit: int, lease: float) -> list[DeliveryJob]:
        """Due outbox jobs, in order per (incident, connector), leased."""
        return await self._write(lambda: sqlite_outbox.claim(self._conn(), limit, lease))

    async def wait_for_deliveries(self, timeout: float) -> None:
        """Wake when a commit enqueued deliveries (or after ``timeout``: retries come due)."""
        await self._deliveries.wait(timeout)

    async def finish_delivery(self, job: DeliveryJob, ref: IncidentRef | None) -> None:
        """Mark a job done (and remember the ticket of an open)."""
        await self._write(lambda: sqlite_outbox.finish(self._conn(), job, ref))

    async def retry_delivery(self, job: DeliveryJob, delay: float, error: str) -> None:
        """Reschedule a job after ``delay`` seconds."""
        await self._write(lambda: sqlite_outbox.retry(self._conn(), job, delay, error))

    async def dead_letter(self, job: DeliveryJob, error: str) -> None:
        """Park a job."""
        await self._write(lambda: sqlite_outbox.dead(self._conn(), job, error))

    async def list_deliveries(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Outbox jobs for the API, newest first."""
        return await self._read(lambda: sqlite_outbox.listing(self._rconn_(), status, limit))

    async def retry_dead_letter(self, job_id: str) -> bool:
        """Make a dead letter pending again; False if there is no such dead letter."""
        requeued = await self._write(lambda: sqlite_outbox.requeue(self._conn(), job_id))
        if requeued:
            self._deliveries.set()
        return requeued

    def _conn(self) -> sqlite3.Connection:
        assert self._wconn is not None
        return self._wconn

    def _rconn_(self) -> sqlite3.Connection:
        assert self._rconn is not None
        return self._rconn

    async def list_outbox(self, limit: int) -> list[OutboxJob]:
        """Enqueued deliveries, oldest first (the delivery worker arrives with connectors)."""

        def query() -> list[OutboxJob]:
            assert self._rconn is not None
            cur = self._rconn.execute("SELECT doc FROM outbox ORDER BY id LIMIT ?", (limit,))
            return [codec.decode_outbox(doc) for (doc,) in cur]

        return await self._read(query)

    async def put_silence(self, silence: dict[str, Any]) -> None:
        """Create or replace a silence."""

        def write() -> None:
            conn = self._conn()
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO silences (id, doc) VALUES (?, ?)",
                    (silence["id"], codec.dump(silence)),
                )

        await self._write(write)

    async def list_silences(self) -> list[dict[str, Any]]:
        """Every stored silence."""

        def query() -> list[dict[str, Any]]:
            rows = self._rconn_().execute("SELECT doc FROM silences ORDER BY id")
            return [orjson.loads(doc) for (doc,) in rows]

        return await self._read(query)

    async def sweep_groups(self) -> int:
        """Drop pointers to resolved incidents (topology and similarity keys outlive them)."""

        def write() -> int:
            conn = self._conn()
            with conn:
                cur = conn.execute(
                    "DELETE FROM open_groups WHERE incident_id IN "
                    "(SELECT id FROM incidents WHERE status = 'resolved')"
                )
            return cur.rowcount

        return await self._write(write)

    async def update_incident(self, incident_id: str, fn: Callable[[WorkSet], T]) -> T:
        """Load one incident, apply ``fn`` (which may raise to abort), commit."""

        def query() -> WorkSet:
            assert self._wconn is not None
            ws = WorkSet()
            row = self._wconn.execute("SELECT doc FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is not None:
                incident = codec.decode_incident(row[0])
                ws.incidents[incident.id] = incident
                grp = self._wconn.execute(
                    "SELECT incident_id FROM open_groups WHERE group_key = ?", (incident.group_key,)
                ).fetchone()
                if grp is not None:
                    ws.open_groups[incident.group_key] = grp[0]
            return ws

        ws = await self._write(query)
        result = fn(ws)
        await self._commit_entries(ws, [])
        return result


def _rebuild_members(conn: sqlite3.Connection) -> None:
    """Schema 3: copy ``incident_alerts`` into its new layout (``first_seen`` from each
    document). A crash rolls it back whole; the next open starts it again."""
    columns = [c[1] for c in conn.execute("PRAGMA table_info(incident_alerts)")]
    if not columns or "first_seen" in columns:
        return
    t0 = time.perf_counter()
    with immediate(conn):
        _copy_members(conn)
    n = conn.execute("SELECT count(*) FROM incident_alerts").fetchone()[0]
    log.info("sqlite_members_rebuilt", rows=n, seconds=round(time.perf_counter() - t0, 2))


def _index_deferred(conn: sqlite3.Connection) -> None:
    """Fill ``deferred`` from the incidents not resolved of a file written before it (schema 4)."""
    rows = conn.execute("SELECT doc FROM incidents WHERE status != 'resolved'")
    while batch := rows.fetchmany(10_000):
        conn.executemany(
            "INSERT OR REPLACE INTO deferred (incident_id, kind, at) VALUES (?, ?, ?)",
            [
                (i.id, kind, at)
                for i in map(codec.decode_incident, (d for (d,) in batch))
                for kind, at in i.deferrals()
            ],
        )


def _copy_members(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE incident_alerts_3 (incident_id TEXT NOT NULL, fingerprint TEXT NOT NULL,"
        " first_seen REAL NOT NULL, doc BLOB NOT NULL, PRIMARY KEY (incident_id, fingerprint))"
    )
    rows = conn.execute("SELECT incident_id, fingerprint, doc FROM incident_alerts")
    while batch := rows.fetchmany(10_000):
        conn.executemany(
            "INSERT INTO incident_alerts_3 VALUES (?, ?, ?, ?)",
            [(i, fp, float(orjson.loads(doc)["first_seen"]), doc) for i, fp, doc in batch],
        )
    conn.execute("DROP TABLE incident_alerts")
    conn.execute("ALTER TABLE incident_alerts_3 RENAME TO incident_alerts")


class _Rows:
    """A work set's changes as SQL parameter rows, encoded outside the write transaction."""

    def __init__(self) -> None:
        self.alerts: list[tuple[str, bytes]] = []
        self.incidents: list[tuple[str, str, str, float, bytes]] = []
        self.members: list[tuple[str, str, float, bytes]] = []
        self.counters: list[AlertCounters] = []
        # Counters the documents written whole already hold: a row is only brought up to
        # date if it exists (a new alert gets none until its first repeat).
        self.counters_in_documents: list[AlertCounters] = []
        self.groups: list[tuple[str, str | None]] = []
        self.events: list[tuple[str, bytes]] = []
        self.outbox: list[tuple[str, str, str, bytes]] = []
        self.deferred: list[tuple[str, str, float]] = []

    @classmethod
    def of(cls, ws: WorkSet) -> _Rows:
        rows = cls()
        rows.alerts = [(fp, codec.encode_alert_state(ws.alerts[fp])) for fp in ws.dirty_alerts]
        rows.incidents = [
            (i.id, i.group_key, i.status.value, i.opened_at, codec.encode_incident(i))
            for i in (ws.incidents[x] for x in ws.dirty_incidents)
        ]
        rows.deferred = [
            (x, kind, at) for x in ws.dirty_incidents for kind, at in ws.incidents[x].deferrals()
        ]
        whole = ws.whole_members()
        rows.members = [
            (k[0], k[1], m.first_seen, codec.encode_member(m)) for k, m in ((k, ws.members[k]) for k in whole)
        ]
        for c in ws.counters():
            # Written whole with its membership (if any): inserting a counters row would
            # only repeat the documents, one more B-tree write per new alert.
            if c.fingerprint in ws.dirty_alerts and (
                c.incident_id is None or (c.incident_id, c.fingerprint) in whole
            ):
                rows.counters_in_documents.append(c)
            else:
                rows.counters.append(c)
        rows.groups = [(key, ws.open_groups.get(key)) for key in ws.dirty_groups]
        rows.events = [(i, codec.encode_event(e)) for i, e in ws.events]
        rows.outbox = [
            (j.idempotency_key, j.incident_id, j.connector, codec.dump(j.to_json())) for j in ws.outbox
        ]
        return rows

    def write(self, conn: sqlite3.Connection) -> None:
        # Upserts change a row in place; REPLACE would delete and re-insert it (and its index entries).
        conn.executemany(
            "INSERT INTO alerts (fingerprint, doc) VALUES (?, ?)"
            " ON CONFLICT (fingerprint) DO UPDATE SET doc = excluded.doc",
            self.alerts,
        )
        conn.executemany(
            "INSERT INTO alert_counters (fingerprint, last_seen, receive_count, incident_id,"
            " member_count, member_last_seen) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (fingerprint) DO UPDATE SET last_seen = excluded.last_seen,"
            " receive_count = excluded.receive_count, incident_id = excluded.incident_id,"
            " member_count = excluded.member_count, member_last_seen = excluded.member_last_seen",
            self.counters,
        )
        conn.executemany(
            "UPDATE alert_counters SET last_seen = ?, receive_count = ?, incident_id = ?,"
            " member_count = ?, member_last_seen = ? WHERE fingerprint = ?",
            [(*c[1:], c[0]) for c in self.counters_in_documents],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO incidents (id, group_key, status, opened_at, doc) VALUES (?, ?, ?, ?, ?)",
            self.incidents,
        )
        conn.executemany("DELETE FROM deferred WHERE incident_id = ?", [(r[0],) for r in self.incidents])
        conn.executemany("INSERT INTO deferred (incident_id, kind, at) VALUES (?, ?, ?)", self.deferred)
        conn.executemany(
            "INSERT INTO incident_alerts (incident_id, fingerprint, first_seen, doc) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (incident_id, fingerprint)"
            " DO UPDATE SET first_seen = excluded.first_seen, doc = excluded.doc",
            self.members,
        )
        for key, incident_id in self.groups:
            if incident_id is None:
                conn.execute("DELETE FROM open_groups WHERE group_key = ?", (key,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO open_groups (group_key, incident_id) VALUES (?, ?)",
                    (key, incident_id),
                )
        conn.executemany("INSERT INTO incident_events (incident_id, doc) VALUES (?, ?)", self.events)
        # The UNIQUE key makes a second enqueue of the same delivery a no-op.
        conn.executemany(
            "INSERT OR IGNORE INTO outbox (idempotency_key, incident_id, connector, doc) VALUES (?, ?, ?, ?)",
            self.outbox,
        )
