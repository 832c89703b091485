"""The two-generation cache: bounded, keeps what is used, frees what it drops gradually."""

from __future__ import annotations

import weakref

from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers.generations import Generations


class Value:
    """A weakly referenceable value, to see when the cache lets go of it."""


def test_recently_used_entries_survive_a_rotation_and_old_ones_are_forgotten() -> None:
    cache: Generations[int, Value] = Generations(3)
    values = {k: Value() for k in range(7)}
    for k in (0, 1, 2):
        cache.put(k, values[k])
    cache.put(3, values[3])  # rotation: 0-2 become the older generation
    assert cache.get(0) is values[0]  # a hit in the older generation moves it to the newer
    for k in (4, 5, 6):
        cache.put(k, values[k])  # rotation again: the newer (3, 0, 4) becomes the older
    assert cache.get(0) is values[0]
    assert cache.get(1) is None
    assert cache.get(2) is None
    assert len(cache) <= 6


def test_a_dropped_generation_is_freed_one_entry_per_put_not_at_once() -> None:
    size = 100
    cache: Generations[int, Value] = Generations(size)
    first = [Value() for _ in range(size)]
    refs = [weakref.ref(v) for v in first]
    for k, v in enumerate(first):
        cache.put(k, v)
    del first, v
    for k in range(size, 2 * size):
        cache.put(k, Value())  # the first rotation: ``first`` becomes the older generation
    assert all(r() is not None for r in refs)
    cache.put(10_000, Value())  # the second rotation drops ``first`` from lookups
    assert cache.get(0) is None
    alive = sum(r() is not None for r in refs)
    assert alive >= size - 2, "the whole generation was freed in one call"
    for k in range(20_000, 20_010):
        cache.put(k, Value())
    assert sum(r() is not None for r in refs) == alive - 10
    for k in range(30_000, 30_000 + size):
        cache.put(k, Value())
    assert all(r() is None for r in refs), "the dropped generation outlived the next one's filling"


def test_clear_forgets_everything() -> None:
    cache: Generations[str, int] = Generations(2)
    for i, k in enumerate("abcde"):
        cache.put(k, i)
    cache.clear()
    assert len(cache) == 0
    assert cache.get("e") is None
    assert not cache.dropped


@settings(max_examples=400, deadline=None)
@given(
    size=st.integers(1, 6),
    batches=st.lists(st.dictionaries(st.integers(0, 12), st.integers(), max_size=8), max_size=12),
)
def test_put_many_leaves_the_cache_as_one_put_per_item_would(
    size: int, batches: list[dict[int, int]]
) -> None:
    one: Generations[int, int] = Generations(size)
    many: Generations[int, int] = Generations(size)
    for batch in batches:
        for k, v in batch.items():
            one.put(k, v)
        many.put_many(batch)
        assert (many.hot, many.cold, len(many.dropped)) == (one.hot, one.cold, len(one.dropped))
