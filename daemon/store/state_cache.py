"""The embedded store's memory of alert states and memberships it last committed.

Why: every batch loads the state of each of its alerts and, for alerts in an incident,
their membership; most alerts are repeats of recent ones, and decoding their JSON was
a tenth of the pipeline's CPU. The SQLite store is the only writer of its file, so what
it committed last is what a read would return: it can hand out the objects it kept.

The pipeline changes these objects in place while it works on a batch. So the cache is
emptied whenever a batch fails (its function raised, or the commit did): the objects may
then hold changes the file never got. Bounded: two generations of ``size`` entries each,
the older dropped when the newer fills (recently used entries move to the newer one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from classifiers.generations import Generations
from daemon.models import AlertState, IncidentAlert
from daemon.workset import WorkSet

K = TypeVar("K")
V = TypeVar("V")
DEFAULT_SIZE = 20_000


class StateCache:
    """Alert states by fingerprint, memberships by (incident id, fingerprint)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.alerts: Generations[str, AlertState] = Generations(size)
        self.members: Generations[tuple[str, str], IncidentAlert] = Generations(size)

    def split_alerts(self, ws: WorkSet, fps: Iterable[str]) -> list[str]:
        """Put the known states into ``ws``; return the fingerprints to read from the file."""
        return _split(self.alerts, ws.alerts, fps)

    def split_members(self, ws: WorkSet, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Put the known memberships into ``ws``; return the pairs to read from the file."""
        return set(_split(self.members, ws.members, pairs))

    def committed(self, ws: WorkSet) -> None:
        """``ws`` is now what the file holds: remember its states and memberships."""
        self.alerts.put_many(ws.alerts)
        self.members.put_many(ws.members)

    def clear(self) -> None:
        """A batch failed: its objects may differ from the file."""
        self.alerts.clear()
        self.members.clear()


def _split(known: Generations[K, V], into: dict[K, V], keys: Iterable[K]) -> list[K]:
    """Copy the known entries of ``keys`` into ``into``; return the unknown keys, in order."""
    missing = []
    for key in keys:
        value = known.get(key)
        if value is None:
            missing.append(key)
        else:
            into[key] = value
    return missing
