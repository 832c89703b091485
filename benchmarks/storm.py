"""Storm benchmark: 100,000 alerts in 60 s from 5,000 distinct sources against a real ``triaged serve``.

Run: ``.venv/bin/python benchmarks/storm.py [--store sqlite|redis|both] [--quick]``
(see benchmarks/README.md, "Storm benchmark", for every figure).

The load is shaped like Alertmanager in an outage: 48 groups (``alertname, cluster``);
the 5,000 sources start firing over the first half of the storm; every flush of a
group re-sends the whole group (so most alerts are repeats), and a tenth of the
sources resolve in the last quarter (sent once as resolved, then dropped, as
Alertmanager does). A webhook the daemon refuses (503/429) is retried after its
``Retry-After``, as Alertmanager retries, so "nothing lost" is checked end to end.

Each configuration is a fresh daemon process pinned to core 0; the load generator and
an API prober (``GET /api/v1/incidents?limit=10`` every 100 ms, then the view of the
largest incident listed) run in a separate process on core 1. Two correlation
configurations are run per store:

* ``grouping``: storm detection and topology off, so the expected incidents are known
  exactly: one per group, holding exactly that group's fingerprints;
* ``defaults``: the shipped correlation defaults (storm detection and topology on): the
  storm collapses groups into storm incidents, so the check is that every fingerprint
  is in exactly one incident that was not merged away, and the incident count is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (  # benchmarks/ is not a package: the scripts share one directory
    CLUSTERS,
    HEADERS,
    HOST,
    LOAD_CORE,
    RULES,
    SERVER_CORE,
    WEBHOOK_PATH,
    AlertmanagerSim,
    Group,
    RedisForBench,
    Server,
    free_port,
    go_json,
    http_get,
    metric_sum,
    parse_metrics,
    percentile,
    rfc3339_nano,
    wait_drained,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_DIR = HERE / "results"
PROBE_PATH = "/api/v1/incidents?limit=10"
PROBE_EVERY = 0.1
RESOLVE_SHARE = 0.1
GROUPING_ONLY = "correlation: {storm: {enabled: false}, topology: {enabled: false}}"


# -- the storm's webhooks ------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    """One body to send at ``at`` seconds after the storm starts."""

    at: float
    alerts: int
    body: bytes


@dataclass
class StormPlan:
    """Every webhook of the storm, in send order, and what the daemon must end up with."""

    webhooks: list[Webhook]
    groups: dict[str, set[str]]  # group (alertname/cluster) -> its fingerprints
    alerts: int = 0
    resolves: int = 0


def plan_storm(total: int, seconds: float, sources: int, seed: int) -> StormPlan:
    """Flush schedule of an Alertmanager under a storm, sized so the bodies hold ``total`` alerts.

    Each group flushes every ``interval`` s (its phase random); a flush carries every
    alert of the group that has started and not yet been dropped after resolving. The
    interval is chosen (bisection) so the sum of alerts reaches ``total``; the last
    body is cut to land on it exactly (a re-send of a subset of a group).
    """
    low, high = 0.05, seconds
    for _ in range(40):
        mid = (low + high) / 2
        if _build(total, seconds, sources, seed, mid, dry=True).alerts >= total:
            low = mid
        else:
            high = mid
    return _build(total, seconds, sources, seed, low, dry=False)


def _build(total: int, seconds: float, sources: int, seed: int, interval: float, dry: bool) -> StormPlan:
    rng = random.Random(seed)
    sim = AlertmanagerSim(1, seed)
    groups = [Group(rule, cluster) for rule in RULES for cluster in CLUSTERS]
    per_group = [sources // len(groups) + (i < sources % len(groups)) for i in range(len(groups))]
    # Source start times over the first half, resolve times (a tenth) over the last quarter.
    starts = [sorted(rng.uniform(0, seconds / 2) for _ in range(n)) for n in per_group]
    ends = [
        [rng.uniform(0.75 * seconds, seconds) if rng.random() < RESOLVE_SHARE else math.inf for _ in range(n)]
        for n in per_group
    ]
    flushes = sorted(
        (phase + k * interval, g)
        for g, phase in enumerate(rng.uniform(0, interval) for _ in groups)
        for k in range(int((seconds - phase) // interval) + 1)
    )
    plan = StormPlan([], {})
    made: list[list[dict[str, Any]]] = [[] for _ in groups]  # alerts of each group, built lazily
    gone: list[set[int]] = [set() for _ in groups]  # resolved alerts already sent once
    base_ns = (time.time_ns() // 1_000_000_000 - 120) * 1_000_000_000
    for at, g in flushes:
        if plan.alerts >= total:
            break
        group = groups[g]
        live = [i for i, s in enumerate(starts[g]) if s <= at and i not in gone[g]]
        if not live:
            continue
        live = live[: total - plan.alerts]
        plan.alerts += len(live)
        resolved = {i for i in live if ends[g][i] <= at}
        gone[g] |= resolved
        plan.resolves += len(resolved)
        if dry:
            continue
        while len(made[g]) < len(starts[g]):
            sim.clock_ns = base_ns + int(starts[g][len(made[g])] * 1e9)
            made[g].append(sim._new_alert(group))
        alerts = [
            made[g][i] | {"status": "resolved", "endsAt": rfc3339_nano(base_ns + int(ends[g][i] * 1e9))}
            if i in resolved
            else made[g][i]
            for i in live
        ]
        alerts.sort(key=lambda a: a["labels"]["instance"])
        body = AlertmanagerSim._envelope(group, alerts)
        body["status"] = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
        plan.webhooks.append(Webhook(at, len(alerts), go_json(body)))
        key = f"{group.rule.alertname}/{group.cluster}"
        plan.groups.setdefault(key, set()).update(a["fingerprint"] for a in alerts)
    return plan


# -- the load process ----------------------------------------------------------------------


@dataclass
class LoadResult:
    """What the load process saw."""

    webhooks: int = 0
    accepted_alerts: int = 0
    retries: int = 0
    refused_by_status: dict[str, int] = field(default_factory=dict)
    failed_webhooks: int = 0
    error_samples: list[str] = field(default_factory=list)
    webhook_ms: list[float] = field(default_factory=list)
    late_ms: list[float] = field(default_factory=list)  # how far behind schedule a send started
    probe_ms: list[float] = field(default_factory=list)
    probe_errors: int = 0
    view_ms: list[float] = field(default_factory=list)  # the largest incident's view
    view_alerts: int = 0  # that incident's alerts at the last view
    first_send: float = 0.0
    last_done: float = 0.0


async def _send(session: aiohttp.ClientSession, url: str, hook: Webhook, t0: float, res: LoadResult) -> None:
    """Send at its time; on 503/429 wait ``Retry-After`` and re-send, as Alertmanager does (10 tries)."""
    await asyncio.sleep(max(0.0, t0 + hook.at - time.monotonic()))
    res.late_ms.append((time.monotonic() - t0 - hook.at) * 1000.0)
    for attempt in range(10):
        started = time.perf_counter()
        retry_after = 1.0
        try:
            async with session.post(url, data=hook.body, headers=HEADERS) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = float(resp.headers.get("Retry-After", "1") or 1)
        except (aiohttp.ClientError, TimeoutError) as err:
            status, raw = 0, f"{type(err).__name__}: {err}".encode()
        if attempt == 0:
            res.webhook_ms.append((time.perf_counter() - started) * 1000.0)
        if status == 202:
            res.accepted_alerts += orjson.loads(raw)["accepted"]
            return
        kind = str(status or "connection")
        res.refused_by_status[kind] = res.refused_by_status.get(kind, 0) + 1
        if len(res.error_samples) < 5:
            res.error_samples.append(f"{status}: {raw[:200].decode(errors='replace')}")
        if status not in (0, 429, 503):
            break
        res.retries += 1
        await asyncio.sleep(min(retry_after, 5.0))
    res.failed_webhooks += 1


async def _probe(session: aiohttp.ClientSession, url: str, stop: asyncio.Event, res: LoadResult) -> None:
    """The API as an SRE's dashboard sees it during the storm: every 100 ms one small listing,
    then the view of the largest incident listed (a storm incident's, once there is one)."""
    base = url.split("/api/", 1)[0]
    while not stop.is_set():
        started = time.perf_counter()
        listed: list[dict[str, Any]] = []
        try:
            async with session.get(url) as resp:
                raw = await resp.read()
                ok = resp.status == 200
            if ok:
                listed = json.loads(raw)["incidents"]
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        res.probe_ms.append((time.perf_counter() - started) * 1000.0)
        res.probe_errors += not ok
        if listed:
            largest = max(listed, key=lambda i: i["alert_count"])
            started = time.perf_counter()
            try:
                async with session.get(f"{base}/api/v1/incidents/{largest['id']}") as resp:
                    raw = await resp.read()
                    ok = resp.status == 200
                if ok:
                    res.view_alerts = json.loads(raw)["alerts_total"]
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            res.view_ms.append((time.perf_counter() - started) * 1000.0)
            res.probe_errors += not ok
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PROBE_EVERY)


async def _storm(base: str, webhooks: list[Webhook]) -> LoadResult:
    res = LoadResult(webhooks=len(webhooks))
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64), timeout=timeout) as session,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=timeout) as prober,
    ):
        stop = asyncio.Event()
        probe = asyncio.create_task(_probe(prober, base + PROBE_PATH, stop, res))
        res.first_send = t0 = time.monotonic()
        await asyncio.gather(*(_send(session, base + WEBHOOK_PATH, h, t0, res) for h in webhooks))
        res.last_done = time.monotonic()
        stop.set()
        await probe
    return res


def load_main(conn: multiprocessing.connection.Connection, base: str, path: str, pin: bool) -> None:
    """Entry point of the load process (its own interpreter and core)."""
    if pin:
        os.sched_setaffinity(0, {LOAD_CORE})
    hooks = [Webhook(d["at"], d["alerts"], d["body"].encode()) for d in orjson.loads(Path(path).read_bytes())]
    try:
        conn.send(("done", asdict(uvloop.run(_storm(base, hooks)))))
    except Exception as err:  # reported by the orchestrator, with the server's stderr
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


# -- one run ---------------------------------------------------------------------------------


class RssSampler(threading.Thread):
    """VmRSS of the daemon every 0.25 s (the peak is also read from VmHWM at the end)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stopped = pid, threading.Event()
        self.samples: list[tuple[float, float]] = []  # (time.monotonic(), MiB)

    def run(self) -> None:
        while not self.stopped.wait(0.25):
            with contextlib.suppress(OSError, ValueError, IndexError):
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.samples.append((time.monotonic(), int(line.split()[1]) / 1024))


def verify(server: Server, plan: StormPlan) -> dict[str, Any]:
    """Every fingerprint in exactly one live incident; with grouping only, incidents == groups exactly."""
    status, raw = http_get(server.base + "/api/v1/incidents?limit=1000", timeout=30.0)
    listed = orjson.loads(raw)["incidents"] if status == 200 else []
    live: dict[str, set[str]] = {}
    merged = storms = 0
    for inc in listed:
        code, body = http_get(f"{server.base}/api/v1/incidents/{inc['id']}", timeout=30.0)
        if code != 200:
            continue
        detail = orjson.loads(body)
        if (detail.get("correlation") or {}).get("merged_into"):
            merged += 1
            continue
        storms += bool((detail.get("correlation") or {}).get("storm"))
        live[detail["id"]] = set(detail["fingerprints"])
    seen: dict[str, int] = {}
    for fps in live.values():
        for fp in fps:
            seen[fp] = seen.get(fp, 0) + 1
    expected = set().union(*plan.groups.values())
    group_sets = {frozenset(v) for v in plan.groups.values()}
    return {
        "incidents_listed": len(listed),
        "incidents_live": len(live),
        "incidents_merged_away": merged,
        "storm_incidents": storms,
        "fingerprints_expected": len(expected),
        "fingerprints_missing": len(expected - seen.keys()),
        "fingerprints_in_several_incidents": sum(1 for n in seen.values() if n > 1),
        "fingerprints_unexpected": len(seen.keys() - expected),
        "groups_expected": len(plan.groups),
        "incidents_equal_to_a_group": sum(1 for fps in live.values() if frozenset(fps) in group_sets),
    }


def run_one(
    name: str, config: str, plan_path: Path, plan: StormPlan, workdir: Path, pin: bool
) -> dict[str, Any]:
    """Start a fresh daemon, run the storm against it, drain, verify, stop."""
    port = free_port()
    cfg = workdir / f"{name}.yaml"
    cfg.write_text(config)
    triaged = Path(sys.executable).with_name("triaged")
    server = Server(
        name, [str(triaged), "serve", "--config", str(cfg), "--listen", f"{HOST}:{port}"], port, workdir, pin
    )
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    loader = ctx.Process(target=load_main, args=(child, server.base, str(plan_path), pin), name="storm-load")
    row: dict[str, Any] = {"target": name}
    try:
        server.start()
        sampler = RssSampler(server.pid)
        sampler.start()
        base = parse_metrics(http_get(server.base + "/metrics")[1].decode())
        cpu0 = server.cpu_seconds()
        loader.start()
        child.close()
        ready = multiprocessing.connection.wait([parent, loader.sentinel], 600)
        if parent not in ready:
            raise RuntimeError("load generator died or hung")
        kind, payload = parent.recv()
        if kind == "error":
            raise RuntimeError(payload)
        res = LoadResult(**payload)
        load_end_metrics = parse_metrics(http_get(server.base + "/metrics")[1].decode())
        expected = int(metric_sum(base, "triaged_alerts_processed_total")) + res.accepted_alerts
        drain = wait_drained(server, expected, 0.1, 600.0)
        cpu1 = server.cpu_seconds()
        sampler.stopped.set()
        row |= summarize(res, plan, drain.at, drain.metrics, base, load_end_metrics)
        row["server_cpu_s"] = round(cpu1 - cpu0, 1)
        row["peak_rss_mib"] = server.peak_rss_mib()
        row["rss_at_load_end_mib"] = next(
            (round(v, 1) for t, v in reversed(sampler.samples) if t <= res.last_done), None
        )
        row |= verify(server, plan)
    finally:
        parent.close()
        if loader.pid is not None:
            loader.join(10)
            if loader.is_alive():
                loader.terminate()
        server.stop()
    row["exit_code"] = server.exit_code
    row["stderr_tail"] = server.stderr(2000)
    return row


def summarize(
    res: LoadResult,
    plan: StormPlan,
    drained_at: float | None,
    after: dict[str, float],
    base: dict[str, float],
    at_load_end: dict[str, float],
) -> dict[str, Any]:
    """Client-side and pipeline figures of one storm."""
    hook_ms, probe_ms, late = sorted(res.webhook_ms), sorted(res.probe_ms), sorted(res.late_ms)
    outcomes = {
        k.partition('outcome="')[2].partition('"')[0]: int(v - base.get(k, 0))
        for k, v in after.items()
        if k.startswith("triaged_alerts_processed_total{")
    }
    wall = res.last_done - res.first_send
    return {
        "alerts_planned": plan.alerts,
        "webhooks": res.webhooks,
        "accepted_alerts": res.accepted_alerts,
        "lost_alerts": plan.alerts - res.accepted_alerts,
        "failed_webhooks": res.failed_webhooks,
        "retries": res.retries,
        "refused_by_status": res.refused_by_status,
        "error_samples": res.error_samples,
        "load_seconds": round(wall, 1),
        "offered_alerts_per_s": round(plan.alerts / max(wall, 1e-9)),
        "send_late_p99_ms": round(percentile(late, 99), 1),
        "webhook_p50_ms": round(percentile(hook_ms, 50), 1),
        "webhook_p99_ms": round(percentile(hook_ms, 99), 1),
        "api_probes": len(probe_ms),
        "api_probe_errors": res.probe_errors,
        "api_p50_ms": round(percentile(probe_ms, 50), 1),
        "api_p99_ms": round(percentile(probe_ms, 99), 1),
        "api_max_ms": round(probe_ms[-1], 1) if probe_ms else None,
        "view_p99_ms": round(percentile(sorted(res.view_ms), 99), 1),
        "view_max_ms": round(max(res.view_ms), 1) if res.view_ms else None,
        "view_alerts": res.view_alerts,
        "backlog_at_load_end": at_load_end.get("triaged_intake_backlog"),
        "drained": drained_at is not None,
        "drain_after_load_s": round(drained_at - res.last_done, 1) if drained_at else None,
        "processed_alerts_per_s": round(res.accepted_alerts / (drained_at - res.first_send))
        if drained_at
        else None,
        "outcomes": {k: v for k, v in sorted(outcomes.items()) if v},
        "pipeline_errors": int(metric_sum(after, "triaged_pipeline_errors_total")),
    }


# -- orchestration ---------------------------------------------------------------------------

COLUMNS = (
    ("accepted", "accepted_alerts"),
    ("lost", "lost_alerts"),
    ("retries", "retries"),
    ("hook p99 ms", "webhook_p99_ms"),
    ("API p50 ms", "api_p50_ms"),
    ("API p99 ms", "api_p99_ms"),
    ("view p99 ms", "view_p99_ms"),
    ("view alerts", "view_alerts"),
    ("backlog@end", "backlog_at_load_end"),
    ("drain s", "drain_after_load_s"),
    ("processed/s", "processed_alerts_per_s"),
    ("peak RSS MiB", "peak_rss_mib"),
    ("incidents", "incidents_live"),
    ("=group", "incidents_equal_to_a_group"),
    ("storm inc", "storm_incidents"),
    ("fp missing", "fingerprints_missing"),
    ("fp in >1", "fingerprints_in_several_incidents"),
)


def problems_of(row: dict[str, Any], grouping_only: bool) -> list[str]:
    """What makes a storm run a failure: loss, wrong incidents, no drain, a crash, stderr output."""
    out = []
    if "failed" in row:
        return [f"{row['target']}: {row['failed']}"]
    if row["lost_alerts"] or row["failed_webhooks"]:
        out.append(f"{row['target']}: {row['lost_alerts']} alerts never accepted")
    if not row["drained"]:
        out.append(f"{row['target']}: backlog not drained")
    if (
        row["fingerprints_missing"]
        or row["fingerprints_in_several_incidents"]
        or row["fingerprints_unexpected"]
    ):
        out.append(f"{row['target']}: fingerprints missing/duplicated/unexpected in incidents")
    if grouping_only and row["incidents_equal_to_a_group"] != row["groups_expected"]:
        out.append(
            f"{row['target']}: {row['incidents_equal_to_a_group']} of {row['groups_expected']} groups exact"
        )
    if row["exit_code"] != 0 or row["stderr_tail"].strip():
        out.append(f"{row['target']}: exit {row['exit_code']}, stderr: {row['stderr_tail'][-500:]}")
    return out


def main(argv: list[str]) -> int:
    """Plan the storm once, run it against each store and configuration, print, save JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alerts", type=int, default=100_000)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--sources", type=int, default=5000)
    p.add_argument("--store", choices=("sqlite", "redis", "both"), default="sqlite")
    p.add_argument("--config", choices=("grouping", "defaults", "both"), default="both")
    p.add_argument("--quick", action="store_true", help="10,000 alerts in 10 s from 1,000 sources")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--extra-config",
        default="",
        metavar="YAML",
        help="top-level YAML sections appended to every daemon's config, e.g. 'pipeline: {batch_size: 200}'",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.alerts, args.seconds, args.sources = 10_000, 10.0, 1000
    if min(args.alerts, args.sources) < 1 or args.seconds <= 0:
        p.error("--alerts, --sources and --seconds must be positive")
    pin = hasattr(os, "sched_setaffinity") and {SERVER_CORE, LOAD_CORE} <= os.sched_getaffinity(0)
    if pin:
        os.sched_setaffinity(0, {LOAD_CORE})
    started = datetime.now(UTC)
    plan = plan_storm(args.alerts, args.seconds, args.sources, args.seed)
    print(
        f"storm: {plan.alerts} alerts in {len(plan.webhooks)} webhooks over {args.seconds:.0f} s, "
        f"{sum(len(v) for v in plan.groups.values())} sources in {len(plan.groups)} groups, "
        f"{plan.resolves} resolved notifications",
        flush=True,
    )
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "args": vars(args),
        "runs": [],
    }
    problems: list[str] = []
    stores = ["sqlite", "redis"] if args.store == "both" else [args.store]
    configs = ["grouping", "defaults"] if args.config == "both" else [args.config]
    with tempfile.TemporaryDirectory(prefix="triaged-storm-") as tmp:
        workdir = Path(tmp)
        plan_path = workdir / "plan.json"
        plan_path.write_bytes(
            orjson.dumps([{"at": h.at, "alerts": h.alerts, "body": h.body.decode()} for h in plan.webhooks])
        )
        bench_redis = RedisForBench(workdir, pin) if "redis" in stores else None
        for store in stores:
            for conf in configs:
                name = f"{store}-{conf}"
                if store == "sqlite":
                    section = f"{{path: {json.dumps(str(workdir / name / 'triaged.db'))}}}"
                else:
                    assert bench_redis is not None
                    section = f"{{kind: redis, url: {json.dumps(bench_redis.url)}, prefix: {name}}}"
                text = f"store: {section}\nlogging: {{level: warning, format: json}}\n"
                text += GROUPING_ONLY + "\n" if conf == "grouping" else ""
                text += args.extra_config + "\n" if args.extra_config else ""
                print(f"  {name} ...", flush=True)
                try:
                    row = run_one(name, text, plan_path, plan, workdir, pin)
                except (RuntimeError, OSError) as err:
                    row = {"target": name, "failed": f"{type(err).__name__}: {err}"}
                report["runs"].append(row)
                problems += problems_of(row, conf == "grouping")
        if bench_redis:
            bench_redis.stop()
    print_rows(report["runs"])
    for problem in problems:
        print(f"PROBLEM {problem}")
    report["problems"] = problems
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"storm-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"results: {out.relative_to(REPO)}")
    return 1 if problems else 0


def print_rows(rows: list[dict[str, Any]]) -> None:
    """One aligned table, one row per run."""
    heads = ("run", *(h for h, _ in COLUMNS))
    cells = [list(heads)] + [
        [r["target"], *(str(r.get(k, "-")) for _, k in COLUMNS)] for r in rows if "failed" not in r
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(heads))]
    print()
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:
        if "outcomes" in r:
            print(f"{r['target']}: outcomes {r['outcomes']}; webhook p50 {r['webhook_p50_ms']} ms")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
