"""The notifications this process appended to the intake and has not taken back yet.

Why: the pipeline used to decode every intake entry it took, although the process that
appended it still held the very objects it had encoded (the edge parses a webhook, the
store writes its encoding, the pipeline reads it moments later). Decoding was a tenth of
the pipeline's cost for repeats. The durable copy is still the stored entry: after a
restart, or for an entry another replica appended, ``take`` decodes it as before.

The objects are immutable (``Notification`` and ``Alert`` are frozen, the alerts a tuple),
and the pipeline is their only reader once the append returned, so handing them over
cannot differ from decoding what was encoded (a test compares the two).

Bounded by alerts, oldest dropped first: in a burst the intake holds far more than is
worth keeping in memory (an alert's objects are about 3 KB), and on Redis an entry may be
taken by another replica and never by this one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

from daemon.models import Notification

K = TypeVar("K", bound=Hashable)
# About 60 MB of objects at most: twenty default batches, far above a steady backlog.
DEFAULT_MAX_ALERTS = 20_000


class IntakeMemo(Generic[K]):
    """Appended notifications by intake entry id, at most ``max_alerts`` alerts in all."""

    def __init__(self, max_alerts: int = DEFAULT_MAX_ALERTS) -> None:
        self.max_alerts = max_alerts
        self._kept: dict[K, Notification] = {}
        self.alerts = 0

    def __len__(self) -> int:
        return len(self._kept)

    def keep(self, entry_id: K, notification: Notification) -> None:
        """Remember an entry just appended, dropping the oldest ones if it needs the room."""
        size = len(notification.alerts)
        if size > self.max_alerts:
            return
        while self.alerts + size > self.max_alerts:
            oldest = next(iter(self._kept))
            self.alerts -= len(self._kept.pop(oldest).alerts)
        self._kept[entry_id] = notification
        self.alerts += size

    def get(self, entry_id: K) -> Notification | None:
        """The entry's notification if it is still kept (a plain lookup: safe from a store thread)."""
        return self._kept.get(entry_id)

    def forget(self, entry_ids: Iterable[K]) -> None:
        """Entries were taken (used or decoded): they are never handed out from here again."""
        for entry_id in entry_ids:
            found = self._kept.pop(entry_id, None)
            if found is not None:
                self.alerts -= len(found.alerts)

    def clear(self) -> None:
        """Forget everything (the store closed)."""
        self._kept.clear()
        self.alerts = 0
