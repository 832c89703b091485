"""Zabbix webhook media type: the JSON body its script sends (docs/senders.md), one event each.

Zabbix has no fixed webhook body: a media type's parameters are macros and its
script posts them. We document one media type (``docs/senders.md``) whose script
sends ``JSON.stringify`` of its parameters. ``{EVENT.ID}`` is the problem event in
both the problem and the recovery message, so it identifies the alert.
One body is one alert: a bad body is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from daemon.errors import PayloadError
from daemon.models import Alert, AlertStatus
from daemon.sources.common import BadAlert, drop_empty, require_object, sender_fingerprint, single, text
from daemon.sources.result import ParseResult

SOURCE = "zabbix"
# {EVENT.VALUE}: 1 problem, 0 recovery. {EVENT.STATUS}: PROBLEM / RESOLVED.
STATUS_MAP = {
    "1": AlertStatus.FIRING,
    "problem": AlertStatus.FIRING,
    "0": AlertStatus.RESOLVED,
    "resolved": AlertStatus.RESOLVED,
    "ok": AlertStatus.RESOLVED,
}
# {EVENT.SEVERITY} (or {EVENT.NSEVERITY} 0..5) -> our severity label.
SEVERITY_MAP = {
    "disaster": "critical",
    "high": "critical",
    "average": "warning",
    "warning": "warning",
    "information": "info",
    "not classified": "info",
    "5": "critical",
    "4": "critical",
    "3": "warning",
    "2": "warning",
    "1": "info",
    "0": "info",
}


def parse(payload: object, received_at: float) -> ParseResult:
    """Turn one Zabbix media-type body into one alert; never mutates ``payload``."""
    body = require_object(payload, "a Zabbix webhook body")
    try:
        return single(SOURCE, received_at, _to_alert(body, received_at))
    except (ValueError, OverflowError) as err:
        raise PayloadError(str(err)) from None


def _to_alert(body: Mapping[str, Any], received_at: float) -> Alert:
    event_id = text(body, "event_id")
    name = text(body, "trigger_name") or text(body, "event_name")
    if not event_id or not name:
        raise BadAlert("event_id and event_name (or trigger_name) are required")
    raw_status = (text(body, "event_value") or text(body, "event_status")).strip().lower()
    status = STATUS_MAP.get(raw_status)
    if status is None:
        raise BadAlert("event_value: expected 1 (problem) or 0 (recovery)")
    severity = SEVERITY_MAP.get(
        (text(body, "event_severity") or text(body, "event_nseverity")).strip().lower(), ""
    )
    labels = {
        "alertname": name,
        "severity": severity,
        "host": text(body, "host_name"),
        "zabbix_host_ip": text(body, "host_ip"),
        "zabbix_trigger_id": text(body, "trigger_id"),
    }
    labels.update(_tags(body.get("event_tags")))
    annotations = {
        "summary": text(body, "event_name") or name,
        "description": text(body, "trigger_description") or text(body, "alert_message"),
        "zabbix_event_id": event_id,
        "zabbix_opdata": text(body, "event_opdata"),
        "zabbix_recovery_event_id": text(body, "event_recovery_id"),
    }
    return Alert(
        fingerprint=sender_fingerprint(SOURCE, event_id),
        source=SOURCE,
        status=status,
        labels=drop_empty(labels),
        annotations=drop_empty(annotations),
        starts_at=_zabbix_time(text(body, "event_date"), text(body, "event_time")),
        ends_at=_zabbix_time(text(body, "event_recovery_date"), text(body, "event_recovery_time")),
        generator_url=text(body, "event_url") or text(body, "zabbix_url"),
        received_at=received_at,
    )


def _tags(tags: object) -> dict[str, str]:
    """{EVENT.TAGSJSON}: ``[{"tag": "service", "value": "web"}]``, as a list or a JSON string."""
    if isinstance(tags, str):
        import orjson

        try:
            tags = orjson.loads(tags)
        except orjson.JSONDecodeError:
            return {}
    if not isinstance(tags, list):
        return {}
    out: dict[str, str] = {}
    for item in tags:
        if isinstance(item, Mapping) and isinstance(item.get("tag"), str):
            key = item["tag"]
            value = item.get("value", "")
            if key and key not in ("alertname", "severity") and isinstance(value, str):
                out[key] = value
    return out


def _zabbix_time(day: str, clock: str) -> float | None:
    """{EVENT.DATE} ``2026.11.26`` and {EVENT.TIME} ``17:52:21``, in the Zabbix server's zone (UTC here)."""
    if not day or not clock:
        return None
    try:
        parsed = datetime.strptime(f"{day} {clock}", "%Y.%m.%d %H:%M:%S")
    except ValueError:
        raise BadAlert(
            f"event_date/event_time: expected YYYY.MM.DD and HH:MM:SS, got {day[:20]!r} {clock[:20]!r}"
        ) from None
    return parsed.replace(tzinfo=UTC).timestamp()
