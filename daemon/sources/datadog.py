"""Datadog monitor webhooks: the JSON body documented in docs/senders.md, built from $VARIABLES.

Datadog lets each webhook define its own body. We document one (``docs/senders.md``)
and read only what it names; Datadog's default body (``$ID``, ``$EVENT_TITLE``,
``$EVENT_MSG``, ``$DATE``...) also parses, with fewer labels. One body is one alert,
so the batch policy is all or nothing: a bad body is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.errors import PayloadError
from daemon.fingerprint import label_fingerprint
from daemon.models import Alert, AlertStatus
from daemon.sources.common import BadAlert, drop_empty, require_object, sender_fingerprint, single, text
from daemon.sources.result import ParseResult

SOURCE = "datadog"
# $ALERT_TRANSITION values; "Recovered" is the only one that ends an alert.
STATUS_MAP = {
    "triggered": AlertStatus.FIRING,
    "re-triggered": AlertStatus.FIRING,
    "renotify": AlertStatus.FIRING,
    "warn": AlertStatus.FIRING,
    "re-warn": AlertStatus.FIRING,
    "no data": AlertStatus.FIRING,
    "re-no data": AlertStatus.FIRING,
    "recovered": AlertStatus.RESOLVED,
}
# $ALERT_TYPE when no transition was sent (the default body has neither).
TYPE_STATUS = {"success": AlertStatus.RESOLVED}
# $ALERT_PRIORITY (P1..P5) and $ALERT_TYPE -> our severity label.
SEVERITY_MAP = {
    "p1": "critical",
    "p2": "critical",
    "p3": "warning",
    "p4": "info",
    "p5": "info",
    "error": "critical",
    "warning": "warning",
    "info": "info",
}
# Body keys copied to labels as datadog_<key> when set.
LABEL_FIELDS = ("alert_id", "hostname", "alert_scope", "org_id", "priority")


def parse(payload: object, received_at: float) -> ParseResult:
    """Turn one Datadog webhook body into one alert; never mutates ``payload``."""
    body = require_object(payload, "a Datadog webhook body")
    try:
        return single(SOURCE, received_at, _to_alert(body, received_at))
    except (ValueError, OverflowError) as err:
        raise PayloadError(str(err)) from None


def _to_alert(body: Mapping[str, Any], received_at: float) -> Alert:
    title = text(body, "title") or text(body, "alert_title")
    if not title:
        raise BadAlert("title is required ($EVENT_TITLE or $ALERT_TITLE)")
    status = _status(body)
    labels = {"alertname": text(body, "alert_title") or _rule_name(title)}
    for key in LABEL_FIELDS:
        labels[f"datadog_{key}"] = text(body, key)
    severity = SEVERITY_MAP.get(text(body, "alert_priority").lower()) or SEVERITY_MAP.get(
        text(body, "alert_type").lower()
    )
    if severity:
        labels["severity"] = severity
    labels.update(_tags(body.get("tags")))
    labels = drop_empty(labels)
    # $AGGREG_KEY is stable for one monitor group across trigger and recovery; the
    # monitor id plus its scope is the next best; the title is the last resort.
    key = text(body, "aggreg_key")
    if not key and text(body, "alert_id"):
        key = f"{text(body, 'alert_id')}/{text(body, 'alert_scope')}"
    fingerprint = sender_fingerprint(SOURCE, key) if key else label_fingerprint(labels)
    annotations = drop_empty(
        {
            "summary": title,
            "description": text(body, "body"),
            "datadog_event_id": text(body, "id"),
            "datadog_transition": text(body, "alert_transition"),
            "datadog_query": text(body, "alert_query"),
            "datadog_status": text(body, "alert_status"),
        }
    )
    return Alert(
        fingerprint=fingerprint,
        source=SOURCE,
        status=status,
        labels=labels,
        annotations=annotations,
        starts_at=_epoch_ms(body.get("date")),
        ends_at=None,
        generator_url=text(body, "link"),
        received_at=received_at,
    )


def _status(body: Mapping[str, Any]) -> AlertStatus:
    transition = text(body, "alert_transition").lower()
    if transition:
        status = STATUS_MAP.get(transition)
        if status is None:
            raise BadAlert(f"alert_transition: unknown value {transition[:40]!r}")
        return status
    return TYPE_STATUS.get(text(body, "alert_type").lower(), AlertStatus.FIRING)


def _rule_name(title: str) -> str:
    """``[Triggered on {host:a}] CPU high`` -> ``CPU high``: the monitor, not this transition."""
    name = title.strip()
    while name.startswith("[") and "] " in name:
        name = name.split("] ", 1)[1].strip()
    return name or title


def _tags(tags: object) -> dict[str, str]:
    """$TAGS: ``env:prod,service:web,adhoc`` -> ``{"env": "prod", "service": "web"}``."""
    if isinstance(tags, list):
        items = [t for t in tags if isinstance(t, str)]
    elif isinstance(tags, str):
        items = tags.split(",")
    else:
        return {}
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.strip().partition(":")
        if sep and key and key not in ("alertname", "severity"):
            out[key] = value
    return out


def _epoch_ms(value: object) -> float | None:
    """$DATE is milliseconds since the epoch, as a number or a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, int | float) and 0 < value < 1e14:
        return float(value) / 1000.0
    return None
