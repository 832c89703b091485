"""The time the daemon acts on: injectable, so escalation timers are tested without sleeping."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the epoch."""

    def now(self) -> float:
        """The current time."""


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """``time.time()``."""
        return time.time()


class OffsetClock:
    """The real clock moved forward by hand (tests: "15 minutes later")."""

    def __init__(self) -> None:
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.offset += seconds

    def now(self) -> float:
        """Real time plus the offset."""
        return time.time() + self.offset
