"""The ``routing:``, ``escalation:`` and ``stakeholders:`` sections: who owns an incident,
what happens when nobody acknowledges it, and who hears a summary.

Kept apart from ``daemon/settings.py`` (the schema of the daemon itself) because these
are the sections an incident manager edits; every key is documented in
``config/triaged.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from daemon.correlation_settings import WeeklyWindow
from daemon.matchers import Matcher, check_matchers, parse_matcher
from daemon.models import check_priority
from daemon.units import Duration


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Route(_Section):
    """A node of the routing tree (Alertmanager's shape): first match wins unless ``continue``."""

    matchers: list[str] = Field(default_factory=list)
    team: str | None = None
    # Connector names (from `connectors:`) this incident is opened in; None: every
    # connector whose own matchers and min_priority accept it.
    connectors: list[str] | None = None
    escalation: str | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: list[Route] = Field(default_factory=list)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("matchers")
    @classmethod
    def _valid_matchers(cls, value: list[str]) -> list[str]:
        return check_matchers(value)

    def parsed(self) -> tuple[Matcher, ...]:
        """The matchers, parsed (validated at load)."""
        return tuple(parse_matcher(m) for m in self.matchers)


class RoutingSettings(_Section):
    """The routing tree; its root's values are the defaults."""

    team: str | None = None
    connectors: list[str] | None = None
    escalation: str | None = None
    routes: list[Route] = Field(default_factory=list)
    # A router from `triaged train-router`: suggests a team for incidents no route
    # claimed; it sets the team only at or above this confidence (else: suggestion only).
    learned_model: Path | None = None
    learned_min_confidence: float = Field(default=0.7, ge=0.0, le=1.0)


class EscalationStep(_Section):
    """Not acknowledged ``after`` this long (since opened): do this."""

    after: Duration
    # Open the incident in these connectors too (a pager, another tracker).
    notify: list[str] = Field(default_factory=list)
    # Raise priority by this many steps (P3 -> P2 with 1), never above P1.
    raise_priority: int = Field(default=0, ge=0, le=4)
    # Hand the incident to another team.
    team: str | None = None


class EscalationPolicy(_Section):
    """Steps by delay; optionally repeated, optionally only within business hours."""

    steps: list[EscalationStep] = Field(min_length=1)
    # Repeat the last step this often while still unacknowledged (0: never).
    repeat_every: Duration = 0.0
    # When set, a step due outside these windows waits for the next window to open.
    business_hours: list[WeeklyWindow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> EscalationPolicy:
        delays = [s.after for s in self.steps]
        if delays != sorted(delays):
            raise ValueError(f"steps must be in order of `after`, got {delays}")
        return self


class EscalationSettings(_Section):
    """Named policies; routes pick one by name."""

    policies: dict[str, EscalationPolicy] = Field(default_factory=dict)


class StakeholderSettings(_Section):
    """A periodic summary of open incidents sent to a connector (a Slack channel, say)."""

    connector: str | None = None
    every: Duration = 3600.0
    # Only incidents at or above this priority are listed.
    min_priority: str = "P3"

    @field_validator("min_priority")
    @classmethod
    def _priority(cls, value: str) -> str:
        return check_priority(value)
