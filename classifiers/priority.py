"""ITIL priority: impact x urgency -> P1..P5, with every input's reason.

::

                  urgency  high(1)  medium(2)  low(3)
    impact high (1)          P1       P2        P3
    impact medium (2)        P2       P3        P4
    impact low (3)           P3       P4        P5

Urgency comes from the model's predicted severity (critical -> high, warning ->
medium, info -> low). Impact starts at medium and moves one step for each of:
production or not (from labels), the service's tier (config), and the blast radius
(alerts, hosts, services in the incident).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MATRIX = {
    (1, 1): "P1", (1, 2): "P2", (1, 3): "P3",
    (2, 1): "P2", (2, 2): "P3", (2, 3): "P4",
    (3, 1): "P3", (3, 2): "P4", (3, 3): "P5",
}  # fmt: skip
URGENCY_OF = {"critical": 1, "warning": 2, "info": 3}
LEVEL_NAMES = {1: "high", 2: "medium", 3: "low"}


@dataclass(frozen=True)
class ImpactPolicy:
    """How impact is read from an incident (the daemon fills it from config)."""

    # Label -> regex: an incident whose label matches is production.
    production: Mapping[str, str] = field(
        default_factory=lambda: {"env": "prod.*", "environment": "prod.*", "cluster": "prod.*"}
    )
    # Service (label ``service``) -> tier 1 (critical) .. 3 (low).
    tiers: Mapping[str, int] = field(default_factory=dict)
    # Any of these reached means a wide blast radius.
    wide_alerts: int = 10
    wide_hosts: int = 5
    wide_services: int = 3


@dataclass(frozen=True)
class Blast:
    """What an incident spans."""

    alerts: int = 1
    hosts: int = 1
    services: int = 1


def impact(labels: Mapping[str, str], blast: Blast, policy: ImpactPolicy) -> tuple[int, list[str]]:
    """Impact level 1 (high) .. 3 (low) and why."""
    level, reasons = 2, []
    prod_label, has_env_label = None, False
    for k, rx in policy.production.items():  # a loop, not generators: this runs per new alert
        value = labels.get(k)
        if value is not None:
            has_env_label = True
            if _pattern(rx).fullmatch(value):
                prod_label = k
                break
    if prod_label is not None:
        level -= 1
        reasons.append(f"production ({prod_label}={labels[prod_label]}): impact +1")
    elif has_env_label:
        level += 1
        reasons.append("not production: impact -1")
    tier = policy.tiers.get(labels.get("service", ""))
    if tier == 1:
        level -= 1
        reasons.append(f"service {labels['service']} is tier 1: impact +1")
    elif tier == 3:
        level += 1
        reasons.append(f"service {labels['service']} is tier 3: impact -1")
    if (
        blast.alerts >= policy.wide_alerts
        or blast.hosts >= policy.wide_hosts
        or blast.services >= policy.wide_services
    ):
        level -= 1
        reasons.append(
            f"wide blast radius ({blast.alerts} alerts, {blast.hosts} hosts, "
            f"{blast.services} services): impact +1"
        )
    level = min(3, max(1, level))
    return level, reasons


@functools.cache
def _pattern(rx: str) -> re.Pattern[str]:
    """Compiled once: ``re.fullmatch(rx, ...)`` looks the pattern up in re's cache on every call."""
    return re.compile(rx)


def priority(impact_level: int, urgency: str) -> str:
    """The matrix cell."""
    return MATRIX[(impact_level, URGENCY_OF[urgency])]


def shift(p: str, steps: int) -> str:
    """Move a priority: negative steps raise it (towards P1), positive lower it; clamped."""
    return f"P{min(5, max(1, int(p[1]) + steps))}"
