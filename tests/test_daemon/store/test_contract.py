"""The store contract, run on every store kind: what the pipeline relies on, at the protocol level."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from faults.proxy import TcpProxy
from pydantic import SecretStr
from structlog.testing import capture_logs
from support import FIXTURES, fixture_body

from daemon.config_loader import load_settings
from daemon.errors import StoreUnavailable
from daemon.metrics import ConflictsCollector, build_metrics
from daemon.models import IncidentStatus, OutboxJob
from daemon.pipeline import Pipeline
from daemon.settings import RedisStoreSettings, Settings
from daemon.sources.alertmanager import parse
from daemon.store import Store, build_store, codec, redis_store
from daemon.store.base import IntakeEntry
from daemon.store.redis_store import RedisStore
from daemon.timeparse import iso
from daemon.workset import WorkSet


@pytest.fixture
def settings(make_settings: Callable[..., Settings], store_config: dict[str, Any]) -> Settings:
    """Test settings on the parametrized store."""
    return make_settings(store=store_config)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    """An opened store of the parametrized kind."""
    s = build_store(settings.store)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def replicas(settings: Settings) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two opened stores on one Redis prefix, as two replicas ("a" and "b") see it."""
    if not isinstance(settings.store, RedisStoreSettings):
        pytest.skip("SQLite has one writer: no replicas to race or take turns")
    a, b = RedisStore(settings.store, consumer="a"), RedisStore(settings.store, consumer="b")
    await a.open()
    await b.open()
    yield a, b
    await a.close()
    await b.close()


def _notification(name: str, at: float = 1_800_000_000.0) -> Any:
    return parse(fixture_body(name), at).notification


async def test_append_take_commit_acknowledges(store: Store, settings: Settings) -> None:
    """Appended entries are taken in order, and a committed batch leaves the backlog."""
    await store.append(_notification("firing_grouped"))
    await store.append(_notification("truncated"))
    assert store.backlog() == 4
    entries = await store.take(1000)
    assert [len(e.notification.alerts) for e in entries] == [2, 2]
    pipeline = Pipeline(store, settings, build_metrics())

    async def apply(ws: WorkSet, pending: Sequence[IntakeEntry]) -> int:
        pipeline.process(ws, [e.notification for e in pending])
        return len(pending)

    fps = [a.fingerprint for e in entries for a in e.notification.alerts]
    keys = [pipeline.grouper.group_of(a.labels).key for e in entries for a in e.notification.alerts]
    assert await store.process_batch(entries, fps, keys, apply) == 2
    assert store.backlog() == 0
    assert await store.take(1000) == []
    incidents = await store.list_incidents(None, 10)
    assert len(incidents) == 2
    assert await store.list_incidents(IncidentStatus.RESOLVED, 10) == []


async def test_uncommitted_entries_survive_a_reopen(settings: Settings) -> None:
    """Entries taken but never committed (a crash) are processed by the next process, once."""
    first = build_store(settings.store)
    await first.open()
    await first.append(_notification("firing_grouped"))
    taken = await first.take(1000)
    assert len(taken) == 1
    await first.close()  # "crash": no commit

    second = build_store(settings.store)
    if settings.store.kind == "redis":
        # Another replica reclaims it once the first consumer has been idle for claim_idle.
        second = build_store(settings.store.model_copy(update={"claim_idle": 0.0}))
    await second.open()
    try:
        pipeline = Pipeline(second, settings, build_metrics())
        assert await pipeline.drain(10) == 0
        [incident] = await second.list_incidents(None, 10)
        assert incident.alert_count == 2
        assert await second.take(1000) == []
        detail = await second.get_incident(incident.id)
        assert detail is not None
        assert [a["count"] for a in detail.alerts] == [1, 1]
    finally:
        await second.close()


async def test_a_committed_entry_is_never_applied_twice(settings: Settings) -> None:
    """If two workers hold the same entry (a slow one and its reclaimer), only one applies it."""
    a = build_store(settings.store)
    await a.open()
    try:
        await a.append(_notification("firing_grouped"))
        entries = await a.take(1000)
        calls: list[int] = []

        async def apply(ws: WorkSet, pending: Sequence[IntakeEntry]) -> None:
            calls.append(len(pending))
            pipeline.process(ws, [e.notification for e in pending])

        pipeline = Pipeline(a, settings, build_metrics())
        fps = [x.fingerprint for x in entries[0].notification.alerts]
        keys = [pipeline.grouper.group_of(x.labels).key for x in entries[0].notification.alerts]
        await a.process_batch(entries, fps, keys, apply)
        await a.process_batch(entries, fps, keys, apply)  # the same entries again
        assert calls == [1, 0]  # the second time, the entry was known to be committed
        [incident] = await a.list_incidents(None, 10)
        detail = await a.get_incident(incident.id)
        assert detail is not None
        assert await a.take(1000) == []
        assert [x["count"] for x in detail.alerts] == [1, 1]
    finally:
        await a.close()


async def test_outbox_enqueues_each_key_once(store: Store) -> None:
    """Outbox jobs commit with the work that caused them; a repeated key is stored once."""

    def enqueue(ws: WorkSet) -> None:
        for action in ("open", "open", "resolve"):
            ws.enqueue(OutboxJob(f"inc_x:jira:{action}", "inc_x", "jira", action, 1.0))

    await store.update_incident("inc_x", enqueue)
    await store.update_incident("inc_x", enqueue)
    jobs = await store.list_outbox(10)
    assert [j.idempotency_key for j in jobs] == ["inc_x:jira:open", "inc_x:jira:resolve"]


async def test_update_incident_aborts_without_writing(store: Store, settings: Settings) -> None:
    """An action that raises writes nothing."""
    from daemon.errors import NotFound

    pipeline = Pipeline(store, settings, build_metrics())
    with pytest.raises(NotFound):
        await pipeline.acknowledge("inc_missing", "alice")
    assert await store.list_incidents(None, 10) == []


def test_redis_url_and_password_settings(tmp_path: Any) -> None:
    """redis://, rediss:// and unix:// URLs load; others and two password origins are refused."""
    from pathlib import Path

    from daemon.errors import ConfigError

    def load(store: dict[str, Any]) -> Settings:
        path = Path(tmp_path) / "c.yaml"
        import yaml

        path.write_text(yaml.safe_dump({"store": store}))
        return load_settings(path)

    for url in ("redis://h:6379/0", "rediss://user:pw@h:6380/1", "unix:///run/redis.sock"):
        assert load({"kind": "redis", "url": url}).store.kind == "redis"
    with pytest.raises(ConfigError, match="url must start with"):
        load({"kind": "redis", "url": "http://h"})
    secret = Path(tmp_path) / "pw"
    secret.write_text("hunter2\n")
    s = load({"kind": "redis", "password_file": str(secret)})
    assert s.store.kind == "redis"
    assert s.store.password is not None
    assert s.store.password.get_secret_value() == "hunter2"
    with pytest.raises(ConfigError) as info:
        load({"kind": "redis", "url": "redis://:topsecret@h/0", "port": 1})
    assert "topsecret" not in str(info.value)


async def test_a_failed_batch_leaves_nothing_behind(store: Store, settings: Settings) -> None:
    """A batch function that changed the loaded state and then failed leaves no trace:
    the next batch sees what was committed (the SQLite store keeps committed states in
    memory, so this is also what keeps that memory honest)."""
    pipeline = Pipeline(store, settings, build_metrics())
    await store.append(_notification("firing_grouped"))
    entries = await store.take(1000)
    fps = [a.fingerprint for e in entries for a in e.notification.alerts]

    async def apply(ws: WorkSet, pending: Sequence[IntakeEntry]) -> None:
        pipeline.process(ws, [e.notification for e in pending])

    await store.process_batch(entries, fps, [], apply)

    async def scribble_then_fail(ws: WorkSet, pending: Sequence[IntakeEntry]) -> None:
        for state in ws.alerts.values():
            state.receive_count = 999
            state.incident_id = "nowhere"
        raise RuntimeError("a bug in a stage")

    with pytest.raises(RuntimeError):
        await store.process_batch([], fps, [], scribble_then_fail)

    async def read(ws: WorkSet, pending: Sequence[IntakeEntry]) -> dict[str, tuple[int, str | None]]:
        return {fp: (s.receive_count, s.incident_id) for fp, s in ws.alerts.items()}

    seen = await store.process_batch([], fps, [], read)
    assert sorted(seen) == sorted(fps)
    assert all(count == 1 and incident not in (None, "nowhere") for count, incident in seen.values())


async def _drain(settings: Settings, store: Store) -> None:
    pipeline = Pipeline(store, settings, build_metrics())
    assert await pipeline.drain(10) == 0


async def _counters(store: Store, incident_id: str) -> tuple[int, str, int, float]:
    """(membership count, membership last seen, alert receive count, alert last seen)."""
    detail = await store.get_incident(incident_id)
    assert detail is not None
    [member] = detail.alerts

    async def read(ws: WorkSet, pending: Sequence[IntakeEntry]) -> tuple[int, float]:
        state = ws.alerts[member["fingerprint"]]
        return state.receive_count, state.last_seen

    receive_count, last_seen = await store.process_batch([], [member["fingerprint"]], [], read)
    return member["count"], member["last_seen"], receive_count, last_seen


async def test_repeats_keep_exact_counters_across_a_reopen(settings: Settings) -> None:
    """Repeats change only counters (the embedded store writes just those): the alert's
    receive count and last-seen time, and its membership's, read back exactly from a
    fresh process, and go on counting from there."""
    t0 = 1_800_000_000.0
    first = build_store(settings.store)
    await first.open()
    try:
        await first.append(_notification("repeat_first", t0))
        await _drain(settings, first)  # the repeats come in later batches
        for i in range(1, 4):
            await first.append(_notification("repeat_second", t0 + 60 * i))
        await _drain(settings, first)
        [incident] = await first.list_incidents(None, 10)
        assert await _counters(first, incident.id) == (4, iso(t0 + 180), 4, t0 + 180)
    finally:
        await first.close()

    second = build_store(settings.store)  # a new process: nothing cached
    await second.open()
    try:
        assert await _counters(second, incident.id) == (4, iso(t0 + 180), 4, t0 + 180)
        await second.append(_notification("repeat_second", t0 + 300))
        await second.append(_notification("repeat_resolved", t0 + 360))
        await _drain(settings, second)
        assert await _counters(second, incident.id) == (6, iso(t0 + 360), 6, t0 + 360)
        detail = await second.get_incident(incident.id)
        assert detail is not None
        assert detail.alerts[0]["status"] == "resolved"
        assert detail.incident.last_seen == t0 + 360
    finally:
        await second.close()


async def test_redis_alerts_stored_without_counters_count_on_from_their_documents(settings: Settings) -> None:
    """An alert stored by a triaged from before ``counters:`` has its counters in its
    documents only: they are read from there, and the next repeats count on from them."""
    if not isinstance(settings.store, RedisStoreSettings):
        pytest.skip("the embedded store's counters have their own upgrade (schema 2)")
    t0 = 1_800_000_000.0
    store = RedisStore(settings.store)
    await store.open()
    try:
        await store.append(_notification("repeat_first", t0))
        await _drain(settings, store)
        [incident] = await store.list_incidents(None, 10)
        [fp] = [a.fingerprint for a in _notification("repeat_first", t0).alerts]
        assert await store.client.delete(store.keys.counters(fp)) == 1  # as an older triaged left it
        assert await _counters(store, incident.id) == (1, iso(t0), 1, t0)
        for i in range(1, 3):
            await store.append(_notification("repeat_second", t0 + 60 * i))
        await _drain(settings, store)
        assert await _counters(store, incident.id) == (3, iso(t0 + 120), 3, t0 + 120)
    finally:
        await store.close()


async def test_a_replica_that_loses_the_race_retries_counts_it_and_applies_once(
    settings: Settings, replicas: tuple[RedisStore, RedisStore]
) -> None:
    """Two replicas on one Redis commit batches of the same alerts: the later EXEC fails
    its WATCH, the batch is recomputed on what the first wrote, and the conflict is
    counted for ``triaged_store_conflicts_total``."""
    a, b = replicas
    await a.append(_notification("firing_grouped"))
    taken_a = await a.take(1000)
    await b.append(_notification("firing_grouped_update", at=1_800_000_060.0))
    taken_b = await b.take(1000)
    assert len(taken_a) == len(taken_b) == 1
    pipeline = Pipeline(a, settings, build_metrics())
    attempts = []

    def keys(entries: Sequence[IntakeEntry]) -> tuple[list[str], list[str]]:
        alerts = [x for e in entries for x in e.notification.alerts]
        return [x.fingerprint for x in alerts], [pipeline.grouper.group_of(x.labels).key for x in alerts]

    async def apply_b(ws: WorkSet, pending: Sequence[IntakeEntry]) -> None:
        pipeline.process(ws, [e.notification for e in pending])

    async def apply_a(ws: WorkSet, pending: Sequence[IntakeEntry]) -> None:
        attempts.append(sorted(ws.alerts))
        if len(attempts) == 1:  # B commits between A's read and A's EXEC
            await b.process_batch(taken_b, *keys(taken_b), apply_b)
        pipeline.process(ws, [e.notification for e in pending])

    await a.process_batch(taken_a, *keys(taken_a), apply_a)
    assert len(attempts) == 2
    assert attempts[0] == []
    assert attempts[1] != []  # the retry read what B wrote
    assert (a.conflicts["batch"], b.conflicts["batch"]) == (1, 0)
    metrics = build_metrics()
    metrics.registry.register(ConflictsCollector(lambda: a.conflicts))
    assert metrics.registry.get_sample_value("triaged_store_conflicts_total", {"operation": "batch"}) == 1
    [incident] = await a.list_incidents(None, 10)
    assert incident.notifications == sum(len(e.notification.alerts) for e in taken_a + taken_b)


async def test_a_batch_whose_turn_ran_out_is_recomputed_on_what_the_next_holder_wrote(
    settings: Settings, replicas: tuple[RedisStore, RedisStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under its turn a batch watches the turn key instead of every alert it read. When
    its lease runs out mid-batch and another replica takes the turn and changes the same
    alerts (their states alone: no incident or group pointer, which stay watched), the
    first EXEC must still fail, and the retry must read what the other wrote."""
    monkeypatch.setattr(redis_store, "TURN_LEASE_SECONDS", 0.3)
    a, b = replicas
    await a.append(_notification("firing_grouped"))
    await _drain(settings, a)
    fps = sorted(x.fingerprint for x in _notification("firing_grouped").alerts)
    read: list[list[int]] = []

    def count_one_more(ws: WorkSet) -> None:
        for fp in fps:
            state = ws.alerts[fp]
            state.receive_count += 1
            ws.see_alert(state)

    async def apply_b(ws: WorkSet, pending: Sequence[IntakeEntry]) -> None:
        count_one_more(ws)

    async def apply_a(ws: WorkSet, pending: Sequence[IntakeEntry]) -> None:
        read.append([ws.alerts[fp].receive_count for fp in fps])
        if len(read) == 1:
            await asyncio.sleep(0.4)  # a's lease runs out while it computes
            async with b.turn():
                await b.process_batch([], fps, [], apply_b)
        count_one_more(ws)

    with capture_logs() as logs:
        async with a.turn():
            await a.process_batch([], fps, [], apply_a)
    assert [x["event"] for x in logs if x["log_level"] == "warning"] == ["pipeline_turn_lost"]

    async def counts(ws: WorkSet, pending: Sequence[IntakeEntry]) -> list[int]:
        return [ws.alerts[fp].receive_count for fp in fps]

    assert read == [[1] * len(fps), [2] * len(fps)]  # the retry read what b wrote
    assert await a.process_batch([], fps, [], counts) == [3] * len(fps)  # neither count lost
    # Two retries: the EXEC that failed, then the attempt that found the turn gone (it
    # gives up the fence before reading anything; the next one watches every key).
    assert (a.conflicts["batch"], b.conflicts["batch"]) == (2, 0)


async def test_replicas_take_turns_at_the_pipeline_and_never_recompute(
    settings: Settings, replicas: tuple[RedisStore, RedisStore]
) -> None:
    """Two replicas' pipelines stepping at once over alerts of one group: each batch is
    computed once (no conflict), and every alert is processed."""
    a, b = replicas
    names = ("firing_grouped", "firing_grouped_update", "firing_grouped_partially_resolved")
    total = 0
    for i, name in enumerate(names * 2):
        notification = _notification(name, at=1_800_000_000.0 + 60 * i)
        total += len(notification.alerts)
        await a.append(notification)
    pipelines = [Pipeline(a, settings, build_metrics()), Pipeline(b, settings, build_metrics())]
    # Each takes one entry per step, so both have work at the same moment.
    for p in pipelines:
        p.settings = settings.model_copy(
            update={"pipeline": settings.pipeline.model_copy(update={"batch_size": 1})}
        )
    taken = 0
    while taken < total:
        steps = await asyncio.gather(*(p.step() for p in pipelines))
        assert any(steps)
        taken += sum(steps)
    assert (a.conflicts["batch"], b.conflicts["batch"]) == (0, 0)
    assert await a.take(1000) == []
    assert taken == total
    assert len(await a.list_incidents(None, 10)) == 1


async def test_a_turn_is_released_only_by_its_holder_and_expires_with_its_holder(
    replicas: tuple[RedisStore, RedisStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A waiter enters when the holder leaves; a holder whose lease ran out does not
    release the next holder's turn; a holder that never leaves (dead) stalls the others
    for one lease only."""
    monkeypatch.setattr(redis_store, "TURN_LEASE_SECONDS", 0.3)
    a, b = replicas
    entered: list[str] = []

    async def enter(store: RedisStore, name: str, hold: asyncio.Event) -> None:
        async with store.turn():
            entered.append(name)
            await hold.wait()

    release_a, release_b = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(enter(a, "a", release_a))
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(enter(b, "b", release_b))
    await asyncio.sleep(0.1)
    assert entered == ["a"]  # b waits while a holds the turn
    release_a.set()
    await holder
    await asyncio.sleep(0.05)
    assert entered == ["a", "b"]

    # b's lease runs out while b still holds on; a takes the turn; b leaving must
    # not release a's turn.
    await asyncio.sleep(0.35)
    release_a.clear()
    late = asyncio.create_task(enter(a, "a2", release_a))
    await asyncio.sleep(0.05)
    assert entered[-1] == "a2"
    release_b.set()
    await waiter
    token = await a.client.get(a.keys.pipeline_turn)
    assert token is not None
    assert token.startswith(b"a:")
    release_a.set()
    await late
    assert await a.client.get(a.keys.pipeline_turn) is None


def _fixture_notifications() -> list[Any]:
    """Every captured webhook that carries alerts, as the edge parses it."""
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        body = json.loads(path.read_text())
        if isinstance(body, dict) and body.get("alerts"):
            found.append(parse(body, 1_800_000_000.25).notification)
    return found


async def test_a_taken_entry_is_what_decoding_its_stored_copy_gives(settings: Settings) -> None:
    """The memo of appended notifications hands back exactly what a reopened store decodes."""
    sent = _fixture_notifications()
    assert len(sent) >= 10
    first = build_store(settings.store)
    await first.open()
    try:
        for n in sent:
            await first.append(n)
        taken = [e.notification for e in await first.take(100_000)]
    finally:
        await first.close()
    assert taken == sent
    # Kept objects, not copies: what the edge parsed is what the pipeline reads.
    assert all(t is n for t, n in zip(taken, sent, strict=True))
    assert taken == [codec.decode_notification(codec.encode_notification(n)) for n in sent]

    # Nothing was committed: a new process reads the stored copies, and they are equal.
    second = build_store(settings.store)
    if settings.store.kind == "redis":
        second = build_store(settings.store.model_copy(update={"claim_idle": 0.0}))
    await second.open()
    try:
        again = [e.notification for e in await second.take(100_000)]
    finally:
        await second.close()
    assert again == sent
    assert not any(a is n for a, n in zip(again, sent, strict=True))


async def test_entries_another_replica_appended_are_decoded(replicas: tuple[RedisStore, RedisStore]) -> None:
    """Replica b takes what a appended (a's memo cannot help b); a's memo stays bounded."""
    a, b = replicas
    sent = _fixture_notifications()
    for n in sent:
        await a.append(n)
    taken = [e.notification for e in await b.take(100_000)]
    assert taken == sent
    assert not any(t is n for t, n in zip(taken, sent, strict=True))
    assert a._memo.alerts == sum(len(n.alerts) for n in sent)
    a._memo.max_alerts = 3
    await a.append(sent[0])
    assert a._memo.alerts <= 3


async def test_entries_taken_before_redis_fails_during_the_turn_are_taken_again_at_once(
    settings: Settings,
) -> None:
    """A replica whose Redis stops answering while it waits for the turn holds entries
    delivered to it; once Redis answers again it takes them back first, without waiting
    for another replica to reclaim them after ``claim_idle``."""
    if not isinstance(settings.store, RedisStoreSettings):
        pytest.skip("SQLite has no turns")
    holder = RedisStore(settings.store, consumer="holder")
    await holder.open()
    assert settings.store.url.get_secret_value().startswith("redis://127.0.0.1:")
    port = int(settings.store.url.get_secret_value().rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(port)
    await proxy.start()
    through = settings.store.model_copy(update={"url": SecretStr(proxy.url), "timeout": 0.3})
    waiter = RedisStore(through, consumer="waiter")
    await waiter.open()
    try:
        sent = _notification("firing_grouped")
        await waiter.append(sent)
        [entry] = await waiter.take(1000)
        await holder.client.set(holder.keys.pipeline_turn, b"holder:1", px=10_000)
        proxy.blackhole = True
        with pytest.raises(StoreUnavailable):
            async with waiter.turn():
                pytest.fail("the turn was held by another replica")
        proxy.blackhole = False
        await holder.client.delete(holder.keys.pipeline_turn)
        again = await waiter.take(1000)
        assert [e.entry_id for e in again] == [entry.entry_id]
        assert again[0].notification == sent
    finally:
        await waiter.close()
        await proxy.close()
        await holder.close()
