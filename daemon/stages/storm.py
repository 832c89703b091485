"""Storm detection: too many new incidents in one scope within a window.

The count is per process (each replica judges the traffic it processes); the storm
incident itself is found through a group key in the store, so every replica collapses
into the same one. Hysteresis (a storm ends only below half the threshold) keeps a
storm at the threshold from opening and closing on every alert.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from daemon.correlation_settings import StormSettings


@dataclass(slots=True)
class _Scope:
    opens: deque[tuple[float, str | None]] = field(default_factory=deque)
    active: bool = False


class StormDetector:
    """Per-scope sliding window of incident openings (real and collapsed)."""

    def __init__(self, settings: StormSettings) -> None:
        self.settings = settings
        self._scopes: dict[str, _Scope] = {}

    def storming(self, scope: str, now: float) -> bool:
        """Whether opening one more incident in ``scope`` now would be part of a storm."""
        if not self.settings.enabled:
            return False
        s = self._scopes.get(scope)
        if s is None:
            return False
        self._prune(s, now)
        n = len(s.opens)
        if n >= self.settings.threshold:
            s.active = True
        elif s.active and n < self.settings.threshold // 2:
            s.active = False
        return s.active

    def opened(self, scope: str, now: float, incident_id: str | None) -> None:
        """Count an opening (``None``: an alert collapsed into the storm instead)."""
        s = self._scopes.setdefault(scope, _Scope())
        s.opens.append((now, incident_id))
        self._prune(s, now)
        if len(self._scopes) > 10_000:  # scopes with nothing recent are forgotten
            for key in [k for k, v in self._scopes.items() if not v.opens and not v.active][:5000]:
                del self._scopes[key]

    def recent(self, scope: str) -> list[str]:
        """Incidents opened in ``scope`` within the window: merged into a new storm incident."""
        s = self._scopes.get(scope)
        return [] if s is None else [i for _, i in s.opens if i is not None]

    def _prune(self, s: _Scope, now: float) -> None:
        horizon = now - self.settings.window
        while s.opens and s.opens[0][0] < horizon:
            s.opens.popleft()
        # Bounded memory during a storm: only the rate matters past the threshold.
        while len(s.opens) > 4 * self.settings.threshold:
            s.opens.popleft()
