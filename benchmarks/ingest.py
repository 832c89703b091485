"""Ingest benchmark: triaged against a no-op aiohttp receiver, same bodies, same load, same machine.

Run: ``.venv/bin/python benchmarks/ingest.py [--requests N] [--concurrency C] [--quick]``
(see benchmarks/README.md for what every figure means).

Absolute figures on a shared or virtual machine move by tens of percent from run to
run, so every run also measures a baseline under the same conditions: a no-op
aiohttp server (``benchmarks/noop_server.py``) that only parses the JSON and answers
202, measured right before triaged with the same bodies and load. The daemon/no-op
ratios are the headline: a slower or busier machine moves both sides. Each server
gets its own fresh process (and triaged a fresh SQLite file) per batch size, so peak
RSS and the pipeline's work are per run, not cumulative.

Layout on a machine with >= 2 cores: the server under test is pinned to core 0 (its
pipeline and SQLite threads included, as in a one-core deployment); the load
generator (a separate process) and this orchestrator are pinned to core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import orjson
import redis
import uvloop

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_DIR = HERE / "results"
FIXTURES = Path("/work/shared/fixtures/alertmanager")
HOST = "127.0.0.1"
WEBHOOK_PATH = "/api/v1/alerts/alertmanager"
BATCH_SIZES = (1, 50)  # the default; --batches 1,50,500 adds Alertmanager's larger groups
REPEAT_SHARE = 0.7
SERVER_CORE, LOAD_CORE = 0, 1
# --floor's receivers (benchmarks/noop_server.py --append), by name: with triaged's checks or not.
FLOOR_SERVERS = {"floor-append": False, "floor-checked": True}
# Alertmanager 0.25's request headers (see the fixtures' *.headers.txt), minus auth.
HEADERS = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"}
# A direct opener: proxy variables in the environment must never route loopback traffic.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Profile:
    """How much work one invocation does; ``--quick`` and the default differ only here."""

    requests: dict[int, int]  # measured requests per run, by batch size
    warmup: int  # requests sent (and drained) before measuring, per run
    max_load_seconds: float  # the load phase stops issuing requests after this long
    max_drain_seconds: float  # give up waiting for the pipeline after this long
    paced_seconds: float = 10.0  # the phase at half the sustained maximum (triaged only)


# Sized from measured rates on a 2-core VM (about 45 s for a default run, 5 s with
# --quick, server starts and pipeline drains included); the time caps bound a slow machine.
# Batch 50 stays at 150000 alerts per run, under triaged's default intake.max_backlog
# (200000), so a lagging pipeline cannot turn the run into a test of load shedding.
DEFAULT_PROFILE = Profile(
    requests={1: 40000, 50: 3000, 500: 300},
    warmup=200,
    max_load_seconds=20.0,
    max_drain_seconds=60.0,
    paced_seconds=20.0,
)
QUICK_PROFILE = Profile(
    requests={1: 3000, 50: 300, 500: 30},
    warmup=50,
    max_load_seconds=2.5,
    max_drain_seconds=4.0,
    paced_seconds=2.0,
)
# Fresh bodies for the paced phase, per batch size: enough for half of a fast machine's
# sustained rate (batch 1: 5,000 alerts/s; batch 50: 40,000 alerts/s) for paced_seconds.
PACED_ALERTS_PER_S = {1: 5000, 50: 40000, 500: 40000}
# The no-op server's paced phase: about half of triaged's sustained maximum on a slow
# 2-core machine. At such rates the no-op's latency is the harness's own (load generator,
# loopback, scheduling): the floor under triaged's paced p99.
NOOP_PACED_ALERTS_PER_S = {1: 500, 50: 2000, 500: 2000}


# -- realistic Alertmanager webhook bodies -----------------------------------------------


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule; with a cluster it makes one Alertmanager group (group_by alertname, cluster)."""

    alertname: str
    job: str
    service: str
    namespace: str
    team: str
    severity: str
    summary: str  # formatted with service and instance
    description: str  # formatted with value
    expr: str
    port: int


RULES = (
    AlertRule(
        "HighErrorRate", "api", "checkout", "shop", "platform", "critical",
        "High 5xx rate on {service} ({instance})",
        "5xx ratio is {value:.1f}% over the last 5m (threshold 5%).",
        'sum by(instance)(rate(http_requests_total{code=~"5.."}[5m])) > 0.05', 8080,
    ),
    AlertRule(
        "HighLatencyP99", "api", "search", "shop", "platform", "warning",
        "p99 latency above 1s on {service} ({instance})",
        "p99 latency is {value:.0f}ms over the last 10m (threshold 1000ms).",
        "histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[10m])) > 1", 8080,
    ),
    AlertRule(
        "PodCrashLooping", "kube-state-metrics", "payments", "payments", "platform", "warning",
        "Pod {instance} of {service} is crash looping",
        "Pod restarted {value:.0f} times in the last 15m.",
        "increase(kube_pod_container_status_restarts_total[15m]) > 3", 8443,
    ),
    AlertRule(
        "NodeFilesystemAlmostFull", "node", "node-exporter", "monitoring", "storage", "critical",
        "Filesystem on {instance} is almost full",
        "Only {value:.1f}% of /var/lib is free.",
        'node_filesystem_avail_bytes{mountpoint="/var/lib"} / node_filesystem_size_bytes < 0.05', 9100,
    ),
    AlertRule(
        "DiskWillFillIn4Hours", "node", "node-exporter", "monitoring", "storage", "warning",
        "Disk on {instance} will fill within 4 hours",
        "Linear prediction says the disk is full in {value:.0f} minutes.",
        "predict_linear(node_filesystem_free_bytes[6h], 4*3600) < 0", 9100,
    ),
    AlertRule(
        "PostgresReplicationLag", "postgres", "orders-db", "orders", "storage", "warning",
        "Replica {instance} of {service} is lagging",
        "Replication lag is {value:.0f}s (threshold 30s).",
        "pg_replication_lag_seconds > 30", 9187,
    ),
    AlertRule(
        "RedisDown", "redis", "sessions-cache", "sessions", "storage", "critical",
        "Redis {instance} of {service} is down",
        "Redis has not answered the exporter for {value:.0f}s.",
        "redis_up == 0", 9121,
    ),
    AlertRule(
        "KafkaConsumerLag", "kafka", "events", "streaming", "batch", "warning",
        "Consumer lag on {service} ({instance})",
        "Consumer group is {value:.0f} messages behind.",
        "sum by(instance)(kafka_consumergroup_lag) > 10000", 9308,
    ),
    AlertRule(
        "HTTP5xxBurst", "nginx", "ingress", "web", "web", "critical",
        "Burst of 5xx on {service} ({instance})",
        "{value:.0f} 5xx answers in the last minute.",
        'sum by(instance)(increase(nginx_http_requests_total{status=~"5.."}[1m])) > 100', 9113,
    ),
    AlertRule(
        "CertificateExpiringSoon", "blackbox", "ingress", "web", "web", "warning",
        "TLS certificate of {instance} expires soon",
        "The certificate expires in {value:.0f} hours.",
        "(probe_ssl_earliest_cert_expiry - time()) / 3600 < 72", 9115,
    ),
    AlertRule(
        "PacketLossHigh", "snmp", "core-switch", "network", "network", "warning",
        "Packet loss on {instance}",
        "{value:.1f}% of packets lost over 5m.",
        "rate(ifInDiscards[5m]) / rate(ifInUcastPkts[5m]) > 0.01", 161,
    ),
    AlertRule(
        "TargetDown", "prometheus", "scrape", "monitoring", "oncall", "warning",
        "Target {instance} is down",
        "{value:.0f}% of the targets of this job are down.",
        "100 * (1 - avg by(job)(up)) > 10", 9090,
    ),
)  # fmt: skip
CLUSTERS = ("prod-eu", "prod-us", "prod-ap", "staging-eu")
EXTERNAL_URL = "http://alertmanager.example.com:9093"
ZERO_TIME = "0001-01-01T00:00:00Z"


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint (FNV-1a 64 over sorted labels), so repeats carry the real identity."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def rfc3339_nano(ns: int) -> str:
    """Go's RFC3339Nano as Alertmanager writes startsAt: UTC, nanoseconds, trailing zeros trimmed."""
    base = datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def go_json(value: object) -> bytes:
    """Encode like Go's json.Encoder (Alertmanager): compact, HTML characters escaped, trailing newline."""
    raw = orjson.dumps(value)
    return raw.replace(b"&", b"\\u0026").replace(b"<", b"\\u003c").replace(b">", b"\\u003e") + b"\n"


@dataclass
class Group:
    """One Alertmanager aggregation group and the alerts it has already notified (sent verbatim again)."""

    rule: AlertRule
    cluster: str
    sent: list[dict[str, Any]] = field(default_factory=list)
    next_instance: int = 1

    @property
    def key(self) -> str:
        """groupKey as Alertmanager builds it for a route matching on team, grouped by alertname, cluster."""
        route = f'{{}}/{{team="{self.rule.team}"}}'
        return f'{route}:{{alertname="{self.rule.alertname}", cluster="{self.cluster}"}}'


class AlertmanagerSim:
    """Emits webhook bodies the way Alertmanager does: whole groups, most alerts already sent before.

    A webhook carries ``batch`` alerts of one group. Alertmanager re-sends the full state
    of a group on every update and every repeat_interval, so about ``repeat_share`` of the
    alerts are byte-identical copies of alerts it sent earlier (same fingerprint,
    startsAt, annotations); the rest are new instances joining the group. The share is
    held on target across the whole stream (a group seen for the first time cannot repeat
    anything, later visits make up for it).
    """

    def __init__(self, batch: int, seed: int, repeat_share: float = REPEAT_SHARE) -> None:
        self.batch = batch
        self.repeat_share = repeat_share
        self.rng = random.Random(seed)
        self.groups = [Group(rule, cluster) for rule in RULES for cluster in CLUSTERS]
        self.clock_ns = (time.time_ns() // 1_000_000_000 - 3600) * 1_000_000_000
        self.total = 0
        self.repeats = 0

    def _new_alert(self, group: Group) -> dict[str, Any]:
        """A new instance joins the group: labels and annotations shaped like firing_grouped.json."""
        rule, n = group.rule, group.next_instance
        group.next_instance += 1
        instance = f"{rule.service}-{n}:{rule.port}"
        labels = {
            "alertname": rule.alertname,
            "cluster": group.cluster,
            "instance": instance,
            "job": rule.job,
            "namespace": rule.namespace,
            "service": rule.service,
            "severity": rule.severity,
            "team": rule.team,
        }
        value = self.rng.uniform(1.0, 99.0)
        return {
            "status": "firing",
            "labels": labels,
            "annotations": {
                "description": rule.description.format(value=value),
                "runbook_url": f"https://runbooks.example.com/{rule.alertname}",
                "summary": rule.summary.format(service=rule.service, instance=instance),
            },
            "startsAt": rfc3339_nano(self.clock_ns + self.rng.randrange(1_000_000_000)),
            "endsAt": ZERO_TIME,
            "generatorURL": f"http://prometheus.example.com:9090/graph?g0.expr={quote_plus(rule.expr)}&g0.tab=1",
            "fingerprint": fingerprint(labels),
        }

    def webhook(self) -> bytes:
        """The next webhook body, exactly as bytes on the wire."""
        self.clock_ns += self.rng.randrange(1_000_000, 50_000_000)  # Alertmanager's flushes are spread out
        group = self.rng.choice(self.groups)
        wanted = round(self.repeat_share * (self.total + self.batch)) - self.repeats
        n_repeat = max(0, min(wanted, self.batch, len(group.sent)))
        alerts = self.rng.sample(group.sent, n_repeat)
        fresh = [self._new_alert(group) for _ in range(self.batch - n_repeat)]
        group.sent.extend(fresh)
        alerts.extend(fresh)
        alerts.sort(key=lambda a: (a["labels"]["job"], a["labels"]["instance"]))  # Alertmanager's order
        self.total += len(alerts)
        self.repeats += n_repeat
        return go_json(self._envelope(group, alerts))

    @staticmethod
    def _envelope(group: Group, alerts: list[dict[str, Any]]) -> dict[str, Any]:
        """The webhook around the alerts, keys in Alertmanager's order; common* computed like it does."""
        common = {
            k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)
        }
        common_ann = {
            k: v
            for k, v in alerts[0]["annotations"].items()
            if all(a["annotations"].get(k) == v for a in alerts)
        }
        return {
            "receiver": "triaged",
            "status": "firing",
            "alerts": alerts,
            "groupLabels": {"alertname": group.rule.alertname, "cluster": group.cluster},
            "commonLabels": common,
            "commonAnnotations": common_ann,
            "externalURL": EXTERNAL_URL,
            "version": "4",
            "groupKey": group.key,
            "truncatedAlerts": 0,
        }


def check_against_fixture(sim_body: bytes) -> None:
    """Fail fast if the generated shape drifts from what a real Alertmanager sent (firing_grouped.json)."""
    path = FIXTURES / "firing_grouped.json"
    if not path.exists():
        print(f"note: {path} not found; generated payloads not checked against a real capture")
        return
    real = json.loads(path.read_text())
    ours = orjson.loads(sim_body)
    problems = []
    if list(real) != list(ours):
        problems.append(f"top-level keys {list(ours)} != Alertmanager's {list(real)}")
    if list(real["alerts"][0]) != list(ours["alerts"][0]):
        problems.append(f"alert keys {list(ours['alerts'][0])} != Alertmanager's {list(real['alerts'][0])}")
    problems += [
        f"fingerprint of {a['labels']}"
        for a in real["alerts"]
        if fingerprint(a["labels"]) != a["fingerprint"]
    ]
    if problems:
        raise SystemExit("generated payloads do not match the real capture: " + "; ".join(problems))


def build_bodies(
    batch: int,
    warmup: int,
    count: int,
    path: Path,
    seed: int,
    paced: int = 0,
    repeat_share: float = REPEAT_SHARE,
) -> dict[str, Any]:
    """Write warm-up then measured bodies (one per line) once; both servers get exactly these bytes.

    The repeat share is balanced and reported over the measured bodies only: the
    warm-up is where every group is seen for the first time, so it is mostly new alerts.
    """
    sim = AlertmanagerSim(batch, seed, repeat_share)
    sizes = []
    with path.open("wb") as out:
        for i in range(warmup + count):
            if i == warmup:
                sim.total = sim.repeats = 0
            body = sim.webhook()
            sizes.append(len(body))
            out.write(body)
        # The paced phase continues the same stream: new instances keep joining the groups.
        total, repeats = sim.total, sim.repeats
        for _ in range(paced):
            out.write(sim.webhook())
        sim.total, sim.repeats = total, repeats
    check_against_fixture(path.open("rb").readline())
    return {
        "warmup_bodies": warmup,
        "bodies": count,
        "paced_bodies": paced,
        "alerts": sim.total,
        "repeat_share": round(sim.repeats / max(sim.total, 1), 3),
        "unique_fingerprints": sim.total - sim.repeats,
        "mean_body_bytes": round(sum(sizes) / len(sizes)),
    }


def read_bodies(path: Path) -> list[bytes]:
    """The bodies written by build_bodies (compact JSON never contains a raw newline)."""
    return [line + b"\n" for line in path.read_bytes().split(b"\n") if line]


# -- the load generator (its own process, pinned to the load core) -----------------------


@dataclass
class PhaseResult:
    """What one load phase saw from the client side."""

    requests: int = 0
    accepted_alerts: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # by HTTP status, or 'connection'
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    first_send: float = 0.0  # time.monotonic(), system-wide on Linux, so comparable across processes
    last_done: float = 0.0
    cpu_seconds: float = 0.0
    capped: bool = False


async def _post_once(
    session: aiohttp.ClientSession, url: str, body: bytes, result: PhaseResult, since: float
) -> None:
    """Post one body and record its answer; latency counts from ``since`` (``time.monotonic``)."""
    try:
        async with session.post(url, data=body, headers=HEADERS) as resp:
            raw = await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError) as err:
        status, raw = 0, f"{type(err).__name__}: {err}".encode()
    result.latencies_ms.append((time.monotonic() - since) * 1000.0)
    result.requests += 1
    if status == 202:
        result.accepted_alerts += orjson.loads(raw)["accepted"]
    else:
        kind = str(status or "connection")
        result.errors[kind] = result.errors.get(kind, 0) + 1
        if len(result.error_samples) < 5:
            result.error_samples.append(f"{status}: {raw[:300].decode(errors='replace')}")


async def _post_all(
    session: aiohttp.ClientSession, url: str, bodies: list[bytes], concurrency: int, max_seconds: float
) -> PhaseResult:
    """Post every body once with ``concurrency`` requests in flight; stop issuing at ``max_seconds``."""
    result = PhaseResult()
    order: Iterator[int] = iter(range(len(bodies)))
    cpu0 = time.process_time()
    result.first_send = time.monotonic()
    deadline = result.first_send + max_seconds

    async def worker() -> None:
        """One connection's worth of sequential requests; the shared iterator hands out bodies."""
        for i in order:
            if time.monotonic() > deadline:
                result.capped = True
                return
            await _post_once(session, url, bodies[i], result, time.monotonic())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.last_done = time.monotonic()
    result.cpu_seconds = time.process_time() - cpu0
    return result


async def _post_paced(
    session: aiohttp.ClientSession, url: str, bodies: list[bytes], per_second: float, seconds: float
) -> PhaseResult:
    """Open loop: body i is due at start + i / per_second, whether or not earlier ones were answered.

    Latency counts from the due time, not the send time, so a server that falls behind
    shows it (no coordinated omission). Stops scheduling after ``seconds``.
    """
    result = PhaseResult()
    cpu0 = time.process_time()
    start = result.first_send = time.monotonic() + 0.05
    count = min(len(bodies), int(per_second * seconds))
    result.capped = count < int(per_second * seconds)

    # Each request becomes a task only when it falls due. Creating them all up front (one
    # sleeping task per body) cost the load process ~10 us a task before the first send:
    # at one alert per webhook, 34,000 tasks made the first 0.3 s of requests late by up
    # to 0.3 s, which alone set the p99 (225 ms at batch 1, while the server's own answer
    # took under 20 ms).
    in_flight: set[asyncio.Task[None]] = set()
    for i in range(count):
        due = start + i / per_second
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_post_once(session, url, bodies[i], result, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    result.last_done = time.monotonic()
    result.cpu_seconds = time.process_time() - cpu0
    return result


async def _load(
    conn: multiprocessing.connection.Connection,
    url: str,
    bodies_path: str,
    warmup: int,
    measured_count: int,
    concurrency: int,
    max_seconds: float,
) -> None:
    """Warm up, report, wait for "go" (the orchestrator drains triaged first), measure, report."""
    bodies = read_bodies(Path(bodies_path))
    paced_bodies = bodies[warmup + measured_count :]
    bodies = bodies[: warmup + measured_count]
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm-up: connections opened, code paths hot; the orchestrator drains it before "go".
        warm = await _post_all(session, url, bodies[:warmup], concurrency, max_seconds)
        conn.send(("warm", asdict(warm) | {"latencies_ms": []}))
        if conn.recv() != "go":
            return
        measured = await _post_all(session, url, bodies[warmup:], concurrency, max_seconds)
        conn.send(("done", asdict(measured)))
        order = conn.recv()
        if isinstance(order, tuple) and order[0] == "paced":
            _, per_second, seconds = order
            paced = await _post_paced(session, url, paced_bodies, per_second, seconds)
            conn.send(("paced", asdict(paced)))


def load_main(
    conn: multiprocessing.connection.Connection,
    url: str,
    bodies_path: str,
    warmup: int,
    measured_count: int,
    concurrency: int,
    max_seconds: float,
    pin: bool,
) -> None:
    """Entry point of the load process: its own interpreter, never sharing a GIL or core with a server."""
    if pin:
        os.sched_setaffinity(0, {LOAD_CORE})
    try:
        uvloop.run(_load(conn, url, bodies_path, warmup, measured_count, concurrency, max_seconds))
    except EOFError:
        pass  # the orchestrator gave up on this run (its error is reported there)
    except Exception as err:  # the orchestrator reports it; a traceback on the terminal says less
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


# -- servers under test ------------------------------------------------------------------


def free_port() -> int:
    """A free loopback port (bound then released; the server binds it right after)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """A blocking GET for readiness and metrics; the orchestrator does nothing else meanwhile."""
    try:
        with _HTTP.open(url, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def pinned_to(core: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` pinning the child to ``core`` before it execs (every thread it
    starts inherits the core); ``None``: not pinned."""
    if core is None:
        return None
    return lambda: os.sched_setaffinity(0, {core})


class Server:
    """One server process under test: started pinned, waited for, read from /proc, stopped with SIGTERM."""

    def __init__(self, name: str, argv: list[str], port: int, workdir: Path, pin: bool) -> None:
        self.name, self.port, self.pin = name, port, pin
        self.base = f"http://{HOST}:{port}"
        self.stderr_path = workdir / f"{name}.stderr"
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None
        self.stopped_by = "SIGTERM"

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait for /readyz; pinning before exec so every thread it spawns inherits the core."""
        preexec = pinned_to(SERVER_CORE if self.pin else None)
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                self.argv, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO, preexec_fn=preexec
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                if http_get(self.base + "/readyz", timeout=1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s:\n{self.stderr()}")

    def running(self) -> bool:
        """Still alive (a crash under load must end the waiting at once, not after a timeout)."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        """The server's PID (the Python process itself: the triaged script is not a wrapper)."""
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """utime + stime of all its threads: the pipeline and SQLite threads count too (NaN once gone)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return float("nan")
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float | None:
        """VmHWM: the resident-set high-water mark over the process's life (a fresh process per run).

        None once the process is gone: a crashed server's peak cannot be read afterwards.
        """
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return None

    def stderr(self, limit: int = 4000) -> str:
        """The tail of its stderr (the daemon logs warnings and errors there as JSON lines)."""
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return text[-limit:]

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait (triaged drains in-flight work first); SIGKILL only if it hangs, and say so."""
        if self.proc is None or self.exit_code is not None:
            return
        if self.proc.poll() is not None:
            self.stopped_by = "nothing: it had exited by itself"
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.stopped_by = f"SIGKILL: SIGTERM was ignored for {timeout:.0f}s"
                self.proc.kill()
                self.proc.wait()
        self.exit_code = self.proc.returncode


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format to {'name{labels}': value}; enough for the few series read here."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def metric_sum(metrics: dict[str, float], name: str) -> float:
    """Sum of every series of ``name`` (all label sets)."""
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


def label_value(series: str, label: str) -> str:
    """The value of ``label`` in a series key such as ``name{source="a",reason="b"}``."""
    _, _, rest = series.partition(f'{label}="')
    return rest.partition('"')[0]


def by_label(metrics: dict[str, float], name: str, label: str) -> dict[str, int]:
    """``{label value: total}`` of a counter, e.g. processed alerts by outcome."""
    out: dict[str, int] = {}
    for key, value in metrics.items():
        if key.startswith(name + "{"):
            which = label_value(key, label)
            out[which] = out.get(which, 0) + int(value)
    return out


@dataclass
class Drain:
    """What polling /metrics after the load saw."""

    at: float | None  # time.monotonic() of the first poll that saw everything processed; None: timed out
    metrics: dict[str, float]
    polls: int = 0
    first_backlog: float | None = None  # the gauge at the first poll, i.e. as the load ended
    gauge_zero_while_pending: int = 0  # polls where the backlog gauge said 0 but alerts were unprocessed


SLOW_POLL_SECONDS = 0.25


def wait_drained(server: Server, expected: int, poll: float, timeout: float) -> Drain:
    """Poll /metrics until the backlog gauge is 0 and every accepted alert has been processed.

    Both are needed: ``triaged_intake_backlog`` is set by the pipeline after each step,
    so right after a burst it can still read 0 from before the last appends; the
    processed counters catching up with the alerts we got 202 for closes that gap.
    How often the gauge alone would have been wrong is counted, not hidden.

    ``poll`` applies for the first second; then every ``SLOW_POLL_SECONDS``. A scrape costs
    the daemon a few milliseconds of its core (py-spy: 6.6% of its samples on Redis during
    a 40 s drain polled every 50 ms), so fast polling through a long drain slowed the very
    drain it timed; a drain that long is timed to within a quarter of a second, under 2%.
    """
    started = time.monotonic()
    deadline = started + timeout
    drain = Drain(None, {})
    while True:
        now = time.monotonic()
        if now - started > 1.0:
            poll = max(poll, SLOW_POLL_SECONDS)
        try:
            drain.metrics = parse_metrics(http_get(server.base + "/metrics", timeout=5.0)[1].decode())
        except OSError:
            if not server.running() or now > deadline:
                return drain  # a dead server is reported by the caller, with its stderr
            time.sleep(poll)
            continue
        drain.polls += 1
        if drain.first_backlog is None:
            drain.first_backlog = drain.metrics.get("triaged_intake_backlog")
        gauge_zero = drain.metrics.get("triaged_intake_backlog", float("nan")) == 0
        processed = metric_sum(drain.metrics, "triaged_alerts_processed_total") >= expected
        if gauge_zero and processed:
            drain.at = now
            return drain
        drain.gauge_zero_while_pending += gauge_zero
        if now > deadline:
            return drain
        time.sleep(poll)


# -- one run: one server, one batch size ---------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile; with 40000 samples p99.9 is the 40th slowest request."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


def _recv(
    conn: multiprocessing.connection.Connection, loader: BaseProcess, timeout: float, what: str
) -> dict[str, Any]:
    """The loader's next message; a dead or stuck loader is an error now, not after the timeout."""
    ready = multiprocessing.connection.wait([conn, loader.sentinel], timeout)
    if conn not in ready:
        state = f"exited with {loader.exitcode}" if loader.sentinel in ready else f"silent for {timeout:.0f}s"
        raise RuntimeError(f"load generator {state} before sending its {what}")
    kind, payload = conn.recv()
    if kind == "error":
        raise RuntimeError(f"load generator failed: {payload}")
    return dict(payload)


def run_one(server: Server, bodies: Path, cfg: RunConfig, is_daemon: bool) -> dict[str, Any]:
    """Start the server, warm up, measure the load phase (and, for triaged, the pipeline), stop.

    Whatever fails, the loader and the server are stopped before this returns or raises.
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    url = server.base + WEBHOOK_PATH
    args = (
        child,
        url,
        str(bodies),
        cfg.profile.warmup,
        cfg.measured,
        cfg.concurrency,
        cfg.profile.max_load_seconds,
        cfg.pin,
    )
    loader = ctx.Process(target=load_main, args=args, name="loadgen")
    try:
        server.start()
        loader.start()
        child.close()  # the loader holds its end; ours closing lets EOF reach us if it dies
        warm = _recv(parent, loader, 60.0, "warm-up result")
        drain_warm = is_daemon and not cfg.edge_only
        if drain_warm and wait_drained(server, warm["accepted_alerts"], 0.02, 30.0).at is None:
            raise RuntimeError(f"triaged did not process the warm-up within 30s:\n{server.stderr()}")
        base = parse_metrics(http_get(server.base + "/metrics")[1].decode()) if is_daemon else {}
        cpu0 = server.cpu_seconds()
        parent.send("go")
        res = _recv(parent, loader, cfg.profile.max_load_seconds + 90.0, "load result")
        cpu1 = server.cpu_seconds()
        row = summarize(server, res, cpu1 - cpu0, warm)
        if cfg.edge_only or server.name in FLOOR_SERVERS:
            parent.send("stop")  # no paced phase: the backlog is not drained by anything
            row["edge_only"] = is_daemon
        elif is_daemon:
            row |= pipeline_figures(server, res, base, cfg)
            row |= paced_figures(server, parent, loader, row, cfg)
        else:
            row |= noop_paced_figures(parent, loader, cfg)
        row["peak_rss_mib"] = server.peak_rss_mib()
    finally:
        parent.close()  # a loader still waiting for "go" gets EOF and exits
        if loader.pid is not None:
            loader.join(10.0)
            if loader.is_alive():
                loader.terminate()
                loader.join()
        server.stop()
    row["exit_code"] = server.exit_code
    row["stopped_by"] = server.stopped_by
    row["stderr_tail"] = server.stderr(2000)
    return row


def run_or_failure(server: Server, bodies: Path, cfg: RunConfig, is_daemon: bool) -> dict[str, Any]:
    """run_one, or a row saying how it failed: one broken run must not hide the others' figures."""
    try:
        return run_one(server, bodies, cfg, is_daemon)
    except (RuntimeError, OSError) as err:
        return {
            "target": server.name,
            "failed": f"{type(err).__name__}: {err}",
            "exit_code": server.exit_code,
            "stopped_by": server.stopped_by,
            "stderr_tail": server.stderr(4000),
        }


def phase_figures(res: dict[str, Any]) -> dict[str, Any]:
    """What every load phase reports: requests, errors and latency percentiles."""
    lat = sorted(res["latencies_ms"])
    return {
        "requests": res["requests"],
        "errors": sum(res["errors"].values()),
        "errors_by_status": dict(res["errors"]),
        "p50_ms": round(percentile(lat, 50), 3),
        "p99_ms": round(percentile(lat, 99), 3),
        "p999_ms": round(percentile(lat, 99.9), 3),
        "max_ms": round(lat[-1], 3) if lat else float("nan"),
    }


def phase_seconds(res: dict[str, Any]) -> float:
    """Wall time from a phase's first send to its last answer."""
    return float(max(res["last_done"] - res["first_send"], 1e-9))


def summarize(server: Server, res: dict[str, Any], server_cpu: float, warm: dict[str, Any]) -> dict[str, Any]:
    """Client-side figures of the measured phase."""
    wall = phase_seconds(res)
    return {
        "target": server.name,
        **phase_figures(res),
        "capped_at_max_seconds": res["capped"],
        "error_samples": res["error_samples"],
        "warmup_errors": sum(warm["errors"].values()),
        "accepted_alerts": res["accepted_alerts"],
        "seconds": round(wall, 3),
        "alerts_per_s": round(res["accepted_alerts"] / wall, 1),
        "requests_per_s": round(res["requests"] / wall, 1),
        "server_cpu_pct": round(100 * server_cpu / wall, 1),
        "loadgen_cpu_pct": round(100 * res["cpu_seconds"] / wall, 1),
    }


def pipeline_figures(
    server: Server, res: dict[str, Any], base: dict[str, float], cfg: RunConfig
) -> dict[str, Any]:
    """End to end: from the first measured post until the pipeline has processed everything."""
    expected = int(metric_sum(base, "triaged_alerts_processed_total")) + res["accepted_alerts"]
    drain = wait_drained(server, expected, cfg.poll_seconds, cfg.profile.max_drain_seconds)
    drained_at, after = drain.at, drain.metrics
    outcomes = Counter(by_label(after, "triaged_alerts_processed_total", "outcome"))
    if after:  # empty when the server was gone: no figures rather than negative ones
        outcomes.subtract(by_label(base, "triaged_alerts_processed_total", "outcome"))
    incidents = None
    with contextlib.suppress(OSError):
        status, raw = http_get(server.base + "/api/v1/incidents?limit=1000", timeout=10.0)
        incidents = len(orjson.loads(raw)["incidents"]) if status == 200 else None
    figures: dict[str, Any] = {
        "drained": drained_at is not None,
        "drain_polls": drain.polls,
        "backlog_gauge_when_load_ended": drain.first_backlog,
        "gauge_zero_while_pending_polls": drain.gauge_zero_while_pending,
        "backlog_at_end": after.get("triaged_intake_backlog"),
        "outcomes": {k: v for k, v in sorted(outcomes.items()) if v},
        "incidents_listed": incidents,
        "pipeline_batches": int(
            metric_sum(after, "triaged_pipeline_batches_total")
            - metric_sum(base, "triaged_pipeline_batches_total")
        ),
        "pipeline_errors": int(metric_sum(after, "triaged_pipeline_errors_total")),
        "webhooks_rejected_by_daemon": int(metric_sum(after, "triaged_webhook_requests_rejected_total")),
        "webhooks_rejected_by_reason": by_label(after, "triaged_webhook_requests_rejected_total", "reason"),
    }
    if drained_at is not None:
        total = max(drained_at - res["first_send"], 1e-9)
        figures["drain_after_load_s"] = round(max(drained_at - res["last_done"], 0.0), 3)
        figures["end_to_end_s"] = round(total, 3)
        figures["pipeline_alerts_per_s"] = round(res["accepted_alerts"] / total, 1)
    return figures


# -- orchestration -----------------------------------------------------------------------


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs besides the server and the bodies."""

    profile: Profile
    concurrency: int
    pin: bool
    poll_seconds: float = 0.05
    measured: int = 0  # measured bodies in the file (after the warm-up, before the paced ones)
    batch: int = 1
    paced_rate: float | None = None  # alerts/s of triaged's paced phase; None: half the maximum
    # triaged with its pipeline off (an ingest replica): the edge alone, no end-to-end or paced phase
    edge_only: bool = False


def paced_figures(
    server: Server,
    parent: multiprocessing.connection.Connection,
    loader: BaseProcess,
    row: dict[str, Any],
    cfg: RunConfig,
) -> dict[str, Any]:
    """Latency at half the sustained maximum: the pipeline rate just measured, halved, open loop.

    The sustained maximum is the end-to-end rate (intake and pipeline together), not the
    edge's burst rate: above it the backlog grows until the intake sheds load.
    """
    rate = row.get("pipeline_alerts_per_s")
    if not rate:
        parent.send("stop")
        return {}
    per_second = (cfg.paced_rate or rate / 2) / cfg.batch
    base = parse_metrics(http_get(server.base + "/metrics")[1].decode())
    parent.send(("paced", per_second, cfg.profile.paced_seconds))
    res = _recv(parent, loader, cfg.profile.paced_seconds + 90.0, "paced result")
    expected = int(metric_sum(base, "triaged_alerts_processed_total")) + res["accepted_alerts"]
    drain = wait_drained(server, expected, cfg.poll_seconds, cfg.profile.max_drain_seconds)
    # The KPI gauges' background pass (every 60 s) shares the core with the webhooks: when
    # one ran during the phase its wall time is shown, since it can set the tail.
    kpi_at = "triaged_kpi_last_refresh_timestamp_seconds"
    kpi_ran = drain.metrics.get(kpi_at) != base.get(kpi_at)
    return {
        "paced": {
            "offered_alerts_per_s": round(per_second * cfg.batch, 1),
            **phase_figures(res),
            "accepted_alerts_per_s": round(res["accepted_alerts"] / phase_seconds(res), 1),
            "kpi_pass_s": drain.metrics.get("triaged_kpi_last_refresh_duration_seconds") if kpi_ran else None,
            "bodies_ran_out": res["capped"],
            "drained_s_after": round(drain.at - res["last_done"], 3) if drain.at is not None else None,
        }
    }


def noop_paced_figures(
    parent: multiprocessing.connection.Connection, loader: BaseProcess, cfg: RunConfig
) -> dict[str, Any]:
    """The same open-loop phase against the no-op server, at a fixed pace near triaged's.

    Why: a paced p99 of tens of milliseconds may be the load generator's or the machine's,
    not triaged's; the no-op's p99 at a similar pace says how much.
    """
    per_second = NOOP_PACED_ALERTS_PER_S[cfg.batch] / cfg.batch
    parent.send(("paced", per_second, cfg.profile.paced_seconds))
    res = _recv(parent, loader, cfg.profile.paced_seconds + 90.0, "paced result")
    return {
        "paced": {
            "offered_alerts_per_s": round(per_second * cfg.batch, 1),
            **phase_figures(res),
            "accepted_alerts_per_s": round(res["accepted_alerts"] / phase_seconds(res), 1),
            "bodies_ran_out": res["capped"],
        }
    }


def servers_for(
    batch: int,
    workdir: Path,
    pin: bool,
    stores: list[str],
    redis_url: str | None,
    extra_config: str = "",
    floor: bool = False,
) -> list[tuple[Server, bool]]:
    """A fresh no-op server, the two floor receivers if asked, and one fresh triaged per
    store (new SQLite file / Redis prefix)."""
    noop_port = free_port()
    noop = Server(
        "no-op",
        [sys.executable, str(HERE / "noop_server.py"), "--listen", f"{HOST}:{noop_port}"],
        noop_port,
        workdir,
        pin,
    )
    servers = [(noop, False)]
    for name, check in FLOOR_SERVERS.items() if floor else ():
        port = free_port()
        log = workdir / f"{name}-b{batch}.log"
        argv = [
            sys.executable,
            str(HERE / "noop_server.py"),
            "--listen",
            f"{HOST}:{port}",
            "--append",
            str(log),
        ]
        servers.append((Server(name, argv + ["--check"] * check, port, workdir, pin), False))
    for store in stores:
        daemon = triaged_server(store, f"b{batch}", workdir, pin, redis_url, extra_config)
        servers.append((daemon, True))
    return servers


def triaged_server(
    store: str, run: str, workdir: Path, pin: bool, redis_url: str | None, extra_config: str = ""
) -> Server:
    """``triaged serve`` on a fresh SQLite file or Redis prefix (named after ``run``), quiet logs."""
    port = free_port()
    config = workdir / f"triaged-{run}-{store}.yaml"
    if store == "sqlite":
        section = f"{{path: {json.dumps(str(workdir / f'store-{run}' / 'triaged.db'))}}}"
    else:
        section = f"{{kind: redis, url: {json.dumps(redis_url)}, prefix: bench-{run}}}"
    config.write_text(f"store: {section}\nlogging: {{level: warning, format: json}}\n{extra_config}\n")
    triaged = Path(sys.executable).with_name("triaged")
    argv = [str(triaged), "serve", "--config", str(config), "--listen", f"{HOST}:{port}"]
    return Server(f"triaged-{store}", argv, port, workdir, pin)


class RedisForBench:
    """A redis-server for the Redis-store runs: AOF with fsync every second, as in production."""

    def __init__(self, workdir: Path, core: int | None) -> None:
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        (workdir / "redis").mkdir()
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--dir",
            str(workdir / "redis"),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ]
        # Pinned before exec, so that its threads and its rewrite children share the core too.
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pinned_to(core)
        )
        self.client = redis.Redis(host=HOST, port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def commands(self) -> int:
        """Commands Redis has executed so far (INFO commandstats)."""
        stats = self.client.info("commandstats")
        return sum(int(v["calls"]) for v in stats.values())

    def aof_rewrites(self) -> int:
        """AOF rewrites Redis has run so far: each is a fork that writes the whole dataset,
        CPU-bound on Redis's core, which sets the paced tail when that core is the daemon's."""
        return int(self.client.info("persistence").get("aof_rewrites", 0))

    def stop(self) -> None:
        """Shut the server down."""
        self.proc.terminate()
        self.proc.wait(10)


def machine() -> dict[str, Any]:
    """Enough about the machine to compare results across runs."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "uvloop": getattr(uvloop, "__version__", "?"),
    }


def fmt(value: Any, digits: int = 1) -> str:
    """Numbers for the table; '-' for missing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# (header, key in a run's row, decimals) for the two tables.
INTAKE_COLUMNS = (
    ("requests", "requests", 0),
    ("errors", "errors", 0),
    ("alerts/s", "alerts_per_s", 0),
    ("req/s", "requests_per_s", 0),
    ("p50 ms", "p50_ms", 2),
    ("p99 ms", "p99_ms", 2),
    ("p99.9 ms", "p999_ms", 2),
    ("peak RSS MiB", "peak_rss_mib", 1),
    ("srv CPU%", "server_cpu_pct", 0),
    ("load CPU%", "loadgen_cpu_pct", 0),
)
PIPELINE_COLUMNS = (
    ("alerts posted", "accepted_alerts", 0),
    ("backlog at load end", "backlog_gauge_when_load_ended", 0),
    ("drain after load s", "drain_after_load_s", 3),
    ("end-to-end s", "end_to_end_s", 2),
    ("pipeline alerts/s", "pipeline_alerts_per_s", 0),
    ("incidents", "incidents_listed", 0),
)


PACED_COLUMNS = (
    ("offered alerts/s", "offered_alerts_per_s", 0),
    ("accepted alerts/s", "accepted_alerts_per_s", 0),
    ("requests", "requests", 0),
    ("errors", "errors", 0),
    ("p50 ms", "p50_ms", 2),
    ("p99 ms", "p99_ms", 2),
    ("p99.9 ms", "p999_ms", 2),
    ("drained s after", "drained_s_after", 2),
    ("KPI pass s", "kpi_pass_s", 3),
)


def print_report(report: dict[str, Any]) -> None:
    """The human-readable tables: client-side figures, then triaged's pipeline, then the ratios."""
    runs = report["runs"]
    rows = [[r["batch"], r["target"], *(fmt(r.get(k), d) for _, k, d in INTAKE_COLUMNS)] for r in runs]
    cols = ("batch", "target", *(h for h, _, _ in INTAKE_COLUMNS))
    print_table("HTTP intake (measured phase, client side)", cols, rows)
    daemon_runs = [
        r for r in runs if r["target"].startswith("triaged") and "failed" not in r and not r.get("edge_only")
    ]
    rows = [
        [
            r["batch"],
            r["target"],
            *(fmt(r.get(k), d) for _, k, d in PIPELINE_COLUMNS),
            fmt(r.get("redis_commands_per_alert"), 2),
            fmt(r.get("redis_aof_rewrites"), 0),
            outcomes_text(r),
        ]
        for r in daemon_runs
    ]
    cols = (
        "batch",
        "target",
        *(h for h, _, _ in PIPELINE_COLUMNS),
        "redis cmds/alert",
        "AOF rewrites",
        "outcomes (dedupe)",
    )
    print_table(
        "triaged end to end (first measured post until backlog 0 and every alert processed)", cols, rows
    )
    rows = [
        [
            r["batch"],
            r["target"],
            *(fmt(r["paced"].get(k), d) for _, k, d in PACED_COLUMNS),
        ]
        for r in runs
        if r.get("paced")
    ]
    cols = ("batch", "target", *(h for h, _, _ in PACED_COLUMNS))
    print_table(
        "triaged at half its sustained maximum, the no-op at a similar fixed pace"
        " (open loop, latency from each request's due time)",
        cols,
        rows,
    )
    edge_only = " -- edge only: triaged's pipeline off" if report["settings"].get("edge_only") else ""
    print(f"\ntriaged / no-op (the headline: same bodies, same load, measured back to back){edge_only}")
    if report["settings"].get("floor"):
        print("  (floor-*: a receiver that only appends the body, synced, with or without triaged's checks)")
    for batch, ratio in report["ratios"].items():
        alerts, p99 = ratio["alerts_per_s"], ratio["p99_ms"]
        print(f"  batch {batch:>9}: alerts/s x{alerts:.3f}   p99 latency x{p99:.2f}")


def outcomes_text(run: dict[str, Any]) -> str:
    """Dedupe outcomes of the measured alerts (``first=12000 repeat=28000``); flags an unfinished drain."""
    text = " ".join(f"{k}={v}" for k, v in run["outcomes"].items())
    return text if run["drained"] else f"NOT DRAINED {text}"


def print_table(title: str, cols: tuple[str, ...], rows: list[list[Any]]) -> None:
    """A plain aligned table (no dependency just for this)."""
    cells = [list(cols)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def anomalies(report: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, notes): problems make figures suspect (exit 1); notes qualify them. Printed, not buried."""
    problems, notes = [], []
    for r in report["runs"]:
        where = f"batch {r['batch']} {r['target']}"
        if "failed" in r:
            problems.append(f"{where}: run failed: {r['failed']}")
            stopped = f"exit code {r['exit_code']}, stopped by {r['stopped_by']}"
            problems.append(f"{where}: {stopped}; stderr:\n{r['stderr_tail']}")
            continue
        if r["errors"] or r["warmup_errors"]:
            errors = f"{r['errors']} errors {r['errors_by_status']} (+{r['warmup_errors']} in warm-up)"
            problems.append(f"{where}: {errors}, e.g. {r['error_samples'][:2]}")
        if r["exit_code"] != 0:
            problems.append(f"{where}: exit code {r['exit_code']}; stopped by {r['stopped_by']}")
        stderr = r["stderr_tail"]
        if r.get("edge_only"):  # the warning an ingest-only SQLite daemon is expected to give
            stderr = "\n".join(x for x in stderr.splitlines() if "pipeline_disabled_on_sqlite" not in x)
        if stderr.strip():
            problems.append(f"{where}: stderr:\n{stderr}")
        if r["capped_at_max_seconds"]:
            notes.append(
                f"{where}: load phase hit its time cap after {r['requests']} requests (rates still valid)"
            )
        if r["loadgen_cpu_pct"] >= 90:
            notes.append(
                f"{where}: the load generator used {r['loadgen_cpu_pct']:.0f}% of its core: this rate is"
                " the harness's ceiling, the server may be faster"
            )
        if not r["target"].startswith("triaged") or r.get("edge_only"):
            continue
        if not r["drained"]:
            problems.append(f"{where}: not drained within the limit (backlog gauge {r['backlog_at_end']})")
        if r["pipeline_errors"] or r["webhooks_rejected_by_daemon"]:
            errs, rejected = r["pipeline_errors"], r["webhooks_rejected_by_reason"]
            problems.append(
                f"{where}: pipeline errors {errs}; webhooks rejected by triaged, by reason: {rejected}"
            )
        if r["gauge_zero_while_pending_polls"]:
            n = r["gauge_zero_while_pending_polls"]
            notes.append(f"{where}: triaged_intake_backlog read 0 on {n} polls while alerts were unprocessed")
        paced_anomalies(where, r.get("paced"), problems, notes)
    return problems, notes


def paced_anomalies(where: str, paced: dict[str, Any] | None, problems: list[str], notes: list[str]) -> None:
    """The paced phase's own: errors or an undrained backlog are problems; too few bodies a note."""
    if not paced:
        return
    if paced["errors"] or paced["drained_s_after"] is None:
        problems.append(
            f"{where}: paced phase: {paced['errors']} errors {paced['errors_by_status']},"
            f" drained after: {paced['drained_s_after']}"
        )
    if paced["bodies_ran_out"]:
        notes.append(f"{where}: paced phase ran out of bodies after {paced['requests']} requests")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command line; --requests sets both batch sizes' request counts (the profiles size them apart)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--requests",
        type=int,
        metavar="N",
        help="measured webhooks per server and batch size (default 40000 at batch 1 and 3000 at batch 50;"
        " --quick: 3000 and 300). At batch 50, N above 4000 can fill triaged's intake (max_backlog"
        " 200000 alerts): it then answers 503, counted as errors",
    )
    p.add_argument("--concurrency", type=int, default=32, metavar="C", help="requests in flight (default 32)")
    p.add_argument(
        "--store",
        choices=("sqlite", "redis", "both"),
        default="both",
        help="which store(s) to run triaged on (default both)",
    )
    p.add_argument("--quick", action="store_true", help="a smoke run: about 5 s, capped near 20 s")
    p.add_argument(
        "--extra-config",
        default="",
        metavar="YAML",
        help="top-level YAML sections appended to triaged's config, e.g. 'pipeline: {batch_size: 200}'",
    )
    p.add_argument(
        "--batches",
        type=_batches,
        default=BATCH_SIZES,
        metavar="B,B",
        help="alerts per webhook, from 1, 50 and 500 (default 1,50); 500 sends 300 webhooks",
    )
    p.add_argument("--seed", type=int, default=1, help="payload generator seed (default 1)")
    p.add_argument(
        "--repeat-share",
        type=_share,
        default=REPEAT_SHARE,
        metavar="S",
        help=f"share of the measured alerts that re-send one already sent, from 0 to 1 (default"
        f" {REPEAT_SHARE}): 0 makes every alert new (scored, correlated, stored), 0.95 nearly all repeats",
    )
    p.add_argument(
        "--paced-rate",
        type=float,
        metavar="ALERTS_PER_S",
        help="pace triaged's open-loop phase at this rate instead of half its measured maximum"
        " (to compare two versions' tails at one load)",
    )
    p.add_argument(
        "--redis-core",
        choices=("server", "load"),
        default="load",
        help="core of the benchmark's redis-server: the load generator's (default: Redis on a core"
        " of its own, as deployed; the load process needs little CPU at triaged's rates) or the"
        " daemon's (Redis's CPU, wakeups and AOF rewrites count against triaged)",
    )
    p.add_argument(
        "--edge-only",
        action="store_true",
        help="run triaged with its pipeline off (pipeline.enabled: false, an ingest replica): the"
        " edge alone (HTTP, checks, durable intake append) against the no-op; no end-to-end or paced phase",
    )
    p.add_argument(
        "--floor",
        action="store_true",
        help="also run the floor of a durable receiver (benchmarks/noop_server.py --append):"
        " each body appended to a file and synced before the answer, without checks"
        " (floor-append) and with triaged's one-pass Alertmanager checks (floor-checked);"
        " no paced phase. What no receiver that acknowledges stored alerts can beat",
    )
    p.add_argument(
        "--paced-seconds",
        type=float,
        metavar="S",
        help="length of the paced phases (default 20; --quick: 2); longer makes the p99.9 steadier",
    )
    args = p.parse_args(argv)
    if (args.requests is not None and args.requests < 1) or args.concurrency < 1:
        p.error("--requests and --concurrency must be positive")
    if (args.paced_rate is not None and args.paced_rate <= 0) or (
        args.paced_seconds is not None and args.paced_seconds <= 0
    ):
        p.error("--paced-rate and --paced-seconds must be positive")
    return args


def _share(text: str) -> float:
    """A share between 0 and 1, for --repeat-share."""
    try:
        share = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {share}")
    return share


def _batches(text: str) -> tuple[int, ...]:
    """``--batches 1,50,500``: sizes the profiles know, so every run has its request count."""
    try:
        sizes = tuple(dict.fromkeys(int(part) for part in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes such as 1,50,500, got {text!r}") from None
    if not sizes or not set(sizes) <= set(DEFAULT_PROFILE.requests):
        raise argparse.ArgumentTypeError(f"batch sizes must be among {sorted(DEFAULT_PROFILE.requests)}")
    return sizes


def main(argv: list[str]) -> int:
    """Run the four measurements (no-op and triaged at batch 1 and 50), print, save JSON."""
    args = parse_args(argv)
    profile = QUICK_PROFILE if args.quick else DEFAULT_PROFILE
    if args.requests is not None:
        profile = replace(profile, requests={b: args.requests for b in args.batches})
    if args.paced_seconds is not None:
        profile = replace(profile, paced_seconds=args.paced_seconds)
    pin = (
        hasattr(os, "sched_setaffinity")
        and len(os.sched_getaffinity(0)) >= 2
        and {0, 1} <= os.sched_getaffinity(0)
    )
    if pin:
        os.sched_setaffinity(0, {LOAD_CORE})  # the orchestrator stays off the server's core
    cfg = RunConfig(profile, args.concurrency, pin)
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "concurrency": cfg.concurrency,
            "pinned": pin,
            "quick": args.quick,
            "seed": args.seed,
            "profile": asdict(profile),
            "store": "sqlite: synchronous=full (default); redis: AOF appendfsync everysec",
            "redis_core": args.redis_core,
            "repeat_share": args.repeat_share,
            "edge_only": args.edge_only,
            "floor": args.floor,
        },
        "payloads": {},
        "runs": [],
        "ratios": {},
    }
    t0 = time.monotonic()
    stores = ["sqlite", "redis"] if args.store == "both" else [args.store]
    with tempfile.TemporaryDirectory(prefix="triaged-bench-") as tmp:
        workdir = Path(tmp)
        redis_core = (SERVER_CORE if args.redis_core == "server" else LOAD_CORE) if pin else None
        bench_redis = RedisForBench(workdir, redis_core) if "redis" in stores else None
        redis_url = bench_redis.url if bench_redis else None
        for batch in args.batches:
            bodies = workdir / f"bodies-b{batch}.jsonl"
            n = profile.requests[batch]
            pace = args.paced_rate * 1.1 if args.paced_rate else PACED_ALERTS_PER_S[batch]
            paced = int(pace * profile.paced_seconds / batch)
            report["payloads"][batch] = build_bodies(
                batch, profile.warmup, n, bodies, args.seed + batch, paced, args.repeat_share
            )
            cfg = RunConfig(
                profile,
                args.concurrency,
                pin,
                measured=n,
                batch=batch,
                paced_rate=args.paced_rate,
                edge_only=args.edge_only,
            )
            print(f"batch {batch}: {report['payloads'][batch]}", flush=True)
            runs: dict[str, dict[str, Any]] = {}
            extra = args.extra_config + ("\npipeline: {enabled: false}" if args.edge_only else "")
            for server, is_daemon in servers_for(batch, workdir, pin, stores, redis_url, extra, args.floor):
                print(
                    f"  {server.name}: {n} requests x {batch} alerts, concurrency {cfg.concurrency} ...",
                    flush=True,
                )
                its_redis = bench_redis if server.name.endswith("redis") else None
                before = its_redis.commands() if its_redis else 0
                rewrites = its_redis.aof_rewrites() if its_redis else 0
                run = {"batch": batch} | run_or_failure(server, bodies, cfg, is_daemon)
                if its_redis and "failed" not in run:
                    # Includes the warm-up and the drain: every command the daemon sent.
                    calls = its_redis.commands() - before
                    total = run["accepted_alerts"] + report["payloads"][batch]["warmup_bodies"] * batch
                    run["redis_commands_per_alert"] = round(calls / max(total, 1), 2)
                    run["redis_aof_rewrites"] = its_redis.aof_rewrites() - rewrites
                report["runs"].append(run)
                runs[server.name] = run
            noop = runs["no-op"]
            compared = [*(FLOOR_SERVERS if args.floor else ()), *(f"triaged-{s}" for s in stores)]
            for name in compared:
                daemon = runs[name]
                if "failed" not in noop and "failed" not in daemon:
                    report["ratios"][f"{batch} {name.removeprefix('triaged-')}"] = {
                        "alerts_per_s": round(daemon["alerts_per_s"] / max(noop["alerts_per_s"], 1e-9), 3),
                        "p99_ms": round(daemon["p99_ms"] / max(noop["p99_ms"], 1e-9), 3),
                    }
        if bench_redis:
            bench_redis.stop()
    report["seconds_total"] = round(time.monotonic() - t0, 1)
    print_report(report)
    problems, notes = anomalies(report)
    report["problems"], report["notes"] = problems, notes
    for note in notes:
        print(f"\nnote: {note}")
    for problem in problems:
        print(f"\nPROBLEM {problem}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"ingest-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    print(f"\ntotal {report['seconds_total']}s; results: {out.relative_to(REPO)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
