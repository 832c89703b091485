"""Score: model urgency x impact (ITIL), then the rules; the number and every reason for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from classifiers.generations import Generations
from classifiers.priority import LEVEL_NAMES, URGENCY_OF, Blast, ImpactPolicy, impact, priority
from classifiers.rules import Context, RuleSet

SEVERITY_TO_URGENCY = {
    "critical": "critical", "page": "critical", "high": "critical", "error": "warning",
    "major": "warning", "warning": "warning", "minor": "warning", "medium": "warning",
    "info": "info", "low": "info", "none": "info", "debug": "info",
}  # fmt: skip
_MODEL_REASONS: Generations[int, tuple[PredictionLike, str]] = Generations(4096)


class PredictionLike(Protocol):
    """What the scorer needs of a model prediction (``classifiers.model.Prediction``)."""

    @property
    def urgency(self) -> str:
        """critical, warning or info."""

    @property
    def probabilities(self) -> Mapping[str, float]:
        """Per class."""

    @property
    def top_features(self) -> tuple[tuple[str, float], ...]:
        """Features that pushed most toward ``urgency``."""

    @property
    def model_version(self) -> str:
        """Which model said so."""


@dataclass(frozen=True)
class Scored:
    """A priority with its explanation."""

    priority: str
    urgency: str
    impact: int
    reasons: tuple[str, ...]
    model_version: str | None
    disagrees_with_sender: bool


def model_reason(prediction: PredictionLike) -> str:
    """What the model said and why, in a line; remembered by prediction object, since
    the model hands out the same object for every alert it has seen the like of."""
    known = _MODEL_REASONS.get(id(prediction))
    if known is not None:
        return known[1]
    urgency = prediction.urgency
    top = ", ".join(f"{name} {weight:+.2f}" for name, weight in prediction.top_features[:3])
    p = prediction.probabilities.get(urgency, 0.0)
    text = f"model {prediction.model_version}: urgency {urgency} (p={p:.2f}" + (f"; {top})" if top else ")")
    # The value holds the prediction: while its id can be found, no other object has it.
    _MODEL_REASONS.put(id(prediction), (prediction, text))
    return text


def score(
    prediction: PredictionLike | None,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    source: str,
    blast: Blast,
    policy: ImpactPolicy,
    rules: RuleSet,
    at: datetime,
) -> Scored:
    """Priority for one alert (or incident) with the reasons an SRE reads."""
    reasons: list[str] = []
    sender = labels.get("severity")
    sender_urgency = SEVERITY_TO_URGENCY.get(sender.lower()) if sender else None
    if prediction is not None:
        urgency = prediction.urgency
        reasons.append(model_reason(prediction))
    elif sender_urgency is not None:
        urgency = sender_urgency
        reasons.append(f"no model: urgency {urgency} from severity={sender}")
    else:
        urgency = "warning"
        reasons.append("no model and no severity label: urgency warning")
    disagrees = prediction is not None and sender_urgency is not None and sender_urgency != urgency
    if disagrees:
        reasons.append(f"the sender says severity={sender}; the model disagrees")
        assert sender_urgency is not None
        if URGENCY_OF[sender_urgency] < URGENCY_OF[urgency]:
            # The model may raise urgency, never quietly lower what a person declared
            # (its cross-source macro-F1 is about 0.5): a rule can lower it, visibly.
            urgency = sender_urgency
            reasons.append(f"urgency {urgency}: the sender's severity outranks the model")
    level, impact_reasons = impact(labels, blast, policy)
    reasons += impact_reasons
    base = priority(level, urgency)
    reasons.append(f"impact {LEVEL_NAMES[level]} x urgency {LEVEL_NAMES[URGENCY_OF[urgency]]} -> {base}")
    final, rule_reasons = rules.apply(base, Context(labels, annotations, source, at))
    reasons += rule_reasons
    return Scored(
        priority=final,
        urgency=urgency,
        impact=level,
        reasons=tuple(reasons),
        model_version=prediction.model_version if prediction else None,
        disagrees_with_sender=disagrees,
    )
