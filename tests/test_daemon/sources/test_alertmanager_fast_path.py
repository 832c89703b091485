"""The hand-written check of an Alertmanager alert agrees with the strict pydantic model on every input."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.sources import alertmanager as am

TEXT = st.text(max_size=4)
TIMES = st.sampled_from(
    ["2026-11-26T17:52:21.810608052Z", "0001-01-01T00:00:00Z", "", "2026-11-26T17:52:21+02:00", "yesterday"]
)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), TEXT)
ALERTS = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved", "exploded"]),
        "labels": st.dictionaries(TEXT, TEXT, max_size=4),
    },
    optional={
        "annotations": st.one_of(
            st.dictionaries(TEXT, TEXT, max_size=3), st.dictionaries(TEXT, SCALAR, max_size=2), SCALAR
        ),
        "startsAt": st.one_of(TIMES, SCALAR),
        "endsAt": st.one_of(TIMES, SCALAR),
        "generatorURL": st.one_of(TEXT, SCALAR),
        "fingerprint": st.one_of(TEXT, SCALAR),
        "extra": SCALAR,
    },
)


def _by_pydantic(raw: Any) -> tuple[object, ...]:
    try:
        w = am._WireAlert.model_validate(raw)
        starts, ends = am.parse_rfc3339(w.startsAt), am.parse_rfc3339(w.endsAt)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return ("refused",)
    return (am.label_fingerprint(w.labels), w.status, w.labels, w.annotations, starts, ends, w.generatorURL)


@settings(max_examples=2000, deadline=None)
@given(ALERTS)
def test_fast_path_accepts_exactly_what_pydantic_accepts(raw: dict[str, Any]) -> None:
    """Whatever the fast path decides (accept, or a timestamp refusal) pydantic decides the same."""
    try:
        alert = am._fast_alert(raw, 0.0)
    except ValueError:
        assert _by_pydantic(raw) == ("refused",)
        return
    if alert is None:  # handed to pydantic: nothing to compare
        return
    got = (alert.fingerprint, alert.status.value, alert.labels, alert.annotations)
    assert (*got, alert.starts_at, alert.ends_at, alert.generator_url) == _by_pydantic(raw)
