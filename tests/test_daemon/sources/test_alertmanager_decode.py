"""The one-pass decode of Alertmanager bodies answers as the general path does, or stands aside."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from support import fixture_raw, webhook_names

from daemon.errors import PayloadError
from daemon.settings import IntakeSettings
from daemon.sources import alertmanager, alertmanager_decode
from daemon.sources.limits import check_depth, enforce
from daemon.sources.result import ParseResult

TEXT = st.text(max_size=4)
# Lone surrogates, characters of several bytes, lengths either side of small limits.
ODD = st.sampled_from(["\ud800", "ééé", "😀😀", "x" * 6, ""])
VALUE = st.one_of(TEXT, ODD)
TIMES = st.sampled_from(
    ["2026-11-26T17:52:21.810608052Z", "0001-01-01T00:00:00Z", "", "2026-11-26T17:52:21+02:00", "yesterday"]
)
NUMBER = st.one_of(
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**23]),
    st.floats(allow_nan=False, allow_infinity=False),
)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
NESTED = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=2), max_leaves=6)
LABELS = st.one_of(
    st.dictionaries(VALUE, VALUE, max_size=4), st.dictionaries(TEXT, SCALAR, max_size=2), SCALAR
)
ANYTHING = st.one_of(SCALAR, NESTED, LABELS, VALUE, TIMES, st.sampled_from(["firing", "resolved", "4"]))
ALERT = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": st.dictionaries(VALUE, VALUE, min_size=1, max_size=4),
    },
    optional={
        "annotations": st.dictionaries(VALUE, VALUE, max_size=3),
        "startsAt": TIMES,
        "endsAt": TIMES,
        "generatorURL": VALUE,
        "fingerprint": st.one_of(st.sampled_from(["0123456789abcdef", "fedcba9876543210"]), TEXT),
    },
)
ENVELOPE = st.fixed_dictionaries(
    {},
    optional={
        "version": st.just("4"),
        "truncatedAlerts": st.integers(0, 3),
        "groupKey": TEXT,
        "receiver": TEXT,
        "status": TEXT,
        "groupLabels": st.dictionaries(TEXT, TEXT, max_size=2),
        "commonLabels": st.dictionaries(TEXT, TEXT, max_size=2),
        "commonAnnotations": st.dictionaries(TEXT, TEXT, max_size=2),
        "externalURL": TEXT,
    },
)
ENVELOPE_KEYS = (
    "version",
    "truncatedAlerts",
    "groupKey",
    "receiver",
    "status",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "externalURL",
)
ALERT_KEYS = ("status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint", "extra")


@st.composite
def _bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A body within the shape Alertmanager sends, then up to two changes anywhere: a key
    set to anything (or added), or removed. Mostly near-valid, so that each check of the
    schema is met on its own rather than hidden behind another refusal."""
    body: dict[str, Any] = draw(ENVELOPE)
    body["alerts"] = draw(st.lists(ALERT, max_size=4))
    for _ in range(draw(st.integers(0, 2))):
        alerts = body.get("alerts")
        objects = [a for a in alerts if isinstance(a, dict)] if isinstance(alerts, list) else []
        in_alert = bool(objects) and draw(st.booleans())
        target = draw(st.sampled_from(objects)) if in_alert else body
        key = draw(st.sampled_from(ALERT_KEYS if in_alert else (*ENVELOPE_KEYS, "alerts", "unknown")))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(ANYTHING)
    return body


LIMITS = st.builds(
    IntakeSettings,
    max_alerts=st.integers(1, 6),
    max_labels=st.integers(1, 5),
    max_key_length=st.integers(1, 5),
    max_value_length=st.integers(1, 7),
    max_depth=st.integers(2, 6),
)


def _general(raw: bytes, limits: IntakeSettings) -> ParseResult | None:
    """What the edge's general path makes of ``raw``; ``None`` when it refuses the body."""
    try:
        payload = orjson.loads(raw)
        check_depth(payload, limits.max_depth)
        return enforce(alertmanager.parse(payload, 1.0), limits)
    except (orjson.JSONDecodeError, PayloadError):
        return None


def _view(result: ParseResult) -> tuple[object, ...]:
    n = result.notification
    alerts = tuple(
        (a.fingerprint, a.source, a.status, a.labels, a.annotations, a.starts_at, a.ends_at, a.generator_url)
        for a in n.alerts
    )
    return (n.source, n.received_at, n.group_key, n.truncated_alerts, n.receiver, alerts, result.where)


def _same_answer(raw: bytes, limits: IntakeSettings) -> bool:
    """Assert the one-pass answer, when there is one, is the general path's whole acceptance."""
    fast = alertmanager_decode.parse(raw, 1.0, limits)
    if isinstance(fast, str):
        assert fast in alertmanager_decode.ASIDE
        return False
    general = _general(raw, limits)
    assert general is not None, "the one pass accepted a body the general path refuses"
    assert general.rejected == (), "the one pass accepted every alert, the general path refused some"
    assert _view(fast) == _view(general)
    return True


@pytest.mark.parametrize("name", webhook_names())
def test_every_captured_body_is_read_in_one_pass_as_the_general_path_reads_it(name: str) -> None:
    assert _same_answer(fixture_raw(name), IntakeSettings())


@settings(max_examples=4000, deadline=None)
@given(_bodies(), LIMITS, st.booleans())
def test_any_body_is_answered_as_the_general_path_answers_or_left_to_it(
    body: dict[str, Any], limits: IntakeSettings, ascii_only: bool
) -> None:
    """Bad alerts, unknown keys, limits crossed, lone surrogates, huge counts: the one pass
    never accepts what the general path would refuse or answer differently."""
    text = json.dumps(body, ensure_ascii=ascii_only)
    _same_answer(text.encode("utf-8", "surrogatepass"), limits)


GOOD_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8)
GOOD_ALERT = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": st.dictionaries(GOOD_TEXT, GOOD_TEXT, min_size=1, max_size=6),
        "annotations": st.dictionaries(GOOD_TEXT, GOOD_TEXT, max_size=3),
        "startsAt": st.sampled_from(["2026-11-26T17:52:21.810608052Z", "2026-11-26T17:52:21+02:00"]),
        "endsAt": st.sampled_from(["0001-01-01T00:00:00Z", "2026-11-26T18:00:00Z"]),
        "generatorURL": GOOD_TEXT,
        "fingerprint": st.sampled_from(["", "0123456789abcdef", "fedcba9876543210"]),
    }
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(GOOD_ALERT, max_size=8), st.integers(0, 5))
def test_a_well_formed_body_within_the_limits_is_always_read_in_one_pass(
    alerts: list[dict[str, Any]], truncated: int
) -> None:
    body = {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": truncated, "alerts": alerts}
    assert _same_answer(orjson.dumps(body), IntakeSettings())


def test_a_body_deeper_than_the_schema_allows_is_left_to_the_general_path() -> None:
    raw, depth = fixture_raw("firing_grouped"), alertmanager_decode.DEPTH
    assert isinstance(alertmanager_decode.parse(raw, 1.0, IntakeSettings(max_depth=depth)), ParseResult)
    assert alertmanager_decode.parse(raw, 1.0, IntakeSettings(max_depth=depth - 1)) == "depth_limit"
    deep = orjson.loads(raw) | {"unknown": [[[[[[1]]]]]]}
    assert alertmanager_decode.parse(orjson.dumps(deep), 1.0, IntakeSettings()) == "unknown_field"
    # Nesting far past any recursion limit, in an unknown key and in typed ones: an answer.
    n = 200_000
    for body in (
        b'{"alerts": [], "x": ' + b"[" * n + b"]" * n + b"}",
        b'{"alerts": [], "groupLabels": ' + b"[" * n + b"]" * n + b"}",
        b'{"alerts": [{"status": "firing", "labels": ' + b'{"a": ' * n + b'"x"' + b"}" * n + b"}]}",
        b"[" * n,
    ):
        assert alertmanager_decode.parse(body, 1.0, IntakeSettings()) in alertmanager_decode.ASIDE


def test_a_key_it_does_not_know_is_reported_once_by_where_it_is() -> None:
    """A newer Alertmanager adding a key sends every body the slower way: said once per key
    (alert positions folded), so an operator can see why the edge costs more."""
    body = orjson.loads(fixture_raw("firing_grouped"))
    for alert in body["alerts"]:
        alert["silencedBy"] = []
    with capture_logs() as logs:
        for _ in range(3):
            assert alertmanager_decode.parse(orjson.dumps(body), 1.0, IntakeSettings()) == "unknown_field"
    reports = [e for e in logs if e["event"] == "alertmanager_key_unknown"]
    assert [e["key"] for e in reports] == ["$.alerts[].silencedBy"]
    assert alertmanager_decode.parse(b'{"alerts": [], "version": 4}', 1.0, IntakeSettings()) == "checks"
    assert alertmanager_decode.parse(b'{"alerts": [', 1.0, IntakeSettings()) == "not_json"
