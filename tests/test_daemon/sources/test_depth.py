"""``check_depth`` refuses exactly the JSON that nests deeper than the limit, whatever its shape."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.errors import PayloadError
from daemon.sources.limits import check_depth

SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
)
KEY = st.text(max_size=3)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEY, inner, max_size=4)),
    max_leaves=40,
)


def depth(value: Any) -> int:
    """The definition: a scalar is depth 0, a container one more than its deepest child."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@settings(max_examples=1500, deadline=None)
@given(JSON, st.integers(min_value=1, max_value=8))
def test_refuses_exactly_what_is_deeper_than_the_limit(value: Any, limit: int) -> None:
    decoded = orjson.loads(orjson.dumps(value))  # as the edge gets it: orjson's own types
    if depth(decoded) > limit:
        with pytest.raises(PayloadError, match=r"intake\.max_depth"):
            check_depth(decoded, limit)
    else:
        check_depth(decoded, limit)


def test_a_deep_branch_beside_flat_ones_is_found() -> None:
    """Most nodes are passed over by their children's types; the one deep branch is not."""
    alerts = [{"labels": {"a": "b"}, "annotations": {"c": "d"}} for _ in range(50)]
    deep: Any = "x"
    for _ in range(6):
        deep = {"k": [deep]}
    body = orjson.loads(orjson.dumps({"alerts": [*alerts, {"labels": {"a": "b"}, "extra": deep}]}))
    check_depth(body, depth(body))
    with pytest.raises(PayloadError):
        check_depth(body, depth(body) - 1)
    assert depth(body) == 3 + 12
