"""The Alertmanager source: real captured webhooks in, alerts out; bad input refused clearly."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support import fixture_body, webhook_names

from daemon.errors import PayloadError
from daemon.fingerprint import label_fingerprint
from daemon.models import AlertStatus
from daemon.sources.alertmanager import parse

NOW = 1_800_000_000.0


def test_fingerprint_matches_alertmanager_for_every_captured_alert() -> None:
    """Our FNV-1a label fingerprint equals the one Alertmanager 0.25 put on every captured alert."""
    checked = 0
    for name in webhook_names():
        for alert in fixture_body(name)["alerts"]:
            assert label_fingerprint(alert["labels"]) == alert["fingerprint"], (name, alert)
            checked += 1
    assert checked >= 39  # the fixture README counts 39 alerts


@pytest.mark.parametrize("name", webhook_names())
def test_every_capture_parses_without_rejections(name: str) -> None:
    """Each captured body yields one alert per element, statuses and labels preserved."""
    body = fixture_body(name)
    result = parse(body, NOW)
    assert result.rejected == ()
    alerts = result.notification.alerts
    assert [a.fingerprint for a in alerts] == [a["fingerprint"] for a in body["alerts"]]
    assert [a.status.value for a in alerts] == [a["status"] for a in body["alerts"]]
    assert all(a.labels == raw["labels"] for a, raw in zip(alerts, body["alerts"], strict=True))
    assert result.notification.group_key == body["groupKey"]
    assert result.notification.truncated_alerts == body["truncatedAlerts"]


def test_parse_does_not_mutate_the_payload() -> None:
    """The payload is read, never changed (a peer's .pop() on inbound payloads broke retries)."""
    body = fixture_body("firing_grouped_partially_resolved")
    before = copy.deepcopy(body)
    parse(body, NOW)
    assert body == before


def test_times_and_zero_end() -> None:
    """Nanosecond startsAt parses; Go's zero endsAt on a firing alert means 'no end'."""
    alerts = parse(fixture_body("firing_grouped_partially_resolved"), NOW).notification.alerts
    resolved, firing = alerts[0], alerts[1]
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.ends_at is not None
    assert resolved.starts_at is not None
    assert resolved.ends_at > resolved.starts_at
    assert firing.ends_at is None
    assert firing.starts_at == pytest.approx(1795715541.810608)


def test_truncated_alerts_are_kept() -> None:
    """max_alerts truncation is carried to the pipeline, not silently lost."""
    n = parse(fixture_body("truncated"), NOW).notification
    assert len(n.alerts) == 2
    assert n.truncated_alerts == 3


def _with_alerts(alerts: list[Any]) -> dict[str, Any]:
    body = fixture_body("firing_grouped")
    body["alerts"] = alerts
    return body


def test_bad_alert_is_rejected_alone() -> None:
    """One malformed alert in a batch is named and refused; the good ones are still accepted."""
    good = fixture_body("firing_grouped")["alerts"]
    bad_status = {**good[0], "status": "exploded"}
    bad_labels = {**good[0], "labels": {"alertname": 42}}
    result = parse(_with_alerts([good[0], bad_status, "not an object", bad_labels, good[1]]), NOW)
    assert [a.fingerprint for a in result.notification.alerts] == [
        good[0]["fingerprint"],
        good[1]["fingerprint"],
    ]
    assert [r.where for r in result.rejected] == ["alerts[1]", "alerts[2]", "alerts[3]"]
    assert "firing" in result.rejected[0].message
    assert "labels.alertname" in result.rejected[2].message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({"version": "4"}, "'alerts' must be a list"),
        ({"version": "4", "alerts": {}}, "'alerts' must be a list"),
        ({"version": "3", "alerts": []}, "unsupported webhook version"),
        ({"alerts": [], "truncatedAlerts": -1}, "truncatedAlerts"),
    ],
)
def test_wrong_envelope_is_a_payload_error(body: Any, message: str) -> None:
    """A body that is not an Alertmanager webhook raises PayloadError naming the problem."""
    with pytest.raises(PayloadError, match=message):
        parse(body, NOW)


def test_bad_timestamp_is_rejected() -> None:
    """A startsAt that is not RFC 3339 rejects that alert with the offending value."""
    alert = {**fixture_body("firing_grouped")["alerts"][0], "startsAt": "yesterday"}
    result = parse(_with_alerts([alert]), NOW)
    assert result.notification.alerts == ()
    assert "yesterday" in result.rejected[0].message
