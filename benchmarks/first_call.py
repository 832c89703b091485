"""Time from an alert's webhook to the first call at the tracker, on a local fake tracker.

    .venv/bin/python benchmarks/first_call.py                  # both stores, idle and under load
    .venv/bin/python benchmarks/first_call.py --store sqlite --probes 20 --load-rate 4000

An on-call engineer's page waits on this: ingestion, the pipeline, the outbox and the
connector. Each probe is one firing alert with labels no other alert shares, so it opens
an incident of its own under the shipped defaults; the daemon (`triaged serve`, pinned to
core 0, a generic `webhook` connector) sends it to a fake tracker in this process (core 1)
that notes when the `open` arrives. Probes go one at a time, 0.2-0.6 s apart at random
(so they cannot line up with any poll period of the daemon), first with the daemon idle,
then while a separate load process posts `ingest.py`'s Alertmanager stream (50-alert
webhooks, 70% repeats) open loop at ``--load-rate`` alerts/s.

Figures per store and phase: the probe's webhook answered (202), and its first tracker
call, both from the moment the probe was sent; the baseline in the same run is a POST
from this process to the fake tracker itself (loopback HTTP, the floor of any call),
and the headline ratio is first call p50 / webhook 202 p50.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest import (  # noqa: E402
    HOST,
    LOAD_CORE,
    WEBHOOK_PATH,
    RedisForBench,
    build_bodies,
    free_port,
    http_get,
    load_main,
    percentile,
    triaged_server,
)

PROBE = "FirstCallProbe"


@dataclass
class Tracker:
    """The fake tracker: answers every call at once and notes when each probe's ``open`` came."""

    opened: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    waiters: dict[str, asyncio.Future[float]] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        body = await request.json(loads=orjson.loads)
        self.calls += 1
        alerts = body.get("alerts") or [{}]
        probe = str(alerts[0].get("summary", ""))
        if body.get("action") == "open" and probe.startswith(PROBE) and probe not in self.opened:
            self.opened[probe] = at
            waiter = self.waiters.pop(probe, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(at)
        return web.json_response({"id": f"T-{self.calls}"})

    async def ping(self, _: web.Request) -> web.Response:
        return web.json_response({"ok": True})


def probe_body(n: int, token: str) -> bytes:
    """One firing alert no other alert shares a group, a topology entity or a storm scope with."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
    labels = {
        "alertname": PROBE,
        "cluster": f"probe-{token}-{n}",
        "instance": f"probe-{token}-{n}:9100",
        "job": "probe",
        "service": f"probe-{token}-{n}",
        "severity": "critical",
    }
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{PROBE} {token}-{n}"},
        "startsAt": now,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
    }
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{PROBE}", cluster="{labels["cluster"]}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "triaged",
        "groupLabels": {"alertname": PROBE},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.example",
        "alerts": [alert],
    }
    return orjson.dumps(body)


async def probes(
    base: str, tracker: Tracker, token: str, count: int, tracker_url: str
) -> dict[str, list[float]]:
    """Send ``count`` probes one at a time; returns ack, first-call and baseline latencies (ms)."""
    acks: list[float] = []
    calls: list[float] = []
    floor: list[float] = []
    lost = 0
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for n in range(count):
            await asyncio.sleep(random.uniform(0.2, 0.6))
            summary = f"{PROBE} {token}-{n}"
            waiter: asyncio.Future[float] = loop.create_future()
            tracker.waiters[summary] = waiter
            t0 = time.monotonic()
            async with session.post(base + WEBHOOK_PATH, data=probe_body(n, token)) as resp:
                await resp.read()
                if resp.status != 202:
                    raise RuntimeError(f"probe {n}: webhook answered {resp.status}")
            acks.append((time.monotonic() - t0) * 1000)
            try:
                at = await asyncio.wait_for(waiter, 20.0)
                calls.append((at - t0) * 1000)
            except TimeoutError:
                lost += 1
            t1 = time.monotonic()
            async with session.post(tracker_url + "/ping", data=b"{}") as resp:
                await resp.read()
            floor.append((time.monotonic() - t1) * 1000)
    return {"ack": acks, "call": calls, "floor": floor, "lost": [float(lost)]}


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50": round(percentile(ordered, 50), 2),
        "p90": round(percentile(ordered, 90), 2),
        "p99": round(percentile(ordered, 99), 2),
        "max": round(ordered[-1], 2),
    }


async def run_store(
    store: str, args: argparse.Namespace, workdir: Path, redis_url: str | None
) -> dict[str, Any]:
    tracker = Tracker()
    app = web.Application()
    app.router.add_post("/hook", tracker.handle)
    app.router.add_post("/ping", tracker.ping)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tracker_port = free_port()
    await web.TCPSite(runner, HOST, tracker_port).start()
    tracker_url = f"http://{HOST}:{tracker_port}"
    hook = f"connectors: {{hook: {{kind: webhook, endpoint: {json.dumps(tracker_url + '/hook')}}}}}"
    pin = (os.cpu_count() or 1) >= 2
    server = triaged_server(store, "first-call", workdir, pin, redis_url, hook)
    await asyncio.to_thread(server.start)
    result: dict[str, Any] = {}
    try:
        idle = await probes(server.base, tracker, "idle", args.probes, tracker_url)
        result["idle"] = {k: stats(v) for k, v in idle.items() if k != "lost"} | {
            "lost": int(idle["lost"][0])
        }
        # Under load: a separate process posts the Alertmanager stream open loop.
        bodies = workdir / f"load-{store}.ndjson"
        seconds = args.probes * 0.4 + 15
        count = int(args.load_rate / 50 * seconds) + 1
        build_bodies(50, 0, 1, bodies, seed=7, paced=count)
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        loader = ctx.Process(
            target=load_main,
            args=(child, server.base + WEBHOOK_PATH, str(bodies), 0, 0, 32, 20.0, pin),
        )
        loader.start()
        await asyncio.to_thread(parent.recv)  # warm (nothing sent)
        parent.send("go")
        await asyncio.to_thread(parent.recv)  # done (nothing sent)
        parent.send(("paced", args.load_rate / 50, seconds))
        await asyncio.sleep(3.0)  # the load settles before the first probe
        loaded = await probes(server.base, tracker, "load", args.probes, tracker_url)
        kind, paced = await asyncio.to_thread(parent.recv)
        loader.join(30)
        result["load"] = {k: stats(v) for k, v in loaded.items() if k != "lost"} | {
            "lost": int(loaded["lost"][0]),
            "load_alerts_per_s": round(args.load_rate),
            "load_errors": sum(paced["errors"].values()) if kind == "paced" else "load failed",
        }
        result["tracker_calls"] = tracker.calls
        status, _ = http_get(server.base + "/readyz")
        result["ready_at_end"] = status == 200
    finally:
        await asyncio.to_thread(server.stop)
        await runner.cleanup()
    result["exit_code"] = server.exit_code
    result["stderr"] = server.stderr()[-2000:]
    return result


def print_report(report: dict[str, Any]) -> None:
    cols = (
        "store",
        "phase",
        "probes",
        "lost",
        "202 p50",
        "202 p99",
        "call p50",
        "call p90",
        "call p99",
        "call max",
        "floor p50",
        "call/202",
    )
    print("  ".join(f"{c:>9}" for c in cols))
    for store, res in report["stores"].items():
        for phase in ("idle", "load"):
            r = res[phase]
            ack, call, floor = r["ack"], r["call"], r["floor"]
            ratio = call.get("p50", 0) / ack["p50"] if ack.get("p50") else float("nan")
            row = [
                store,
                phase,
                ack["n"],
                r["lost"],
                ack["p50"],
                ack["p99"],
                call.get("p50"),
                call.get("p90"),
                call.get("p99"),
                call.get("max"),
                floor["p50"],
                f"x{ratio:.1f}",
            ]
            print("  ".join(f"{v!s:>9}" for v in row))
    print(
        "(milliseconds from the probe's send; floor = one loopback POST to the fake tracker;"
        f" load phase at {report['load_rate']:,} alerts/s)"
    )


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=("sqlite", "redis", "both"), default="both")
    parser.add_argument("--probes", type=int, default=30, help="probes per phase (default 30)")
    parser.add_argument("--load-rate", type=float, default=2000.0, help="alerts/s of the load phase")
    args = parser.parse_args(argv)
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {LOAD_CORE})
    random.seed(11)
    stores = ["sqlite", "redis"] if args.store == "both" else [args.store]
    report: dict[str, Any] = {"load_rate": int(args.load_rate), "probes": args.probes, "stores": {}}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="triaged-first-call-") as tmp:
        workdir = Path(tmp)
        redis = RedisForBench(workdir, (os.cpu_count() or 1) >= 2) if "redis" in stores else None
        try:
            for store in stores:
                print(f"  {store}: {args.probes} probes idle, then {args.probes} under load ...", flush=True)
                res = await run_store(store, args, workdir, redis.url if redis else None)
                report["stores"][store] = res
                if res["exit_code"] != 0:
                    problems.append(f"{store}: exit code {res['exit_code']}")
                for phase in ("idle", "load"):
                    if res[phase]["lost"]:
                        problems.append(
                            f"{store} {phase}: {res[phase]['lost']} probes never reached the tracker"
                        )
                if res["load"]["load_errors"]:
                    problems.append(f"{store}: load errors {res['load']['load_errors']}")
        finally:
            if redis is not None:
                redis.stop()
    print_report(report)
    out = HERE / "results" / f"first-call-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    for p in problems:
        print("PROBLEM", p)
    print(f"results: {out.relative_to(HERE.parent)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
