"""AWS CloudWatch alarms delivered by SNS: the ``Notification`` envelope whose ``Message`` is the alarm.

Envelope checks that need the network (signature, subscription confirmation) live in
``daemon/sources/sns.py`` and run in the handler before this pure parser. One SNS
message is one alarm state change: a bad one is a 400 (SNS retries by its delivery
policy, then drops it; nothing we could accept in part).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from daemon.errors import PayloadError
from daemon.models import Alert, AlertStatus
from daemon.sources.common import BadAlert, drop_empty, require_object, sender_fingerprint, single, text
from daemon.sources.result import ParseResult
from daemon.timeparse import parse_rfc3339

SOURCE = "cloudwatch"
# NewStateValue. INSUFFICIENT_DATA is kept firing: missing data from a watched metric is
# itself worth a look, and the state is shown in the cloudwatch_state label.
STATUS_MAP = {
    "ALARM": AlertStatus.FIRING,
    "INSUFFICIENT_DATA": AlertStatus.FIRING,
    "OK": AlertStatus.RESOLVED,
}


def parse(payload: object, received_at: float) -> ParseResult:
    """Turn an SNS ``Notification`` carrying a CloudWatch alarm into one alert."""
    envelope = require_object(payload, "an SNS message")
    kind = envelope.get("Type")
    if kind != "Notification":
        raise PayloadError("expected an SNS message of Type 'Notification'")
    message = envelope.get("Message")
    if not isinstance(message, str):
        raise PayloadError("'Message' must be a string holding the alarm JSON")
    try:
        alarm = orjson.loads(message)
    except orjson.JSONDecodeError:
        raise PayloadError("'Message' is not JSON: is this topic fed by a CloudWatch alarm?") from None
    if not isinstance(alarm, Mapping):
        raise PayloadError("'Message' must hold a JSON object (a CloudWatch alarm)")
    try:
        alert = _to_alert(alarm, received_at, text(envelope, "TopicArn"))
    except (ValueError, OverflowError) as err:
        raise PayloadError(str(err)) from None
    return single(SOURCE, received_at, alert)


def _to_alert(alarm: Mapping[str, Any], received_at: float, topic: str) -> Alert:
    name = text(alarm, "AlarmName")
    state = text(alarm, "NewStateValue")
    if not name:
        raise BadAlert("AlarmName is required")
    status = STATUS_MAP.get(state)
    if status is None:
        raise BadAlert("NewStateValue: expected ALARM, OK or INSUFFICIENT_DATA")
    arn = text(alarm, "AlarmArn")
    region = arn.split(":")[3] if arn.count(":") >= 5 else ""
    trigger = alarm.get("Trigger")
    trigger = trigger if isinstance(trigger, Mapping) else {}
    labels = {
        "alertname": name,
        "cloudwatch_state": state,
        "aws_account_id": text(alarm, "AWSAccountId"),
        "aws_region": region,
        "namespace": text(trigger, "Namespace"),
        "metric_name": text(trigger, "MetricName"),
        **_dimensions(trigger.get("Dimensions")),
    }
    reason = text(alarm, "NewStateReason")
    annotations = {
        "summary": text(alarm, "AlarmDescription") or f"{name} is {state}",
        "description": reason,
        "alarm_arn": arn,
        "sns_topic_arn": topic,
        "previous_state": text(alarm, "OldStateValue"),
    }
    identity = arn or f"{labels['aws_account_id']}/{text(alarm, 'Region')}/{name}"
    console = (
        f"https://console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"
        if region
        else ""
    )
    return Alert(
        fingerprint=sender_fingerprint(SOURCE, identity),
        source=SOURCE,
        status=status,
        labels=drop_empty(labels),
        annotations=drop_empty(annotations),
        starts_at=parse_rfc3339(text(alarm, "StateChangeTime")),
        ends_at=None,
        generator_url=console,
        received_at=received_at,
    )


def _dimensions(dimensions: object) -> dict[str, str]:
    """``[{"name": "InstanceId", "value": "i-0123"}]`` -> ``{"InstanceId": "i-0123"}``."""
    if not isinstance(dimensions, list):
        return {}
    out: dict[str, str] = {}
    for item in dimensions:
        if isinstance(item, Mapping):
            key, value = item.get("name"), item.get("value")
            if isinstance(key, str) and isinstance(value, str) and key and key not in ("alertname",):
                out[key] = value
    return out
