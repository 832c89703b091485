"""Every metric triaged exports, built on a registry passed in (never the global one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

# Webhook handling is sub-millisecond when healthy and seconds when the disk stalls.
_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


@dataclass(frozen=True)
class Metrics:
    """Handles to every metric; one instance per app (and per test)."""

    registry: CollectorRegistry
    alerts_received: Counter
    alerts_accepted: Counter
    alerts_rejected: Counter
    requests_rejected: Counter
    webhooks_general_path: Counter
    alerts_processed: Counter
    alerts_dropped: Counter
    incidents_opened: Counter
    incidents_resolved: Counter
    incidents_acknowledged: Counter
    stage_seconds: Histogram
    ingest_seconds: Histogram
    intake_backlog: Gauge
    pipeline_batches: Counter
    pipeline_errors: Counter
    model_predictions: Counter
    shadow_disagreements: Counter
    model_cache: Counter
    model_info: Gauge
    alerts_correlated: Counter
    alerts_suppressed: Counter
    incidents_merged: Counter
    incidents_escalated: Counter
    gc_pauses: Histogram


def build_metrics(registry: CollectorRegistry | None = None) -> Metrics:
    """Create every metric on ``registry`` (a fresh one by default)."""
    reg = registry if registry is not None else CollectorRegistry()
    return Metrics(
        registry=reg,
        alerts_received=Counter(
            "triaged_alerts_received",
            "Alerts received in webhook bodies, before validation.",
            ["source"],
            registry=reg,
        ),
        alerts_accepted=Counter(
            "triaged_alerts_accepted",
            "Alerts durably stored in the intake.",
            ["source"],
            registry=reg,
        ),
        alerts_rejected=Counter(
            "triaged_alerts_rejected",
            "Alerts refused at the edge, by reason.",
            ["source", "reason"],
            registry=reg,
        ),
        requests_rejected=Counter(
            "triaged_webhook_requests_rejected",
            "Whole webhook requests refused, by reason (auth, size, JSON, shape, overload).",
            ["source", "reason"],
            registry=reg,
        ),
        webhooks_general_path=Counter(
            "triaged_webhooks_general_path",
            "Webhooks the one-pass decode left to the general path, by reason (checks: a bad alert or a"
            " limit; unknown_field: a key it does not know; not_json; timestamp; depth_limit).",
            ["source", "reason"],
            registry=reg,
        ),
        alerts_processed=Counter(
            "triaged_alerts_processed",
            "Alerts through dedupe, by outcome (first, repeat, update, resolve, refire, ...).",
            ["outcome"],
            registry=reg,
        ),
        alerts_dropped=Counter(
            "triaged_alerts_dropped",
            "Alerts that changed nothing downstream (duplicates and stale retries), by reason.",
            ["reason"],
            registry=reg,
        ),
        incidents_opened=Counter("triaged_incidents_opened", "Incidents opened.", ["priority"], registry=reg),
        alerts_correlated=Counter(
            "triaged_alerts_correlated",
            "Firing alerts placed in an incident, by how: opened (a new incident), group, topology, "
            "similarity, storm. Compression = sum / opened.",
            ["method"],
            registry=reg,
        ),
        alerts_suppressed=Counter(
            "triaged_alerts_suppressed",
            "Firing alerts recorded but not paged, by reason: silence, maintenance, inhibition.",
            ["reason"],
            registry=reg,
        ),
        incidents_escalated=Counter(
            "triaged_incidents_escalated",
            "Escalation steps applied (an incident not acknowledged in time).",
            registry=reg,
        ),
        gc_pauses=Histogram(
            "triaged_gc_pause_seconds",
            "Pauses of the cyclic garbage collector, by generation (2: the scheduled full one).",
            ["generation"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        ),
        incidents_merged=Counter(
            "triaged_incidents_merged",
            "Incidents merged into another (the ones opened just before a storm was declared).",
            ["into"],
            registry=reg,
        ),
        incidents_resolved=Counter(
            "triaged_incidents_resolved",
            "Incidents resolved, by who resolved them.",
            ["by"],
            registry=reg,
        ),
        incidents_acknowledged=Counter(
            "triaged_incidents_acknowledged", "Incidents acknowledged.", registry=reg
        ),
        stage_seconds=Histogram(
            "triaged_pipeline_stage_seconds",
            "Time per pipeline step and stage (load, process, commit), per batch.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        ),
        ingest_seconds=Histogram(
            "triaged_ingest_seconds",
            "Webhook handling time up to the durable 202.",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        ),
        intake_backlog=Gauge(
            "triaged_intake_backlog", "Alerts accepted but not yet processed.", registry=reg
        ),
        pipeline_batches=Counter("triaged_pipeline_batches", "Pipeline steps committed.", registry=reg),
        model_predictions=Counter(
            "triaged_model_predictions",
            "Alerts scored by a model, by role (active, shadow).",
            ["role"],
            registry=reg,
        ),
        model_cache=Counter(
            "triaged_model_cache_lookups",
            "Active-model predictions served from its exact-input cache (hit) or computed (miss).",
            ["result"],
            registry=reg,
        ),
        shadow_disagreements=Counter(
            "triaged_model_shadow_disagreements",
            "Alerts where the shadow model's urgency differs from the active model's.",
            ["active", "shadow"],
            registry=reg,
        ),
        model_info=Gauge(
            "triaged_model_info",
            "1 for each loaded model version, by role.",
            ["role", "version"],
            registry=reg,
        ),
        pipeline_errors=Counter(
            "triaged_pipeline_errors",
            "Pipeline steps that failed and will be retried.",
            ["error"],
            registry=reg,
        ),
    )


class ConflictsCollector(Collector):
    """``triaged_store_conflicts_total{operation}``: optimistic transactions that another
    replica's write made the store retry. The store counts them in plain ints (it knows
    nothing of metrics); this reads them at scrape time.

    Why export it: replicas on one Redis contend for the same group and incident keys,
    and every conflict re-runs the whole batch. A rate that grows with the replica count
    is the cost that adding replicas pays.
    """

    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self.counts = counts

    def describe(self) -> Iterator[CounterMetricFamily]:
        """The family without samples (registration checks names without reading counts)."""
        yield self._family({})

    def collect(self) -> Iterator[CounterMetricFamily]:
        """The family with the store's counts (none on a store without conflicts)."""
        yield self._family(self.counts())

    @staticmethod
    def _family(counts: Mapping[str, int]) -> CounterMetricFamily:
        family = CounterMetricFamily(
            "triaged_store_conflicts",
            "Store transactions retried because another writer changed what they read, by operation.",
            labels=["operation"],
        )
        for operation in ("batch", "incident"):
            family.add_metric([operation], counts.get(operation, 0))
        return family
