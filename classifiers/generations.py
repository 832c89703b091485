"""A bounded cache without an LRU's bookkeeping: two generations of dictionaries.

Lookups go to the newer generation, then the older one (a hit there moves the entry
to the newer); when the newer fills, it becomes the older and the older is dropped.
So at most ``2 x size`` entries are found, and recently used ones survive.

The dropped generation is freed one entry per ``put``, not at once: freeing 20,000
alert states or groupings in one go held the event loop for 35-45 ms, every few
seconds at a few thousand new alerts a second (a lag probe in the ingest benchmark's
paced phase), which was most of the webhooks' p99. A generation needs ``size`` puts to
fill, so the dropped one is empty before the next rotation.

It lives in ``classifiers`` because both packages use it: the model remembers its
answers with it, and the daemon its fingerprints, groupings and committed states;
``daemon`` may import ``classifiers``, never the reverse (design.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Generations(Generic[K, V]):
    """``get`` and ``put`` on two generations of ``size`` entries each."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hot: dict[K, V] = {}
        self.cold: dict[K, V] = {}
        # The generation before ``cold``: never looked up, freed one entry per put.
        self.dropped: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        """The remembered value, or None."""
        value = self.hot.get(key)
        if value is None:
            value = self.cold.get(key)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` in the newer generation (rotating it when full)."""
        if self.dropped:
            self.dropped.popitem()
        if key not in self.hot and len(self.hot) >= self.size:
            self.dropped, self.cold, self.hot = self.cold, self.hot, {}
        self.hot[key] = value

    def put_many(self, items: Mapping[K, V]) -> None:
        """``put`` each item, in one dictionary update when they fit in the newer generation."""
        if len(self.hot) + len(items) > self.size:
            for key, value in items.items():
                self.put(key, value)
            return
        for _ in range(min(len(items), len(self.dropped))):
            self.dropped.popitem()
        self.hot.update(items)

    def __len__(self) -> int:
        """Entries that can still be found."""
        return len(self.hot) + len(self.cold)

    def clear(self) -> None:
        """Forget everything."""
        self.hot.clear()
        self.cold.clear()
        self.dropped.clear()
