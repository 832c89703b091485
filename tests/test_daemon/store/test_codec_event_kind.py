"""``codec.event_kind`` reads an event's kind without decoding it; it must agree with a
full decode for every shape an event can take, or a reader would skip the wrong events."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from daemon.models import TimelineEvent
from daemon.store import codec

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@given(
    at=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**60), 2**60),
    kind=st.text(min_size=0, max_size=30),
    actor=st.text(max_size=10),
    detail=st.dictionaries(st.sampled_from(["kind", "at", "fingerprint", "x"]), JSON, max_size=4),
)
def test_the_kind_read_off_the_bytes_is_the_decoded_kind(
    at: float, kind: str, actor: str, detail: dict[str, object]
) -> None:
    raw = codec.encode_event(TimelineEvent(at, kind, actor, detail))
    assert codec.event_kind(raw) == codec.decode_event(raw).kind


def test_a_nested_kind_is_not_taken_for_the_events_own() -> None:
    raw = codec.encode_event(TimelineEvent(1.5, "note", "bob", {"kind": "alert_joined"}))
    assert codec.event_kind(raw) == "note"
    assert codec.decode_events([raw], {"alert_joined"}) == []
