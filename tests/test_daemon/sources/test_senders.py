"""Every sender's parser: the vendors' documented bodies in, alerts out; anything else a PayloadError."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import REPO

from daemon.errors import PayloadError
from daemon.models import AlertStatus
from daemon.settings import GenericMapping
from daemon.sources import REPORT, SOURCES
from daemon.sources.generic import GenericParser

VENDORS = REPO / "tests" / "fixtures" / "vendors"
NOW = 1_800_000_000.0


def vendor(path: str) -> dict[str, Any]:
    """A fixture body from tests/fixtures/vendors (see its README for provenance)."""
    data: dict[str, Any] = json.loads((VENDORS / path).read_text())
    return data


def sns(alarm: str) -> dict[str, Any]:
    """The documented SNS notification carrying the named alarm fixture."""
    body = vendor("cloudwatch/notification.json")
    body["Message"] = (VENDORS / "cloudwatch" / alarm).read_text()
    return body


def test_grafana_documented_example() -> None:
    """Grafana's example: two alerts, Grafana's fingerprints kept, URLs and values as annotations."""
    body = vendor("grafana/firing.json")
    before = copy.deepcopy(body)
    result = SOURCES["grafana"](body, NOW)
    assert body == before  # never mutated
    assert result.rejected == ()
    first, second = result.notification.alerts
    assert [first.fingerprint, second.fingerprint] == ["c6eadffa33fcdf37", "bc97ff14869b13e3"]
    assert first.status is AlertStatus.FIRING
    assert first.labels["alertname"] == "High memory usage"
    assert first.labels["grafana_org_id"] == "1"
    assert first.annotations["values"] == "B=44.23943737541908, C=1"
    assert first.annotations["silence_url"].startswith("https://play.grafana.org/alerting/silence")
    assert "dashboard_url" not in first.annotations  # empty in the example: left out
    assert first.generator_url == "https://play.grafana.org/alerting/1afz29v7z/edit"
    assert result.notification.group_key == "{}:{}"


def test_grafana_bad_alert_rejected_by_index_others_kept() -> None:
    """Grafana batch policy: a bad element is reported by index, the rest accepted."""
    body = vendor("grafana/firing.json")
    body["alerts"].insert(1, {"status": "pending", "labels": {"alertname": "x"}})
    result = SOURCES["grafana"](body, NOW)
    assert len(result.notification.alerts) == 2
    assert [r.where for r in result.rejected] == ["alerts[1]"]
    assert result.where == ("alerts[0]", "alerts[2]")
    with pytest.raises(PayloadError, match="version"):
        SOURCES["grafana"]({**body, "version": "4"}, NOW)


def test_datadog_trigger_and_recovery_are_one_alert() -> None:
    """Triggered then Recovered of one monitor group: same fingerprint, firing then resolved."""
    fired = SOURCES["datadog"](vendor("datadog/triggered.json"), NOW).notification.alerts[0]
    ended = SOURCES["datadog"](vendor("datadog/recovered.json"), NOW).notification.alerts[0]
    assert fired.fingerprint == ended.fingerprint
    assert (fired.status, ended.status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)
    assert fired.labels["alertname"] == "CPU usage high"
    assert fired.labels["severity"] == "critical"  # $ALERT_PRIORITY P2
    assert fired.labels["env"] == "prod"
    assert fired.labels["service"] == "checkout"
    assert fired.starts_at == 1764179541.0
    assert fired.generator_url.startswith("https://app.datadoghq.com/")


def test_datadog_default_body_parses() -> None:
    """Datadog's own default body (no transition, no tags) still gives a firing alert."""
    alert = SOURCES["datadog"](vendor("datadog/default_body.json"), NOW).notification.alerts[0]
    assert alert.status is AlertStatus.FIRING
    assert alert.labels["alertname"] == "CPU usage high"
    with pytest.raises(PayloadError, match="alert_transition"):
        SOURCES["datadog"]({"title": "x", "alert_transition": "Exploded"}, NOW)


def test_zabbix_problem_and_recovery_are_one_alert() -> None:
    """{EVENT.ID} identifies the problem in both messages; severity and tags map to labels."""
    problem = SOURCES["zabbix"](vendor("zabbix/problem.json"), NOW).notification.alerts[0]
    recovery = SOURCES["zabbix"](vendor("zabbix/recovery.json"), NOW).notification.alerts[0]
    assert problem.fingerprint == recovery.fingerprint
    assert (problem.status, recovery.status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)
    assert problem.labels["severity"] == "critical"  # High
    assert problem.labels["host"] == "web-1"
    assert problem.labels["component"] == "cpu"
    assert problem.starts_at == 1795715541.0  # 2026-11-26T17:52:21Z
    assert recovery.ends_at is not None
    assert recovery.ends_at > recovery.starts_at


def test_cloudwatch_alarm_and_ok_are_one_alert() -> None:
    """ALARM then OK of one alarm: same fingerprint (its ARN); dimensions become labels."""
    fired = SOURCES["cloudwatch"](sns("alarm.json"), NOW).notification.alerts[0]
    ended = SOURCES["cloudwatch"](sns("alarm_ok.json"), NOW).notification.alerts[0]
    assert fired.fingerprint == ended.fingerprint
    assert (fired.status, ended.status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)
    assert fired.labels["InstanceId"] == "i-0123456789abcdef0"
    assert fired.labels["aws_region"] == "us-east-1"
    assert "Threshold Crossed" in fired.annotations["description"]
    with pytest.raises(PayloadError, match="Notification"):
        SOURCES["cloudwatch"](vendor("cloudwatch/subscription_confirmation.json"), NOW)
    with pytest.raises(PayloadError, match="not JSON"):
        SOURCES["cloudwatch"]({**sns("alarm.json"), "Message": "plain text"}, NOW)


UPTIME = GenericMapping.model_validate(
    {
        "alerts": "/events",
        "status": "/state",
        "status_map": {"down": "firing", "up": "resolved"},
        "labels": {"alertname": "{/monitor} down", "instance": "/url", "env": "$/environment"},
        "annotations": {"summary": "/message"},
        "identity": ["alertname", "instance"],
        "starts_at": "/time",
    }
)


def test_generic_mapping_reads_pointers_and_templates() -> None:
    """Pointers, templates and $-rooted pointers fill labels; identity labels make the fingerprint."""
    body = {
        "environment": "prod",
        "events": [
            {
                "monitor": "web",
                "url": "https://a",
                "state": "down",
                "message": "timeout",
                "time": "2026-11-26T10:00:00Z",
            },
            {"monitor": "web", "url": "https://a", "state": "up"},
            {"monitor": "db", "state": "sideways"},
        ],
    }
    result = GenericParser("uptime", UPTIME)(body, NOW)
    down, up = result.notification.alerts
    assert down.labels == {
        "alertname": "web down",
        "instance": "https://a",
        "env": "prod",
        "generic_mapping": "uptime",
    }
    assert down.fingerprint == up.fingerprint
    assert (down.status, up.status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)
    assert down.annotations == {"summary": "timeout"}
    assert [r.where for r in result.rejected] == ["alerts[2]"]
    with pytest.raises(PayloadError, match="list of alerts"):
        GenericParser("uptime", UPTIME)({"events": {}}, NOW)


def test_generic_mapping_refuses_bad_config() -> None:
    """A mapping without alertname, or with a broken template, is a config error."""
    with pytest.raises(ValueError, match="alertname"):
        GenericMapping.model_validate({"labels": {"x": "/x"}})
    with pytest.raises(ValueError, match="braces"):
        GenericMapping.model_validate({"labels": {"alertname": "{/x"}})


def test_report_becomes_an_alert() -> None:
    """A report: title -> alertname, impact -> severity; the same report twice is one alert."""
    body = {
        "title": "Checkout is slow",
        "description": "pages take 10 s",
        "reporter": "alice",
        "service": "checkout",
        "impact": "high",
    }
    first = REPORT(body, NOW).notification.alerts[0]
    again = REPORT(dict(body, title="checkout is slow"), NOW + 5).notification.alerts[0]
    assert first.source == "report"
    assert first.labels == {
        "alertname": "Checkout is slow",
        "severity": "critical",
        "service": "checkout",
        "reporter": "alice",
    }
    assert first.fingerprint == again.fingerprint
    for bad, needle in (
        ({}, "title"),
        ({"title": "x", "impact": "huge"}, "impact"),
        ({"title": ["x"]}, "title"),
    ):
        with pytest.raises(PayloadError, match=needle):
            REPORT(bad, NOW)


# Any JSON value: parsers see exactly what orjson can produce.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)
KEYS = [
    "alerts",
    "status",
    "labels",
    "annotations",
    "title",
    "alert_transition",
    "event_id",
    "event_name",
    "event_value",
    "Type",
    "Message",
    "AlarmName",
    "NewStateValue",
    "version",
    "startsAt",
    "date",
    "tags",
    "event_tags",
    "values",
    "fingerprint",
    "impact",
    "events",
    "state",
    "monitor",
    "time",
]
# Bodies shaped like the real ones, so the generator reaches past the envelope checks.
shaped = st.recursive(
    json_values,
    lambda inner: st.dictionaries(st.sampled_from(KEYS), inner, max_size=8) | st.lists(inner, max_size=3),
    max_leaves=40,
)
PARSERS = {**SOURCES, "report": REPORT, "generic": GenericParser("uptime", UPTIME)}


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=shaped)
def test_any_json_parses_or_is_a_payload_error(name: str, payload: Any) -> None:
    """Property: whatever JSON arrives, a parser returns a result or raises PayloadError, nothing else."""
    try:
        result = PARSERS[name](payload, NOW)
    except PayloadError:
        return
    for alert in result.notification.alerts:
        assert isinstance(alert.fingerprint, str)
        assert alert.fingerprint
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert.labels.items())


@settings(max_examples=100, deadline=None)
@given(alarm=st.dictionaries(st.sampled_from([*KEYS, "Trigger", "AlarmArn", "StateChangeTime"]), shaped))
def test_any_alarm_message_parses_or_is_a_payload_error(alarm: dict[str, Any]) -> None:
    """Property: the JSON inside an SNS Message is as untrusted as the envelope."""
    envelope = {"Type": "Notification", "Message": json.dumps(alarm)}
    with contextlib.suppress(PayloadError):
        SOURCES["cloudwatch"](envelope, NOW)


def test_fixture_readme_names_every_fixture() -> None:
    """Each vendor fixture's origin is written down."""
    readme = (VENDORS / "README.md").read_text()
    for path in VENDORS.glob("*/*.json"):
        assert path.name in readme or path.stem in readme, path
    assert isinstance(Path, type)


def test_documented_uptime_kuma_mapping_reads_kuma_bodies() -> None:
    """The generic mapping printed in docs/senders.md turns Uptime Kuma's down/up into one alert."""
    import re

    import yaml

    docs = (REPO / "docs" / "senders.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", docs, re.S) if "kuma:" in b)
    mapping = GenericMapping.model_validate(yaml.safe_load(block)["sources"]["generic"]["mappings"]["kuma"])
    parse = GenericParser("kuma", mapping)
    down = parse(vendor("uptime_kuma/down.json"), NOW).notification.alerts[0]
    up = parse(vendor("uptime_kuma/up.json"), NOW).notification.alerts[0]
    assert down.fingerprint == up.fingerprint
    assert (down.status, up.status) == (AlertStatus.FIRING, AlertStatus.RESOLVED)
    assert down.labels["alertname"] == "Shop down"
    assert down.labels["instance"] == "https://shop.example.com"
    assert down.starts_at == 1795715541.527
