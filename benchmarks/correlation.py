"""Correlation quality: triaged against Alertmanager-style ``group_by: [alertname, cluster]``.

Scenarios with ground truth (every alert knows its cause), built from real alertnames
and summaries of the public rule catalogues in ``data/alert-rules/``: a node failure
cascading to its pods and services, a database outage with dependent services, both
at once in one cluster, a flapping alert, a storm of 10,000 alerts from one cause, and
background noise in each. Both configurations run through the real pipeline on a real
SQLite store in the same run; alerts carry simulated receive times, so windows and
storm rates behave as they would over the scenario's minutes.

Run: ``python benchmarks/correlation.py`` (about a minute). Figures:
pairwise precision/recall of "same incident" against "same cause" (all alerts, noise
included); over-merge (share of incidents mixing two different outages); split (share of
outages spread over more than one final incident); compression (an outage's alerts per
final incident holding them); pages (incidents ever opened holding an outage's alerts,
including ones later merged into a storm). Noise alerts are each their own cause.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from daemon.fingerprint import label_fingerprint  # noqa: E402
from daemon.metrics import build_metrics  # noqa: E402
from daemon.models import Alert, AlertStatus, Notification  # noqa: E402
from daemon.pipeline import Pipeline  # noqa: E402
from daemon.settings import Settings  # noqa: E402
from daemon.store import build_store  # noqa: E402

T0 = 1_800_000_000.0
NOISE = "noise"


def catalogue() -> dict[str, str]:
    """alertname -> summary, from the shared rule catalogues."""
    out: dict[str, str] = {}
    for path in sorted((REPO / "data" / "alert-rules").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("summary") and row["alertname"] not in out:
                out[row["alertname"]] = row["summary"]
    return out


CATALOGUE = catalogue()


@dataclass
class Scenario:
    """Timed alerts, each with its cause; the dependency map an inventory would export."""

    name: str
    events: list[tuple[float, str, dict[str, str], str]] = field(default_factory=list)
    depends_on: dict[str, list[str]] = field(default_factory=dict)

    def fire(self, t: float, cause: str, name: str, **labels: str) -> None:
        self.events.append((t, cause, {"alertname": name, **labels}, "firing"))

    def resolve(self, t: float, cause: str, name: str, **labels: str) -> None:
        self.events.append((t, cause, {"alertname": name, **labels}, "resolved"))

    def outages(self) -> set[str]:
        return {c for _, c, _, _ in self.events if not c.startswith(NOISE)}


def _noise(s: Scenario, rng: random.Random, n: int, span: float, clusters: list[str]) -> None:
    """Independent alerts: random catalogue names on random hosts, each its own cause."""
    names = sorted(CATALOGUE)
    for i in range(n):
        host = f"10.9.{rng.randrange(0, 50)}.{rng.randrange(1, 250)}:9100"
        cluster = rng.choice(clusters)
        s.fire(rng.uniform(0, span), f"{NOISE}{i}", rng.choice(names), cluster=cluster, instance=host)


def node_cascade(s: Scenario, rng: random.Random, cluster: str, node: str, t0: float, tag: str) -> None:
    """A node dies: its pods go not-ready, their services lose targets and replicas."""
    cause = f"node:{node}"
    services = [f"{tag}svc{i}" for i in range(6)]
    for i in range(30):
        svc = services[i % len(services)]
        pod = f"{svc}-{i:02d}"
        s.depends_on[f"pod:shop/{pod}"] = [f"host:{node}"]
        s.depends_on.setdefault(f"service:{svc}", []).append(f"pod:shop/{pod}")
        t = t0 + rng.uniform(5, 120)
        s.fire(t, cause, "KubePodNotReady", cluster=cluster, namespace="shop", pod=pod)
        s.fire(
            t + rng.uniform(0, 60), cause, "KubeContainerWaiting", cluster=cluster, namespace="shop", pod=pod
        )
    for svc in services:
        t = t0 + rng.uniform(30, 180)
        s.fire(t, cause, "TargetDown", cluster=cluster, service=svc)
        s.fire(t + 20, cause, "KubeDeploymentReplicasMismatch", cluster=cluster, service=svc)
    s.fire(t0 + rng.uniform(0, 90), cause, "KubeNodeNotReady", cluster=cluster, node=node)
    s.fire(t0 + rng.uniform(30, 120), cause, "KubeNodeUnreachable", cluster=cluster, node=node)
    # Unrelated pods on healthy nodes of the same cluster stay quiet: no alerts.
    for i in range(10):
        s.depends_on[f"pod:shop/{tag}other-{i}"] = [f"host:{tag}healthy-{i % 3}"]


def db_outage(s: Scenario, rng: random.Random, cluster: str, db: str, t0: float, tag: str) -> None:
    """A database goes down; the services using it fail in turn, some before it alerts."""
    cause = f"db:{db}"
    apis = [f"{tag}api{i}" for i in range(5)]
    for api in apis:
        s.depends_on[f"service:{api}"] = [f"service:{db}"]
    s.depends_on[f"service:{tag}frontend"] = [f"service:{a}" for a in apis[:2]]
    s.fire(t0 + 45, cause, "PostgresqlDown", cluster=cluster, service=db, instance=f"{db}-0:9187")
    s.fire(
        t0 + 60, cause, "PostgresqlTooManyConnections", cluster=cluster, service=db, instance=f"{db}-0:9187"
    )
    for api in apis:
        for replica in range(4):
            t = t0 + rng.uniform(0, 150)
            inst = f"{api}-{replica}:8080"
            s.fire(t, cause, "TargetDown", cluster=cluster, service=api, instance=inst)
            s.fire(t + 10, cause, "KubeHpaMaxedOut", cluster=cluster, service=api, instance=inst)
    s.fire(t0 + 100, cause, "BlackboxProbeFailed", cluster=cluster, service=f"{tag}frontend")


def scenarios(seed: int) -> Iterator[Scenario]:
    rng = random.Random(seed)
    s = Scenario("node failure cascade")
    node_cascade(s, rng, "prod-eu", "node-7", 60, "a")
    _noise(s, rng, 60, 1800, ["prod-eu", "prod-us"])
    yield s

    s = Scenario("database outage")
    db_outage(s, rng, "prod-eu", "orders-db", 60, "b")
    _noise(s, rng, 60, 1800, ["prod-eu", "prod-us"])
    yield s

    s = Scenario("two unrelated outages, one cluster")
    node_cascade(s, rng, "prod-eu", "node-3", 60, "c")
    db_outage(s, rng, "prod-eu", "payments-db", 90, "d")
    _noise(s, rng, 60, 1800, ["prod-eu", "prod-us"])
    yield s

    s = Scenario("flapping alert")
    for k in range(20):
        t = 60 + k * 90
        labels = {"cluster": "prod-eu", "instance": "10.1.1.1:9100"}
        s.fire(t, "flap", "HostOutOfMemory", **labels)
        s.resolve(t + 45, "flap", "HostOutOfMemory", **labels)
    _noise(s, rng, 60, 1800, ["prod-eu", "prod-us"])
    yield s

    s = Scenario("storm: 10,000 alerts, one cause")
    names = [
        n for n in sorted(CATALOGUE) if any(w in n for w in ("Down", "Unreachable", "Failed", "Missing"))
    ]
    for i in range(10_000):
        host = f"10.2.{i // 250}.{i % 250}:9100"
        s.fire(60 + rng.uniform(0, 60), "partition:dc2", names[i % 40], cluster="dc2", instance=host)
    _noise(s, rng, 60, 600, ["prod-eu", "prod-us"])
    yield s


BASELINE: dict[str, Any] = {
    "group_by": ["alertname", "cluster"],
    "topology": {"enabled": False},
    "storm": {"enabled": False},
    "flapping": {"enabled": False},
}


def triaged_config(depends_on: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "group_by": ["alertname", "cluster", "namespace", "pod", "node", "service", "instance"],
        "resolve_delay": "5m",
        "topology": {"depends_on": depends_on},
        "storm": {"threshold": 20, "window": "1m"},
    }


@dataclass
class Result:
    precision: float
    recall: float
    over_merge: float
    split: float
    compression: float
    pages: int
    incidents: int
    seconds: float


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


async def run(scenario: Scenario, correlation: dict[str, Any], workdir: Path) -> Result:
    settings = Settings.model_validate(
        {
            "store": {"kind": "sqlite", "path": str(workdir / "bench.db"), "synchronous": "normal"},
            "triage": {"model": "none"},
            "correlation": correlation,
            "pipeline": {"batch_size": 500},
        }
    )
    store = build_store(settings.store)
    await store.open()
    pipeline = Pipeline(store, settings, build_metrics())
    cause_of: dict[str, str] = {}
    t_start = time.perf_counter()
    starts: dict[str, float] = {}
    for t, cause, labels, status in sorted(scenario.events, key=lambda e: e[0]):
        fp = label_fingerprint(labels)
        cause_of[fp] = cause
        if status == "firing":
            starts[fp] = T0 + t
        alert = Alert(
            fingerprint=fp,
            source="alertmanager",
            status=AlertStatus(status),
            labels=labels,
            annotations={"summary": CATALOGUE.get(labels["alertname"], "")},
            starts_at=starts.get(fp, T0 + t),
            ends_at=T0 + t if status == "resolved" else None,
            generator_url="",
            received_at=T0 + t,
        )
        await store.append(Notification(source="alertmanager", received_at=T0 + t, alerts=(alert,)))
        if store.backlog() >= 500:
            await pipeline.step()
    while await pipeline.step():
        pass
    seconds = time.perf_counter() - t_start
    incidents = await store.list_incidents(None, 1_000_000)
    merged_into = {i.id: i.correlation.get("merged_into") for i in incidents}

    def final(incident_id: str) -> str:
        seen = set()
        while merged_into.get(incident_id) and incident_id not in seen:
            seen.add(incident_id)
            incident_id = merged_into[incident_id]
        return incident_id

    placed: dict[str, str] = {}
    paging: set[str] = set()  # incidents ever opened (merged ones included) holding an outage's alert
    outages = scenario.outages()
    for incident in incidents:
        detail = await store.get_incident(incident.id)
        assert detail is not None
        for member in detail.alerts:
            placed.setdefault(member["fingerprint"], final(incident.id))
            if cause_of[member["fingerprint"]] in outages:
                paging.add(incident.id)
    await store.close()
    cells: Counter[tuple[str, str]] = Counter((placed[fp], cause_of[fp]) for fp in placed)
    by_incident: Counter[str] = Counter()
    by_cause: Counter[str] = Counter()
    causes_in: dict[str, set[str]] = defaultdict(set)
    incidents_of: dict[str, set[str]] = defaultdict(set)
    for (inc, cause), n in cells.items():
        by_incident[inc] += n
        by_cause[cause] += n
        causes_in[inc].add(cause)
        incidents_of[cause].add(inc)
    together = sum(_pairs(n) for n in cells.values())
    same_incident = sum(_pairs(n) for n in by_incident.values())
    same_cause = sum(_pairs(n) for n in by_cause.values())
    mixed = [inc for inc, cs in causes_in.items() if len({c for c in cs if c in outages}) > 1]
    finals = {inc for inc in by_incident}
    outage_alerts = [fp for fp in placed if cause_of[fp] in outages]
    outage_incidents = {placed[fp] for fp in outage_alerts}
    return Result(
        precision=together / same_incident if same_incident else 1.0,
        recall=together / same_cause if same_cause else 1.0,
        over_merge=len(mixed) / len(finals) if finals else 0.0,
        split=sum(1 for c in outages if len(incidents_of[c]) > 1) / len(outages) if outages else 0.0,
        compression=len(outage_alerts) / len(outage_incidents) if outage_incidents else 0.0,
        pages=len(paging),
        incidents=len(finals),
        seconds=seconds,
    )


async def main(seed: int) -> None:
    print(
        f"{'scenario':38} {'config':9} {'alerts':>7} {'prec':>6} {'recall':>6} {'overm':>6} "
        f"{'split':>6} {'compr':>7} {'pages':>6} {'s':>6}"
    )
    for scenario in scenarios(seed):
        n = len({label_fingerprint(e[2]) for e in scenario.events})
        for label, cfg in (("baseline", BASELINE), ("triaged", triaged_config(scenario.depends_on))):
            with tempfile.TemporaryDirectory() as tmp:
                r = await run(scenario, cfg, Path(tmp))
            print(
                f"{scenario.name:38} {label:9} {n:7d} {r.precision:6.3f} {r.recall:6.3f} {r.over_merge:6.3f} "
                f"{r.split:6.3f} {r.compression:6.1f}x {r.pages:6d} {r.seconds:6.1f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(main(parser.parse_args().seed))
