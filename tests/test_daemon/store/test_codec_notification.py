"""Intake entries decode, through msgspec, to what ``Notification.from_json`` reads."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.models import Alert, AlertStatus, Notification
from daemon.store import codec

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=6)
TIME = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))
ALERTS = st.builds(
    Alert,
    fingerprint=TEXT,
    source=st.sampled_from(["alertmanager", "grafana", "generic"]),
    status=st.sampled_from(list(AlertStatus)),
    labels=st.dictionaries(TEXT, TEXT, max_size=4),
    annotations=st.dictionaries(TEXT, TEXT, max_size=3),
    starts_at=TIME,
    ends_at=TIME,
    generator_url=TEXT,
    received_at=st.floats(allow_nan=False, allow_infinity=False),
)
NOTIFICATIONS = st.builds(
    Notification,
    source=TEXT,
    received_at=st.floats(allow_nan=False, allow_infinity=False),
    alerts=st.lists(ALERTS, max_size=4).map(tuple),
    group_key=TEXT,
    truncated_alerts=st.integers(0, 2**63 - 1),
    receiver=TEXT,
)


def _lenient(raw: bytes) -> Notification:
    return Notification.from_json(orjson.loads(raw))


@settings(max_examples=500, deadline=None)
@given(NOTIFICATIONS)
def test_an_entry_decodes_to_the_notification_that_was_encoded(n: Notification) -> None:
    raw = codec.encode_notification(n)
    decoded = codec.decode_notification(raw)
    assert decoded == n == _lenient(raw)
    assert all(type(a.status) is AlertStatus for a in decoded.alerts)


def test_entries_of_other_shapes_still_decode_as_from_json_reads_them() -> None:
    """Whole-number times (another writer), the optional keys left out, an unknown key."""
    alert = {
        "fingerprint": "f",
        "source": "alertmanager",
        "status": "firing",
        "labels": {"alertname": "A"},
        "annotations": {},
        "starts_at": 1700000000,
        "ends_at": None,
        "generator_url": "",
        "received_at": 1700000001,
    }
    raw = orjson.dumps({"source": "alertmanager", "received_at": 1700000001, "alerts": [alert], "new": 1})
    assert codec.decode_notification(raw) == _lenient(raw)
    assert codec.decode_notification(raw).alerts[0].starts_at == 1700000000


def test_bytes_that_are_not_an_entry_raise_as_before() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        codec.decode_notification(b'{"source": ')
    with pytest.raises(KeyError):
        codec.decode_notification(b'{"source": "x"}')
