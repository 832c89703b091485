"""A bounded cache without an LRU's bookkeeping: two generations of dictionaries.

Lookups go to the newer generation, then the older one (a hit there moves the entry
to the newer); when the newer fills, it becomes the older and the older is dropped.
So at most ``2 x size`` entries, and recently used ones survive.

It lives in ``classifiers`` because both packages use it: the model remembers its
answers with it, and the daemon its fingerprints and committed states; ``daemon`` may
import ``classifiers``, never the reverse (design.md).
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Generations(Generic[K, V]):
    """``get`` and ``put`` on two generations of ``size`` entries each."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hot: dict[K, V] = {}
        self.cold: dict[K, V] = {}

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
        if key not in self.hot and len(self.hot) >= self.size:
            self.cold, self.hot = self.hot, {}
        self.hot[key] = value

    def clear(self) -> None:
        """Forget everything."""
        self.hot.clear()
        self.cold.clear()
