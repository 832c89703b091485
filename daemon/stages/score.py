"""Score: urgency from the model (batched), impact from the incident, rules last; with reasons.

The model runs once per batch on the alerts that are new or changed (a repeat never
reaches it); everything else here is cheap arithmetic on labels.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import structlog

import classifiers
from classifiers.priority import Blast, ImpactPolicy
from classifiers.rules import RuleSet, load_rules
from classifiers.score import PredictionLike, Scored, score
from daemon.metrics import Metrics
from daemon.models import Alert
from daemon.settings import TriageSettings

log = structlog.get_logger(__name__)
# Shipped inside the classifiers package (package data), so an installed triaged has it.
DEFAULT_MODEL = Path(classifiers.__file__).resolve().parent / "default_model"


class UrgencyModelLike(Protocol):
    """What the daemon needs of ``classifiers.model.UrgencyModel``."""

    def predict(self, batch: Sequence[Mapping[str, Any]]) -> Sequence[PredictionLike]:
        """One prediction per alert."""


class Scorer:
    """Holds the model and rules of this process; scores alerts with reasons."""

    def __init__(
        self,
        settings: TriageSettings,
        model: UrgencyModelLike | None,
        shadow: UrgencyModelLike | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.shadow = shadow
        self.metrics = metrics
        if metrics is not None:
            for role, m in (("active", model), ("shadow", shadow)):
                if m is not None:
                    metrics.model_info.labels(role=role, version=model_version(m)).set(1)
        self.rules = load_rules(settings.rules_file) if settings.rules_file else RuleSet()
        self._calls = threading.Lock()
        self.policy = ImpactPolicy(
            production=settings.production,
            tiers=settings.tiers,
            wide_alerts=settings.wide_alerts,
            wide_hosts=settings.wide_hosts,
            wide_services=settings.wide_services,
        )

    def predict(self, alerts: Sequence[Alert]) -> dict[str, PredictionLike]:
        """Model predictions for these alerts, by fingerprint, in one call.

        Thread-safe: the pipeline calls it from a worker thread (a call holds the event
        loop 5-20 ms otherwise), ``triaged explain``'s endpoint from the event loop; the
        models' caches are not, so calls take turns.
        """
        model = self.model  # a reload may swap it meanwhile: one call, one model
        if model is None or not alerts:
            return {}
        with self._calls:
            return self._predict(model, alerts)

    def _predict(self, model: UrgencyModelLike, alerts: Sequence[Alert]) -> dict[str, PredictionLike]:
        from classifiers.features import fields_from_alert

        batch = [fields_from_alert(a.labels, a.annotations, a.generator_url, a.source) for a in alerts]
        hits = getattr(model, "cache_hits", 0)
        try:
            predictions = model.predict(batch)
        except Exception:  # a broken model must not stop triage: rules and labels still work
            log.exception("model_predict_failed")
            return {}
        if self.metrics is not None:
            self.metrics.model_predictions.labels(role="active").inc(len(batch))
            hit = getattr(model, "cache_hits", 0) - hits
            self.metrics.model_cache.labels(result="hit").inc(hit)
            self.metrics.model_cache.labels(result="miss").inc(len(batch) - hit)
        if self.shadow is not None:
            self._shadow(batch, predictions)
        return {a.fingerprint: p for a, p in zip(alerts, predictions, strict=True)}

    def _shadow(self, batch: list[dict[str, Any]], active: Sequence[PredictionLike]) -> None:
        """Score the same batch with the candidate; count where it would have differed."""
        assert self.shadow is not None
        try:
            candidate = self.shadow.predict(batch)
        except Exception:
            log.exception("shadow_predict_failed")
            return
        if self.metrics is None:
            return
        self.metrics.model_predictions.labels(role="shadow").inc(len(batch))
        for a, c in zip(active, candidate, strict=True):
            if a.urgency != c.urgency:
                self.metrics.shadow_disagreements.labels(active=a.urgency, shadow=c.urgency).inc()

    def score(self, alert: Alert, prediction: PredictionLike | None, blast: Blast) -> tuple[str, str]:
        """``(priority, reasons)`` for one alert joining or opening an incident."""
        scored = self.scored(alert, prediction, blast)
        return scored.priority, "; ".join(scored.reasons)

    def scored(self, alert: Alert, prediction: PredictionLike | None, blast: Blast) -> Scored:
        """The full result, reasons as a list (``triaged explain``)."""
        at = datetime.fromtimestamp(alert.received_at or time.time(), UTC)
        return score(
            prediction,
            alert.labels,
            alert.annotations,
            alert.source,
            blast,
            self.policy,
            self.rules,
            at,
        )


def reload_urgency_model(spec: str, registry: Path | None = None) -> UrgencyModelLike | None:
    """Read the configured model again from disk (a new file, or a new active version)."""
    _load.cache_clear()
    return load_urgency_model(spec, registry)


def model_version(model: UrgencyModelLike | None) -> str | None:
    """The model's version, when it has one."""
    return None if model is None else str(getattr(model, "version", "unknown"))


def load_urgency_model(spec: str, registry: Path | None = None) -> UrgencyModelLike | None:
    """The configured model, or None (rules and labels only) with the reason logged."""
    if spec == "none":
        return None
    if spec == "registry":
        return _load(_active_in(registry) or DEFAULT_MODEL)
    return _load(DEFAULT_MODEL if spec == "default" else Path(spec))


def _active_in(registry: Path | None) -> Path | None:
    """The promoted model's directory; an unreadable pointer is logged and ignored."""
    if registry is None:
        return None
    from classifiers.errors import ModelError
    from classifiers.registry import ModelRegistry

    try:
        return ModelRegistry(registry).active_dir()
    except ModelError as err:
        log.error("model_registry_unreadable", path=str(registry), error=str(err))
        return None


@cache
def _load(directory: Path) -> UrgencyModelLike | None:
    """Loaded once per process and path; a model that fails to load is refused, loudly."""
    try:
        from classifiers.errors import ModelError
        from classifiers.load import load_model
    except ImportError as err:  # a packaging problem: say so, keep triaging on labels
        log.error("model_unavailable", error=str(err), fallback="severity labels and rules")
        return None
    try:
        model: UrgencyModelLike = load_model(directory)
    except ModelError as err:
        log.error("model_refused", path=str(directory), error=str(err), fallback="severity labels and rules")
        return None
    log.info("model_loaded", path=str(directory))
    _return_freed_memory()
    return model


def _return_freed_memory() -> None:
    """Give back to the OS what reading the skops file left free (about 55 MiB on Linux).

    Loading builds and drops many small objects; glibc keeps the freed pages otherwise.
    """
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return


def higher(a: str, b: str) -> bool:
    """Whether priority ``a`` is more urgent than ``b`` (P1 beats P2)."""
    return a < b
