"""Declarative priority rules that SREs write and read (``config/rules.yaml``).

A rule matches on labels, annotations, source and time, and then sets, raises,
lowers, floors or caps the priority, always with a reason that is shown on the
incident. Rules run after the model, in file order; every rule that fires is listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from classifiers import strict_yaml
from classifiers.priority import shift

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Match(_Strict):
    """Conditions, all of which must hold (an empty match matches everything)."""

    labels: dict[str, str] = Field(default_factory=dict)  # equals
    labels_regex: dict[str, str] = Field(default_factory=dict)  # full match
    labels_in: dict[str, list[str]] = Field(default_factory=dict)
    absent: list[str] = Field(default_factory=list)  # labels that must be missing
    annotations_regex: dict[str, str] = Field(default_factory=dict)  # search
    source: str | None = None
    hours: str | None = None  # "HH:MM-HH:MM" in UTC; may wrap midnight
    days: list[str] = Field(default_factory=list)  # mon..sun, UTC

    @field_validator("labels_regex", "annotations_regex")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for key, rx in value.items():
            try:
                re.compile(rx)
            except re.error as err:
                raise ValueError(f"{key}: invalid regular expression {rx!r}: {err}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            m = _HOURS.match(value)
            if not m or int(m[1]) > 23 or int(m[3]) > 24 or int(m[2]) > 59 or int(m[4]) > 59:
                raise ValueError(f"expected HH:MM-HH:MM such as 22:00-06:00, got {value!r}")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if d.lower() not in DAYS]
        if bad:
            raise ValueError(f"expected days among {', '.join(DAYS)}, got {bad}")
        return [d.lower() for d in value]


class Rule(_Strict):
    """One rule: when ``match`` holds, apply ``action``, and say ``reason``."""

    name: str
    match: Match = Match()
    action: Literal["set", "raise", "lower", "floor", "cap"]
    priority: str | None = None  # for set, floor (at least this urgent), cap (at most)
    steps: int = Field(default=1, ge=1, le=4)  # for raise and lower
    reason: str

    @model_validator(mode="after")
    def _needs_priority(self) -> Rule:
        if self.action in ("set", "floor", "cap"):
            if self.priority not in PRIORITIES:
                raise ValueError(f"action {self.action} needs priority: one of {', '.join(PRIORITIES)}")
        elif self.priority is not None:
            raise ValueError(f"action {self.action} takes steps, not priority")
        return self


class RuleFile(_Strict):
    """The file's top level."""

    rules: list[Rule] = Field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What rules can look at."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    source: str
    at: datetime  # UTC


class RuleError(ValueError):
    """A rules file that cannot be used; ``problems`` names each key and expectation."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class RuleSet:
    """Loaded rules, applied in order."""

    rules: tuple[Rule, ...] = ()

    def apply(self, priority: str, ctx: Context) -> tuple[str, list[str]]:
        """The priority after every matching rule, and one reason per rule that fired."""
        reasons = []
        for rule in self.rules:
            if not matches(rule.match, ctx):
                continue
            before = priority
            priority = _act(rule, priority)
            change = f"{before} -> {priority}" if priority != before else f"{priority} unchanged"
            reasons.append(f"rule {rule.name!r} ({rule.action}): {rule.reason} [{change}]")
        return priority, reasons


def _act(rule: Rule, p: str) -> str:
    if rule.action == "set":
        assert rule.priority is not None
        return rule.priority
    if rule.action == "raise":
        return shift(p, -rule.steps)
    if rule.action == "lower":
        return shift(p, rule.steps)
    assert rule.priority is not None
    if rule.action == "floor":  # at least this urgent
        return min(p, rule.priority)
    return max(p, rule.priority)  # cap: at most this urgent


def matches(m: Match, ctx: Context) -> bool:
    """Whether every condition of ``m`` holds for ``ctx``."""
    labels = ctx.labels
    if any(labels.get(k) != v for k, v in m.labels.items()):
        return False
    if any(re.fullmatch(rx, labels.get(k, "")) is None for k, rx in m.labels_regex.items()):
        return False
    if any(labels.get(k) not in vs for k, vs in m.labels_in.items()):
        return False
    if any(k in labels for k in m.absent):
        return False
    if any(re.search(rx, ctx.annotations.get(k, "")) is None for k, rx in m.annotations_regex.items()):
        return False
    if m.source is not None and m.source != ctx.source:
        return False
    if m.days and DAYS[ctx.at.weekday()] not in m.days:
        return False
    return m.hours is None or _in_hours(m.hours, ctx.at.time())


def _in_hours(window: str, now: time) -> bool:
    m = _HOURS.match(window)
    assert m is not None
    start = int(m[1]) * 60 + int(m[2])
    end = int(m[3]) * 60 + int(m[4])
    minute = now.hour * 60 + now.minute
    return start <= minute < end if start <= end else minute >= start or minute < end


def load_rules(path: Path) -> RuleSet:
    """Read and validate a rules file; ``RuleError`` lists every problem with its key."""
    try:
        data: Any = strict_yaml.load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise RuleError([f"{path}: cannot read rules file: {err.strerror}"]) from None
    except yaml.YAMLError as err:
        raise RuleError([f"{path}: {strict_yaml.describe(err)}"]) from None
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as err:
        raise RuleError(
            [
                f"{path}: {'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in err.errors(include_url=False)
            ]
        ) from None
    return RuleSet(tuple(parsed.rules))
