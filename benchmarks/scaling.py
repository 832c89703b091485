"""Scaling curves: throughput and memory versus alerts already stored, and versus Redis replicas.

Run: ``.venv/bin/python benchmarks/scaling.py [--sizes 1000,10000,100000] [--replicas 1,2,4]``
(see benchmarks/README.md, "Scaling benchmark").

*Stored*: one fresh ``triaged serve`` on SQLite is filled, through its webhook and
pipeline, with distinct firing alerts (groups of 500, one webhook each) up to each
checkpoint; at every checkpoint the same kind of probe load is measured: 200 webhooks of
50 Alertmanager-like alerts (70% repeats, as in ``ingest.py``), from the first post until
everything is processed. Per-alert cost must stay flat as the stored count grows; the
preload's own rate per chunk is a second curve over the same range.

*Replicas*: 1, 2 and 4 daemons sharing one Redis (one prefix), the same probe load
spread round-robin over them; reported: alerts/s end to end, daemon CPU seconds per
1,000 alerts (summed over replicas) and Redis commands per alert. On the 2-core machine
more replicas cannot add cores; the figure that must not grow is the cost per alert.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.connection
import os
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (  # benchmarks/ is not a package: the scripts share one directory
    HOST,
    LOAD_CORE,
    SERVER_CORE,
    WEBHOOK_PATH,
    AlertmanagerSim,
    PhaseResult,
    RedisForBench,
    Server,
    _post_all,
    fingerprint,
    free_port,
    go_json,
    http_get,
    metric_sum,
    parse_metrics,
    rfc3339_nano,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_DIR = HERE / "results"
PRELOAD_BATCH = 500
PRELOAD_CHUNK = 100_000
PROBE_WEBHOOKS, PROBE_BATCH = 200, 50


def preload_bodies(start: int, count: int) -> list[bytes]:
    """``count`` distinct firing alerts from index ``start``: group ``Scale<i // 500>`` per webhook."""
    now_ns = (time.time_ns() // 1_000_000_000 - 600) * 1_000_000_000
    bodies = []
    for first in range(start, start + count, PRELOAD_BATCH):
        alerts = []
        for i in range(first, min(first + PRELOAD_BATCH, start + count)):
            labels = {
                "alertname": f"Scale{i // PRELOAD_BATCH}",
                "cluster": f"c{i % 7}",
                "instance": f"host-{i}:9100",
                "job": "node",
                "severity": "warning",
            }
            alerts.append(
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {"summary": f"Preloaded alert {i}"},
                    "startsAt": rfc3339_nano(now_ns + i),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "",
                    "fingerprint": fingerprint(labels),
                }
            )
        body = {"version": "4", "status": "firing", "receiver": "triaged", "groupKey": f"scale:{first}"}
        bodies.append(go_json(body | {"alerts": alerts, "truncatedAlerts": 0}))
    return bodies


def probe_bodies(seed: int) -> list[bytes]:
    """The measured load: the ingest benchmark's Alertmanager bodies, batch 50."""
    sim = AlertmanagerSim(PROBE_BATCH, seed)
    return [sim.webhook() for _ in range(PROBE_WEBHOOKS)]


def _load_main(
    conn: multiprocessing.connection.Connection, urls: list[str], path: str, conc: int, pin: bool
) -> None:
    """Post every body of ``path`` (JSON list) over ``urls`` round-robin; send back the PhaseResult."""
    if pin:
        os.sched_setaffinity(0, {LOAD_CORE})
    bodies = [b.encode() for b in orjson.loads(Path(path).read_bytes())]

    async def run() -> PhaseResult:
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc), timeout=timeout) as s:
            parts = await asyncio.gather(
                *(
                    _post_all(s, url, bodies[i :: len(urls)], max(1, conc // len(urls)), 600)
                    for i, url in enumerate(urls)
                )
            )
        total = PhaseResult()
        for p in parts:
            total.requests += p.requests
            total.accepted_alerts += p.accepted_alerts
            for k, v in p.errors.items():
                total.errors[k] = total.errors.get(k, 0) + v
        total.first_send = min(p.first_send for p in parts)
        total.last_done = max(p.last_done for p in parts)
        return total

    conn.send(asdict(uvloop.run(run())) | {"latencies_ms": []})
    conn.close()


def post(urls: list[str], bodies: list[bytes], workdir: Path, pin: bool, conc: int = 16) -> dict[str, Any]:
    """Post ``bodies`` from a separate, pinned process; the load generator never shares the daemon's core."""
    path = workdir / "bodies.json"
    path.write_bytes(orjson.dumps([b.decode() for b in bodies]))
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_load_main, args=(child, urls, str(path), conc, pin))
    proc.start()
    child.close()
    if parent not in multiprocessing.connection.wait([parent, proc.sentinel], 900):
        raise RuntimeError("load generator died")
    result: dict[str, Any] = parent.recv()
    proc.join(10)
    return result


def scrape(servers: list[Server]) -> list[dict[str, float]]:
    """Every replica's /metrics; a busy daemon gets 10 s to answer, then is retried."""
    out = []
    for s in servers:
        for attempt in range(6):
            try:
                text = http_get(s.base + "/metrics", timeout=10.0)[1].decode()
                break
            except OSError:
                if attempt == 5 or not s.running():
                    raise
        out.append(parse_metrics(text))
    return out


def processed_in(metrics: list[dict[str, float]]) -> int:
    """Alerts processed so far, summed over the replicas' scrapes."""
    return sum(int(metric_sum(m, "triaged_alerts_processed_total")) for m in metrics)


def processed(servers: list[Server]) -> int:
    """Alerts processed so far, summed over replicas."""
    return processed_in(scrape(servers))


# A /metrics scrape costs a daemon about 3 ms of its core; polling each replica twice
# every 0.1 s (as this harness did until session 8) took a share of the core that grew
# with the replica count, and was counted in their CPU per alert.
DRAIN_POLL_SECONDS = 0.25


def drain(servers: list[Server], expected: int, timeout: float = 900.0) -> float | None:
    """time.monotonic() when every replica's backlog is 0 and ``expected`` alerts are
    processed in all; one scrape per replica per poll."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        metrics = scrape(servers)
        done = processed_in(metrics) >= expected
        if done and all(m.get("triaged_intake_backlog") == 0 for m in metrics):
            return time.monotonic()
        time.sleep(DRAIN_POLL_SECONDS)
    return None


def rss_mib(server: Server) -> float | None:
    """Current VmRSS (the peak is ``server.peak_rss_mib()``)."""
    for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def measure(servers: list[Server], workdir: Path, pin: bool, seed: int) -> dict[str, Any]:
    """The probe load, end to end, with CPU per alert summed over every replica."""
    first = scrape(servers)
    before = processed_in(first)
    cpu0 = sum(s.cpu_seconds() for s in servers)
    res = post([s.base + WEBHOOK_PATH for s in servers], probe_bodies(seed), workdir, pin, conc=32)
    done = drain(servers, before + res["accepted_alerts"])
    cpu = sum(s.cpu_seconds() for s in servers) - cpu0
    last = scrape(servers)

    def delta(name: str) -> int:
        return int(sum(metric_sum(m, name) for m in last) - sum(metric_sum(m, name) for m in first))

    wall = (done or time.monotonic()) - res["first_send"]
    return {
        "probe_alerts": res["accepted_alerts"],
        "probe_errors": sum(res["errors"].values()),
        "edge_alerts_per_s": round(res["accepted_alerts"] / (res["last_done"] - res["first_send"])),
        "end_to_end_alerts_per_s": round(res["accepted_alerts"] / wall) if done else None,
        "cpu_ms_per_alert": round(1000 * cpu / max(res["accepted_alerts"], 1), 3),
        # Each conflict recomputes one batch: conflicts x alerts per batch is the work redone.
        "batches": delta("triaged_pipeline_batches_total"),
        "conflicts": delta("triaged_store_conflicts_total"),
    }


def start_daemon(name: str, store_yaml: str, workdir: Path, pin: bool) -> Server:
    """A fresh ``triaged serve`` with the shipped correlation defaults."""
    port = free_port()
    cfg = workdir / f"{name}.yaml"
    cfg.write_text(f"store: {store_yaml}\nlogging: {{level: warning, format: json}}\n")
    triaged = Path(sys.executable).with_name("triaged")
    argv = [str(triaged), "serve", "--config", str(cfg), "--listen", f"{HOST}:{port}"]
    server = Server(name, argv, port, workdir, pin)
    server.start()
    return server


def stored_curve(sizes: list[int], workdir: Path, pin: bool) -> list[dict[str, Any]]:
    """Preload to each checkpoint, then measure; one daemon for the whole curve."""
    db = workdir / "stored" / "triaged.db"
    server = start_daemon("stored", f"{{path: {json.dumps(str(db))}}}", workdir, pin)
    rows = []
    stored = 0
    try:
        for size in sizes:
            started, accepted, errors = time.monotonic(), 0, 0
            # Chunks of at most PRELOAD_CHUNK, each drained before the next: the intake
            # (max_backlog 200,000) never fills, so nothing is refused and the count is exact.
            while stored + accepted < size:
                count = min(PRELOAD_CHUNK, size - stored - accepted)
                before = processed([server])
                bodies = preload_bodies(stored + accepted, count)
                res = post([server.base + WEBHOOK_PATH], bodies, workdir, pin, conc=4)
                accepted += res["accepted_alerts"]
                errors += sum(res["errors"].values())
                if drain([server], before + res["accepted_alerts"]) is None or res["errors"]:
                    break
            done = time.monotonic()
            stored += accepted
            if stored < size:
                rows.append(
                    {"stored": stored, "failed": f"preload stopped: {errors} refused webhooks or no drain"}
                )
                break
            row: dict[str, Any] = {
                "stored": size,
                "preload_alerts_per_s": round(accepted / (done - started)),
                "preload_errors": errors,
            }
            row |= measure([server], workdir, pin, seed=size)
            row["rss_mib"] = rss_mib(server)
            row["db_mib"] = round(sum(p.stat().st_size for p in db.parent.iterdir()) / 2**20, 1)
            print(f"  stored {size}: {row}", flush=True)
            rows.append(row)
    finally:
        server.stop()
    return rows


def replica_curve(counts: list[int], workdir: Path, pin: bool) -> list[dict[str, Any]]:
    """1, 2, 4 replicas on one fresh Redis prefix each."""
    bench_redis = RedisForBench(workdir, pin)
    rows = []
    try:
        for n in counts:
            store = f"{{kind: redis, url: {json.dumps(bench_redis.url)}, prefix: scale-r{n}}}"
            servers = [start_daemon(f"r{n}-{i}", store, workdir, pin) for i in range(n)]
            try:
                # A first probe warms every replica's caches (fingerprints, groupings, model
                # answers: each replica has its own); the second is the steady state.
                cold = measure(servers, workdir, pin, seed=n + 1000)
                calls0 = bench_redis.commands()
                row: dict[str, Any] = {"replicas": n, "cold_cpu_ms_per_alert": cold["cpu_ms_per_alert"]}
                row |= measure(servers, workdir, pin, seed=n)
                row["redis_cmds_per_alert"] = round(
                    (bench_redis.commands() - calls0) / max(row["probe_alerts"], 1), 2
                )
                row["rss_mib_each"] = [rss_mib(s) for s in servers]
            finally:
                for s in servers:
                    s.stop()
            print(f"  replicas {n}: {row}", flush=True)
            rows.append(row)
    finally:
        bench_redis.stop()
    return rows


def main(argv: list[str]) -> int:
    """Both curves, printed and saved as JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000,100000", help="stored-alert checkpoints (ascending)")
    p.add_argument("--replicas", default="1,2,4", help="replica counts on Redis ('' to skip)")
    args = p.parse_args(argv)
    try:
        sizes = sorted(int(s) for s in args.sizes.split(",") if s)
        counts = [int(s) for s in args.replicas.split(",") if s]
    except ValueError:
        p.error("--sizes and --replicas take comma-separated integers")
    if any(s < 1 for s in sizes + counts):
        p.error("--sizes and --replicas must be positive")
    pin = hasattr(os, "sched_setaffinity") and {SERVER_CORE, LOAD_CORE} <= os.sched_getaffinity(0)
    if pin:
        os.sched_setaffinity(0, {LOAD_CORE})
    started = datetime.now(UTC)
    report: dict[str, Any] = {"started": started.isoformat(timespec="seconds"), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="triaged-scaling-") as tmp:
        workdir = Path(tmp)
        print("stored alerts (SQLite, one daemon, defaults):", flush=True)
        report["stored"] = stored_curve(sizes, workdir, pin)
        if counts:
            print("replicas (Redis, one prefix):", flush=True)
            report["replicas"] = replica_curve(counts, workdir, pin)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"scaling-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"results: {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
