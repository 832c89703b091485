"""Silences and maintenance windows: matchers plus a time (one-off, or recurring weekly).

A silenced alert is recorded (its state is kept, counted in
``triaged_alerts_suppressed_total{reason}``) but opens or joins no incident. Silences
made through the API live in the store, so every replica applies them; maintenance
windows from config are the same thing, recurring, and cannot be expired by API.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from daemon.correlation_settings import DAYS, MaintenanceWindow, WeeklyWindow
from daemon.errors import PayloadError
from daemon.matchers import Matcher, check_matchers, matches_all, parse_matcher
from daemon.timeparse import iso, parse_rfc3339
from daemon.units import parse_duration


@dataclass(slots=True)
class Silence:
    """Matchers plus when they apply; ``weekly`` windows make it recurring."""

    id: str
    matchers: list[str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float
    weekly: list[dict[str, Any]] = field(default_factory=list)
    _parsed: tuple[Matcher, ...] = field(default=(), repr=False, compare=False)
    _windows: tuple[WeeklyWindow, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        self._parsed = tuple(parse_matcher(m) for m in self.matchers)
        self._windows = tuple(WeeklyWindow.model_validate(w) for w in self.weekly)

    def state(self, now: float) -> str:
        """``pending``, ``active`` or ``expired`` (a recurring one is active all its span)."""
        if now >= self.ends_at:
            return "expired"
        return "pending" if now < self.starts_at else "active"

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        """Whether this silence mutes an alert with these labels at ``now``."""
        if self.state(now) != "active" or not matches_all(self._parsed, labels):
            return False
        return not self._windows or any(in_window(w, now) for w in self._windows)

    def to_json(self) -> dict[str, Any]:
        """The stored shape (times as Unix seconds)."""
        return {
            "id": self.id,
            "matchers": self.matchers,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
            "created_at": self.created_at,
            "weekly": self.weekly,
        }

    def view(self, now: float) -> dict[str, Any]:
        """The API shape: RFC 3339 times and the current state."""
        body = self.to_json()
        for key in ("starts_at", "ends_at", "created_at"):
            body[key] = iso(body[key]) if body[key] not in (0.0, float("inf")) else None
        body["state"] = self.state(now)
        return body

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Silence:
        """The inverse of ``to_json``."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if not k.startswith("_") and k in data})


def in_window(window: WeeklyWindow, now: float) -> bool:
    """Whether ``now`` falls in a weekly window (an end before the start wraps past midnight)."""
    local = datetime.fromtimestamp(now, ZoneInfo(window.timezone))
    start, end = window.clock()
    t = local.time()
    day = DAYS[local.weekday()]
    if start <= end:
        return day in window.days and start <= t < end
    yesterday = DAYS[(local - timedelta(days=1)).weekday()]
    return (day in window.days and t >= start) or (yesterday in window.days and t < end)


def maintenance_silences(windows: Sequence[MaintenanceWindow]) -> list[Silence]:
    """Config windows as never-ending recurring silences (ids ``maintenance:<name>``)."""
    return [
        Silence(
            id=f"maintenance:{w.name}",
            matchers=list(w.matchers),
            starts_at=0.0,
            ends_at=float("inf"),
            created_by="config",
            comment=w.comment or f"maintenance window {w.name}",
            created_at=0.0,
            weekly=[x.model_dump() for x in w.weekly],
        )
        for w in windows
    ]


class _NewSilence(BaseModel):
    """The body of ``POST /api/v1/silences``."""

    model_config = ConfigDict(extra="forbid")

    matchers: list[str] = Field(min_length=1, max_length=32)
    starts_at: str | None = None
    ends_at: str | None = None
    duration: str | None = None
    created_by: str = Field(default="api", max_length=200)
    comment: str = Field(default="", max_length=2000)
    weekly: list[WeeklyWindow] = Field(default_factory=list, max_length=14)

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        return check_matchers(value)

    @model_validator(mode="after")
    def _one_end(self) -> _NewSilence:
        if (self.ends_at is None) == (self.duration is None):
            raise ValueError("give exactly one of ends_at (RFC 3339) or duration (e.g. 2h)")
        return self


def new_silence(body: object, now: float | None = None) -> Silence:
    """Validate an API body into a silence; every problem is a ``PayloadError`` naming the field."""
    now = time.time() if now is None else now
    try:
        req = _NewSilence.model_validate(body)
        starts: float | None = parse_rfc3339(req.starts_at) if req.starts_at else now
        ends: float | None
        if req.duration is not None:
            ends = (starts or now) + parse_duration(req.duration)
        else:
            ends = parse_rfc3339(req.ends_at or "")
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise PayloadError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
    except ValueError as err:
        raise PayloadError(str(err)) from None
    if starts is None or ends is None or ends <= starts:
        raise PayloadError("the silence must end after it starts")
    if ends <= now:
        raise PayloadError("the silence would already be over")
    return Silence(
        id="sil_" + uuid.uuid4().hex[:20],
        matchers=req.matchers,
        starts_at=starts,
        ends_at=ends,
        created_by=req.created_by,
        comment=req.comment,
        created_at=now,
        weekly=[w.model_dump() for w in req.weekly],
    )
