"""Many replicas on one Redis, with real processes: races, kill -9 of a replica, a Redis restart."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from support import (
    AM_ROUTES_CONFIG,
    DaemonProcess,
    RedisServer,
    all_incidents,
    drained,
    fixture_body,
    fixture_raw,
    group_body,
    post_raw,
)

from daemon.fingerprint import label_fingerprint
from daemon.settings import Settings
from daemon.stages.correlate import Grouper

FIRING_CAPTURES = [
    "default_route_firing",
    "firing_grouped",
    "firing_grouped_update",
    "firing_grouped_single_alert",
    "firing_grouped_other_alertname",
    "ungrouped",
    "ungrouped_2",
    "ungrouped_3",
    "truncated",
    "repeat_first",
    "repeat_second",
    "inhibit_source_firing",
    "inhibit_other_cluster_not_inhibited",
    "inhibit_released",
    "silence_partial",
    "silence_expired",
    "silence_expired_whole_group",
    "prometheus_chain",
]


def redis_store(server: RedisServer, prefix: str, **extra: Any) -> dict[str, Any]:
    """A daemon config section for the shared Redis."""
    return {"store": {"kind": "redis", "url": server.url, "prefix": prefix, **extra}}


async def test_two_replicas_same_webhooks_one_incident_per_group(
    daemon_factory: Callable[..., DaemonProcess],
    http: aiohttp.ClientSession,
    redis_server: RedisServer,
    redis_prefix: str,
) -> None:
    """Every firing capture, 6 times each, shuffled, posted to two replicas at once.

    Exactly one incident per group (as the grouping config defines it), every alert in it,
    and every alert's count equal to the number of notifications that carried it.
    """
    a = daemon_factory(redis_store(redis_server, redis_prefix), name="a")
    b = daemon_factory(redis_store(redis_server, redis_prefix), name="b")
    rng = random.Random(7)
    posts = [(name, d) for name in FIRING_CAPTURES for _ in range(6) for d in (a, b)]
    rng.shuffle(posts)
    sem = asyncio.Semaphore(16)

    async def send(name: str, d: DaemonProcess) -> int:
        async with sem:
            return await post_raw(http, d, fixture_raw(name))

    statuses = await asyncio.gather(*(send(n, d) for n, d in posts))
    assert set(statuses) == {202}
    await drained(http, a)
    await drained(http, b)

    grouper = Grouper(Settings.model_validate(AM_ROUTES_CONFIG).correlation)
    expected_groups: dict[str, set[str]] = {}
    expected_counts: Counter[str] = Counter()
    for name in FIRING_CAPTURES:
        for alert in fixture_body(name)["alerts"]:
            fp = label_fingerprint(alert["labels"])
            expected_groups.setdefault(grouper.group_of(alert["labels"]).key, set()).add(fp)
            expected_counts[fp] += 12
    incidents = await all_incidents(http, a)
    assert sorted(i["group_key"] for i in incidents) == sorted(expected_groups)
    for incident in incidents:
        assert set(incident["fingerprints"]) == expected_groups[incident["group_key"]]
        assert [e["kind"] for e in incident["timeline"]].count("opened") == 1
        for alert in incident["alerts"]:
            assert alert["count"] == expected_counts[alert["fingerprint"]], alert
    # Both replicas did part of the work.
    for d in (a, b):
        async with http.get(d.url + "/metrics") as resp:
            text = await resp.text()
        batches = [ln for ln in text.splitlines() if ln.startswith("triaged_pipeline_batches_total")]
        assert float(batches[0].split()[-1]) > 0, d.url


async def test_kill_9_of_a_replica_survivor_processes_everything_once(
    daemon_factory: Callable[..., DaemonProcess],
    http: aiohttp.ClientSession,
    redis_server: RedisServer,
    redis_prefix: str,
) -> None:
    """A replica is killed mid-stream; the survivor reclaims its pending entries.

    Every group is one incident with all its alerts, and every alert was counted at
    least once per 202 and at most once per attempt (a cut-off request may have been
    stored before the sender retried it), so nothing accepted is lost or applied twice.
    """
    store = redis_store(redis_server, redis_prefix, claim_idle="1s")
    a = daemon_factory(store, name="a")
    b = daemon_factory(store, name="b")
    groups, size = 300, 4
    acked: Counter[int] = Counter()
    attempts: Counter[int] = Counter()

    async def sender(batch: list[int], target: list[DaemonProcess]) -> None:
        for g in batch:
            while True:
                attempts[g] += 1
                if await post_raw(http, target[0], group_body(g, size)) == 202:
                    acked[g] += 1
                    break
                target[0] = b  # the load balancer sends the retry to the survivor

    targets = [[a] for _ in range(6)]
    order = list(range(groups))
    random.Random(3).shuffle(order)
    tasks = [asyncio.create_task(sender(order[i::6], targets[i])) for i in range(6)]
    while sum(acked.values()) < 60:
        await asyncio.sleep(0.001)
    assert a.proc is not None
    a.proc.kill()
    a.proc.wait()
    a.proc = None
    await asyncio.gather(*tasks)
    await asyncio.sleep(1.5)  # past claim_idle: the survivor takes over a's pending entries
    await drained(http, b)
    incidents = await all_incidents(http, b)
    assert len(incidents) == groups
    for incident in incidents:
        g = int(incident["title"].split()[0].removeprefix("Synthetic"))
        assert incident["alert_count"] == size
        assert [e["kind"] for e in incident["timeline"]].count("opened") == 1
        for alert in incident["alerts"]:
            assert acked[g] <= alert["count"] <= attempts[g], (g, alert)
    assert sum(attempts.values()) > groups  # some requests really were cut off


async def test_redis_restart_mid_stream_answers_503_and_loses_nothing(
    daemon_factory: Callable[..., DaemonProcess],
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    """Redis (AOF, fsync always) is killed and restarted during a stream of webhooks.

    While it is down the daemon answers 503 (and /readyz says not ready); senders retry;
    afterwards every group that got a 202 is one incident with all its alerts.
    """
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        d = daemon_factory(redis_store(server, "aof"), name="d")
        statuses: Counter[int] = Counter()
        groups = 200

        async def sender(batch: list[int]) -> None:
            for g in batch:
                for _ in range(400):
                    status = await post_raw(http, d, group_body(g, 3))
                    statuses[status] += 1
                    if status == 202:
                        break
                    await asyncio.sleep(0.02)
                else:
                    raise AssertionError(f"group {g} never accepted")

        tasks = [asyncio.create_task(sender(list(range(i, groups, 4)))) for i in range(4)]
        while statuses[202] < 50:
            await asyncio.sleep(0.001)
        server.stop(sig=9)
        await asyncio.sleep(0.5)
        async with http.get(d.url + "/readyz") as resp:
            assert resp.status == 503
            assert "store unavailable" in (await resp.json())["problems"]
        server.start()
        await asyncio.gather(*tasks)
        assert statuses[503] > 0
        await drained(http, d, timeout=30)
        incidents = await all_incidents(http, d)
        assert len(incidents) == groups
        assert {i["alert_count"] for i in incidents} == {3}
    finally:
        server.stop()


def test_fixture_list_is_current() -> None:
    """Every firing capture named above exists (the race test is not silently smaller)."""
    for name in FIRING_CAPTURES:
        assert any(a["status"] == "firing" for a in fixture_body(name)["alerts"]), name


async def test_redis_down_at_start_then_up(
    daemon_factory: Callable[..., DaemonProcess], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A daemon started while Redis is down runs, is not ready, answers 503; then recovers alone."""
    server = RedisServer(tmp_path / "late-redis")
    d = daemon_factory(redis_store(server, "late"), name="late", probe="/healthz")
    async with http.get(d.url + "/readyz") as resp:
        assert resp.status == 503
    status = await post_raw(http, d, fixture_raw("firing_grouped"))
    assert status == 503
    server.start()
    try:
        for _ in range(200):
            async with http.get(d.url + "/readyz") as resp:
                if resp.status == 200:
                    break
            await asyncio.sleep(0.05)
        assert await post_raw(http, d, fixture_raw("firing_grouped")) == 202
        await drained(http, d)
        [incident] = await all_incidents(http, d)
        assert incident["alert_count"] == 2
    finally:
        server.stop()


async def test_an_ingest_replica_accepts_and_a_pipeline_replica_processes(
    daemon_factory: Callable[..., DaemonProcess],
    http: aiohttp.ClientSession,
    redis_server: RedisServer,
    redis_prefix: str,
) -> None:
    """``pipeline.enabled: false``: 202 and ready, nothing processed; once a replica with
    the pipeline runs on the same prefix, the same incidents as one ordinary daemon makes."""
    captures = ["firing_grouped", "firing_grouped_other_alertname", "ungrouped", "firing_grouped_update"]
    edge = daemon_factory(
        {**redis_store(redis_server, redis_prefix), "pipeline": {"enabled": False}}, name="edge"
    )
    alone = daemon_factory(redis_store(redis_server, redis_prefix + "-alone"), name="alone")
    for name in captures:
        assert await post_raw(http, edge, fixture_raw(name)) == 202
        assert await post_raw(http, alone, fixture_raw(name)) == 202
    await drained(http, alone)
    await asyncio.sleep(1.5)  # past the idle poll and the shared backlog's refresh
    async with http.get(edge.url + "/readyz") as resp:
        ready = await resp.json()
        assert resp.status == 200, ready
    accepted = sum(len(fixture_body(name)["alerts"]) for name in captures)
    assert ready["backlog"] == accepted
    assert await all_incidents(http, edge) == []
    assert "pipeline_disabled" in edge.logs()

    worker = daemon_factory(redis_store(redis_server, redis_prefix), name="worker")
    await drained(http, worker)
    await drained(http, edge)  # the shared backlog, as the ingest replica reads it

    def shape(incidents: list[dict[str, Any]]) -> set[tuple[str, frozenset[tuple[str, int]]]]:
        return {
            (i["group_key"], frozenset((a["fingerprint"], a["count"]) for a in i["alerts"]))
            for i in incidents
        }

    expected = shape(await all_incidents(http, alone))
    assert len(expected) >= 2
    assert shape(await all_incidents(http, edge)) == expected
