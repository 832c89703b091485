"""Pipeline cost benchmark: what an alert costs the pipeline, part by part, new alerts against repeats.

Run: ``.venv/bin/python benchmarks/pipeline_cost.py [--alerts N] [--shares 0,0.7,0.95] [--runs R]``
(see benchmarks/README.md, "Pipeline cost").

Why: the ingest benchmark gives the end-to-end rate, where the edge, the pipeline, the
store's threads and the machine's noise share one core; it cannot say which part of a
new alert's ~130 us to work on. This one drives the real ``Pipeline`` on a real
``SqliteStore`` (shipped defaults, the default model) in a fresh process per run, pinned
to one core: the bodies of ``ingest.py``'s generator are appended to the intake first,
then only the drain is timed. Each store part and the model call are timed with the CPU
clock of the thread they run on (``time.thread_time``), so the store's writer thread and
the model's worker thread count, and the waits between them do not.

The baseline, measured in the same process on the same alerts: decoding the intake
entries' JSON (``orjson.loads``), the cheapest thing every pipeline must do with an
alert. The ratio (pipeline CPU / JSON decode) moves much less than microseconds do when
the machine is busy or slower.

What it leaves out: the edge (HTTP, checks, the append: ``ingest.py --edge-only``), the
daemon's scheduled GC passes and metric scrapes, and Redis (its costs are in Redis and
in the network, which ``ingest.py --store redis`` measures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import ingest as load  # noqa: E402  (benchmarks/ingest.py: the same generator and bodies)

RESULTS_DIR = HERE / "results"
WARMUP_BODIES = 200
# (label, module, class, method): timed on the thread that runs them. ``_commit`` holds
# ``of`` and ``write``; its own share is reported as what is left of it (the COMMIT).
PARTS = (
    ("decode intake", "daemon.store.sqlite", "SqliteStore", "_decoded"),
    ("load states", "daemon.store.sqlite", "SqliteStore", "_load_alerts"),
    ("load groups, incidents, members", "daemon.store.sqlite", "SqliteStore", "_load_rest"),
    ("encode changes", "daemon.store.sqlite", "_Rows", "of"),
    ("write rows (SQL)", "daemon.store.sqlite", "_Rows", "write"),
    ("commit", "daemon.store.sqlite", "SqliteStore", "_commit"),
    ("model", "daemon.pipeline", "Pipeline", "_predict"),
)


def _timed(spent: dict[str, float], label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.thread_time() - start

    return wrapper


def measure(share: float, bodies_count: int, seed: int) -> dict[str, Any]:
    """One run in this (fresh, pinned) process: append, drain the warm-up, time the drain."""
    import importlib

    import orjson

    from daemon import gc_schedule
    from daemon.config_loader import load_settings
    from daemon.logs import configure_logging
    from daemon.metrics import build_metrics
    from daemon.pipeline import Pipeline
    from daemon.sources import SOURCES
    from daemon.store.codec import encode_notification
    from daemon.store.sqlite import SqliteStore

    spent: dict[str, float] = {}
    for label, module, cls, method in PARTS:
        owner = getattr(importlib.import_module(module), cls)
        if not callable(getattr(owner, method, None)):
            raise SystemExit(f"PROBLEM {module}.{cls}.{method} is gone: update PARTS in {__file__}")
        setattr(owner, method, _timed(spent, label, getattr(owner, method)))
    configure_logging("warning", "json")
    gc_schedule.tune()  # the daemon's collector settings (young collections only)
    parse = SOURCES["alertmanager"]

    async def run(tmp: Path) -> dict[str, Any]:
        path = tmp / "bodies"
        workload = load.build_bodies(50, WARMUP_BODIES, bodies_count, path, seed, repeat_share=share)
        bodies = load.read_bodies(path)
        store = SqliteStore(tmp / "triaged.db")
        await store.open()
        try:
            pipeline = Pipeline(store, load_settings(None), build_metrics())
            for body in bodies[:WARMUP_BODIES]:
                await store.append(parse(orjson.loads(body), time.time()).notification)
            await pipeline.drain(600)
            notifications = [parse(orjson.loads(b), time.time()).notification for b in bodies[WARMUP_BODIES:]]
            for n in notifications:
                await store.append(n)
            alerts = sum(len(n.alerts) for n in notifications)
            spent.clear()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            left = await pipeline.drain(600)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        finally:
            await store.close()
        encoded = [encode_notification(n) for n in notifications]
        decode = min(_seconds(lambda: [orjson.loads(e) for e in encoded]) for _ in range(5))
        us = 1e6 / alerts
        parts = {label: round(spent.get(label, 0.0) * us, 2) for label, *_ in PARTS}
        parts["commit"] = round(parts["commit"] - parts["encode changes"] - parts["write rows (SQL)"], 2)
        return {
            "repeat_share": share,
            "measured_repeat_share": workload["repeat_share"],
            "alerts": alerts,
            "left_in_intake": left,
            "cpu_us": round(cpu * us, 2),
            "wall_us": round(wall * us, 2),
            "parts_us": parts,
            "rest_us": round(cpu * us - sum(parts.values()), 2),
            "json_decode_us": round(decode * us, 3),
            "ratio": round(cpu / decode, 1),
        }

    with tempfile.TemporaryDirectory(prefix="triaged-pipeline-cost-") as tmp:
        return asyncio.run(run(Path(tmp)))


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _child(share: float, bodies: int, seed: int, core: int | None, out: Any) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    out.send(measure(share, bodies, seed))


def run_isolated(share: float, bodies: int, seed: int, core: int | None) -> dict[str, Any]:
    """A fresh process per run: no cache of an earlier run (fingerprints, groupings, the
    model's answers) makes a later one look cheaper."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(share, bodies, seed, core, send))
    proc.start()
    send.close()
    try:
        result: dict[str, Any] = receive.recv()
    except EOFError:
        proc.join()
        raise SystemExit(f"PROBLEM the run at repeat share {share} died (exit {proc.exitcode})") from None
    proc.join()
    return result


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of one repeat share (each figure on its own), with the spread."""

    def med(get: Callable[[dict[str, Any]], float]) -> float:
        return round(statistics.median(get(r) for r in runs), 2)

    return {
        "repeat_share": runs[0]["repeat_share"],
        "alerts": runs[0]["alerts"],
        "cpu_us": med(lambda r: r["cpu_us"]),
        "cpu_us_range": [min(r["cpu_us"] for r in runs), max(r["cpu_us"] for r in runs)],
        "wall_us": med(lambda r: r["wall_us"]),
        "parts_us": {label: med(_part(label)) for label, *_ in PARTS},
        "rest_us": med(lambda r: r["rest_us"]),
        "json_decode_us": med(lambda r: r["json_decode_us"]),
        "ratio": med(lambda r: r["ratio"]),
        "ratio_range": [min(r["ratio"] for r in runs), max(r["ratio"] for r in runs)],
    }


def _part(label: str) -> Callable[[dict[str, Any]], float]:
    return lambda run: float(run["parts_us"][label])


def print_report(rows: list[dict[str, Any]]) -> None:
    labels = [label for label, *_ in PARTS]
    width = max(len(x) for x in [*labels, "the rest (event loop: dedupe, correlation, scoring rules)"])
    header = "".join(f"{'repeats ' + format(r['repeat_share'], '.0%'):>16}" for r in rows)
    print(f"\nus of CPU an alert (median of the runs), SQLite store, one pinned core\n{'':<{width}}{header}")

    def line(name: str, values: list[float]) -> None:
        print(f"{name:<{width}}" + "".join(f"{v:>16.1f}" for v in values))

    line("pipeline, process CPU", [r["cpu_us"] for r in rows])
    for label in labels:
        line(f"  {label}", [r["parts_us"][label] for r in rows])
    line("  the rest (event loop: dedupe, correlation, scoring rules)", [r["rest_us"] for r in rows])
    line("wall clock", [r["wall_us"] for r in rows])
    line("baseline: JSON decode of the same alerts", [r["json_decode_us"] for r in rows])
    ratios = "".join(f"{r['ratio']:>15.1f}x" for r in rows)
    print(f"{'pipeline / JSON decode (the headline)':<{width}}{ratios}")
    print(
        f"{'  its range over the runs':<{width}}"
        + "".join(f"{'{:.0f}-{:.0f}'.format(*r['ratio_range']):>16}" for r in rows)
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=30_000, help="measured alerts per run (50 a body)")
    parser.add_argument("--shares", default="0,0.7,0.95", help="repeat shares, comma-separated, each 0-1")
    parser.add_argument("--runs", type=int, default=3, help="runs per share (fresh process each)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        args.share_list = [float(s) for s in args.shares.split(",")]
    except ValueError:
        parser.error(f"--shares: expected numbers between 0 and 1, got {args.shares!r}")
    if any(not 0 <= s <= 1 for s in args.share_list):
        parser.error(f"--shares: each share must be between 0 and 1, got {args.shares!r}")
    if args.alerts < 50 or args.runs < 1:
        parser.error("--alerts must be at least 50 and --runs at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    core = 0 if (os.cpu_count() or 1) >= 2 else None
    bodies = args.alerts // 50
    started = time.time()
    by_share: dict[float, list[dict[str, Any]]] = {s: [] for s in args.share_list}
    for i in range(args.runs):  # shares alternate, so a busy moment hits each of them
        for share in args.share_list:
            result = run_isolated(share, bodies, args.seed, core)
            by_share[share].append(result)
            print(
                f"run {i + 1}/{args.runs}, repeats {share:.0%}: {result['cpu_us']:.1f} us CPU an alert, "
                f"x{result['ratio']:.0f} JSON decode",
                flush=True,
            )
    rows = [summarize(runs) for runs in by_share.values()]
    print_report(rows)
    problems = [
        f"PROBLEM {r['left_in_intake']} alerts left in the intake at repeat share {r['repeat_share']}"
        for runs in by_share.values()
        for r in runs
        if r["left_in_intake"]
    ]
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"pipeline-cost-{stamp}.json"
    report = {"args": vars(args), "core": core, "machine": load.machine(), "summary": rows, "runs": by_share}
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\ntotal {time.time() - started:.0f} s; results: {out.relative_to(HERE.parent)}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
