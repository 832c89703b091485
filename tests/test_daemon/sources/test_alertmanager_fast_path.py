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


@st.composite
def _sent_twice(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """An alert, then one under the same fingerprint claim: the same again, one field
    changed, or anything at all (a sender reusing a fingerprint for other labels)."""
    first = draw(ALERTS)
    first["fingerprint"] = draw(st.sampled_from(["0123456789abcdef", "x", ""]))
    kind = draw(st.sampled_from(["same", "one field", "any"]))
    if kind == "same":
        second = dict(first)
    elif kind == "one field":
        second = dict(first)
        key = draw(st.sampled_from(["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL"]))
        second[key] = draw(ALERTS)[key] if key in ("status", "labels") else draw(st.one_of(TIMES, SCALAR))
    else:
        second = draw(ALERTS)
    second["fingerprint"] = first["fingerprint"]
    return first, second


def _parsed(raw: Any) -> tuple[object, ...]:
    try:
        alert = am._to_alert(raw, 0.0)
    except ValueError:
        return ("refused",)
    got = (alert.fingerprint, alert.status.value, alert.labels, alert.annotations)
    return (*got, alert.starts_at, alert.ends_at, alert.generator_url)


@settings(max_examples=3000, deadline=None)
@given(_sent_twice())
def test_an_alert_sent_again_parses_as_if_it_were_new(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The memo of alerts by their sender's fingerprint never changes what a parse gives:
    the second alert, whatever it shares with the first, parses as pydantic reads it."""
    first, second = pair
    assert _parsed(first) == _by_pydantic(first)
    assert _parsed(second) == _by_pydantic(second)


def test_a_claimed_fingerprint_is_checked_against_the_labels() -> None:
    """A sender that puts one alert's fingerprint on another alert's labels gets the
    fingerprint of those labels, not the remembered one."""
    first = {"status": "firing", "labels": {"alertname": "A"}, "fingerprint": "f00d"}
    second = {"status": "firing", "labels": {"alertname": "B"}, "fingerprint": "f00d"}
    a, b = am._to_alert(first, 1.0), am._to_alert(second, 2.0)
    again = am._to_alert(dict(first), 3.0)
    assert (a.fingerprint, b.fingerprint) == (
        am.label_fingerprint({"alertname": "A"}),
        am.label_fingerprint({"alertname": "B"}),
    )
    assert (again.fingerprint, again.labels, again.received_at) == (a.fingerprint, a.labels, 3.0)
