"""The ``correlation:`` section: grouping, topology, similarity, storms, flapping, suppression.

Kept apart from ``daemon/settings.py`` because it is the largest section and the one
SREs tune most; every key is documented in ``config/triaged.yaml``.
"""

from __future__ import annotations

import re
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from daemon.matchers import Matcher, check_matchers, parse_matcher
from daemon.units import Duration

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GroupRoute(_Section):
    """A routing rule for grouping: alerts whose labels match use this ``group_by``.

    The other keys, when set, override the section's value for this route only.
    """

    matchers: list[str] = Field(default_factory=list)
    group_by: list[str]
    group_window: Duration | None = None
    min_alerts: int | None = Field(default=None, ge=1)
    max_alerts: int | None = Field(default=None, ge=1)
    max_age: Duration | None = None

    @field_validator("matchers")
    @classmethod
    def _valid_matchers(cls, value: list[str]) -> list[str]:
        return check_matchers(value)

    def parsed_matchers(self) -> tuple[Matcher, ...]:
        """The matchers, parsed (they were validated when the config loaded)."""
        return tuple(parse_matcher(t) for t in self.matchers)


class TopologySettings(_Section):
    """What depends on what, so a node's failure and its pods' alerts are one incident.

    Entities are ``kind:name`` strings (``host:node-3``, ``pod:shop/cart-1``,
    ``service:payments-db``); ``labels`` says which alert label names which kind of
    entity. ``depends_on`` lists, for an entity, the entities whose failure explains
    its own (a pod on its node, a service on its database). ``file`` holds more of the
    same mapping (generated from an inventory or the Kubernetes API), read at start.
    """

    enabled: bool = True
    labels: dict[str, str] = Field(
        default_factory=lambda: {
            "node": "host",
            "host": "host",
            "instance": "host",
            "pod": "pod",
            "service": "service",
            "database": "service",
        }
    )
    depends_on: dict[str, list[str]] = Field(default_factory=dict)
    file: Path | None = None
    # Alerts that only share a dependency join when it is of these kinds (pods on the
    # same node); a shared database or DNS alone does not merge unrelated outages.
    sibling_kinds: list[str] = Field(default_factory=lambda: ["host"])
    # Entities are distinct per value of these labels: service:api in two clusters is
    # two things (the map itself is shared: the same services run in every cluster).
    scope: list[str] = Field(default_factory=lambda: ["cluster"])
    # Bounds on the dependency walk: a cycle or a huge map costs at most this much.
    max_depth: int = Field(default=4, ge=1, le=16)
    max_entities: int = Field(default=32, ge=1, le=1024)

    @field_validator("depends_on")
    @classmethod
    def _entity_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name in [*value, *(d for deps in value.values() for d in deps)]:
            if ":" not in name:
                raise ValueError(f"entities are kind:name (e.g. host:node-3), got {name!r}")
        return value


class SimilaritySettings(_Section):
    """Text similarity for alerts whose labels don't say enough; off by default."""

    enabled: bool = False
    # Cosine similarity of alertname + summary (hashed word n-grams) needed to join.
    threshold: float = Field(default=0.6, gt=0.0, le=1.0)
    # Only alerts with equal values of these labels are ever compared.
    scope: list[str] = Field(default_factory=lambda: ["cluster", "namespace"])


class StormSettings(_Section):
    """Collapse a burst of new incidents in one scope into one storm incident."""

    enabled: bool = True
    # More than this many new incidents within `window` in one scope is a storm.
    threshold: int = Field(default=20, ge=2)
    window: Duration = 60.0
    scope: list[str] = Field(default_factory=lambda: ["cluster"])


class FlappingSettings(_Section):
    """An alert that changes state too often stops reopening and re-notifying."""

    enabled: bool = True
    # More than `changes` fire/resolve changes within `window` is flapping.
    changes: int = Field(default=4, ge=2)
    window: Duration = 900.0


class WeeklyWindow(_Section):
    """A recurring window: these days, from `start` to `end` (local to `timezone`)."""

    days: list[str] = Field(default_factory=lambda: list(DAYS))
    start: str
    end: str
    timezone: str = "UTC"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if d.lower()[:3] not in DAYS]
        if bad:
            raise ValueError(f"days are {', '.join(DAYS)}; got {bad}")
        return [d.lower()[:3] for d in value]

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"expected HH:MM (24 h), got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (expected e.g. Europe/Paris)") from None
        return value

    def clock(self) -> tuple[dtime, dtime]:
        """Start and end as times of day."""
        return dtime.fromisoformat(self.start), dtime.fromisoformat(self.end)


class MaintenanceWindow(_Section):
    """A recurring silence from config: planned work every week, say."""

    name: str
    matchers: list[str] = Field(min_length=1)
    weekly: list[WeeklyWindow] = Field(min_length=1)
    comment: str = ""

    @field_validator("matchers")
    @classmethod
    def _valid_matchers(cls, value: list[str]) -> list[str]:
        return check_matchers(value)


class InhibitRule(_Section):
    """Alertmanager's inhibition: a firing source alert mutes targets with equal labels."""

    source_matchers: list[str] = Field(min_length=1)
    target_matchers: list[str] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)

    @field_validator("source_matchers", "target_matchers")
    @classmethod
    def _valid_matchers(cls, value: list[str]) -> list[str]:
        return check_matchers(value)


class CorrelationSettings(_Section):
    """How alerts join incidents; see ``config/triaged.yaml`` for every key.

    ``group_by: ['...']`` means every label (no grouping), as in Alertmanager.
    """

    group_by: list[str] = Field(default_factory=lambda: ["alertname", "cluster"])
    # An incident whose alerts all went quiet this long takes no new alert.
    group_window: Duration = 3600.0
    # Trackers hear of an incident only once it holds this many alerts.
    min_alerts: int = Field(default=1, ge=1)
    # A full or old incident takes no more alerts: the next one opens a new incident.
    max_alerts: int = Field(default=10_000, ge=1)
    max_age: Duration = 7 * 86400.0
    # An incident whose alerts all resolved waits this long before it resolves (a
    # re-fire meanwhile keeps it open); a flapping alert's incident waits a flap window.
    resolve_delay: Duration = 0.0
    # An alert firing again within this long after its incident resolved reopens that
    # incident instead of opening a new one (0: never; a new outage is a new incident).
    reopen_window: Duration = 0.0
    routes: list[GroupRoute] = Field(default_factory=list)
    topology: TopologySettings = TopologySettings()
    similarity: SimilaritySettings = SimilaritySettings()
    storm: StormSettings = StormSettings()
    flapping: FlappingSettings = FlappingSettings()
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_windows(self) -> CorrelationSettings:
        names = [m.name for m in self.maintenance]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"maintenance window names must be unique: {dupes}")
        return self
