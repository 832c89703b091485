"""Grafana Alerting webhook contact point (payload ``version: "1"``, POST or PUT).

Batch policy: like Alertmanager, each element of ``alerts`` stands alone; a bad one
is rejected by index and the rest are kept (Grafana re-sends the whole group, so a
refused batch would only be refused again).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from daemon.errors import PayloadError
from daemon.fingerprint import label_fingerprint
from daemon.models import Alert, AlertStatus
from daemon.sources.common import BadAlert, drop_empty, parse_batch, require_object, string_map, text
from daemon.sources.result import ParseResult
from daemon.timeparse import parse_rfc3339

SOURCE = "grafana"
STATUS_MAP = {"firing": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}
SUPPORTED_VERSIONS = frozenset({"1"})
# Grafana's fingerprint is Prometheus' 64-bit label hash written as 16 hex digits.
_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
# Per-alert URL fields -> annotation names (snake_case like Prometheus' runbook_url).
URL_FIELDS = {
    "dashboardURL": "dashboard_url",
    "panelURL": "panel_url",
    "silenceURL": "silence_url",
    "imageURL": "image_url",
}


def parse(payload: object, received_at: float) -> ParseResult:
    """Turn a Grafana webhook body into alerts; never mutates ``payload``."""
    body = require_object(payload, "a Grafana Alerting webhook body")
    version = body.get("version")
    if version is not None and (not isinstance(version, str) or version not in SUPPORTED_VERSIONS):
        raise PayloadError(f'unsupported Grafana webhook version {version!r}: expected "1"')
    raw_alerts = body.get("alerts")
    if not isinstance(raw_alerts, list):
        raise PayloadError("'alerts' must be a list of alerts")
    org = body.get("orgId")
    org_id = str(org) if isinstance(org, int) and not isinstance(org, bool) else ""
    group_key = body.get("groupKey")
    receiver = body.get("receiver")
    return parse_batch(
        SOURCE,
        raw_alerts,
        received_at,
        lambda raw: _to_alert(raw, org_id, received_at),
        group_key=group_key if isinstance(group_key, str) else "",
        receiver=receiver if isinstance(receiver, str) else "",
    )


def _to_alert(raw: object, org_id: str, received_at: float) -> Alert:
    if not isinstance(raw, Mapping):
        raise BadAlert("expected an object")
    status = STATUS_MAP.get(text(raw, "status"))
    if status is None:
        raise BadAlert("status: expected 'firing' or 'resolved'")
    own = string_map(raw, "labels")
    if not own.get("alertname"):
        raise BadAlert("labels: alertname is required (the Grafana rule name)")
    labels = dict(own)
    if org_id:
        labels["grafana_org_id"] = org_id
    annotations = string_map(raw, "annotations")
    for field, name in URL_FIELDS.items():
        annotations[name] = text(raw, field)
    annotations["values"] = _values(raw.get("values"))
    annotations["value_string"] = text(raw, "valueString")
    given = text(raw, "fingerprint")
    return Alert(
        # Grafana's own id when it looks like one; else the same hash over its labels.
        fingerprint=given if _FINGERPRINT.match(given) else label_fingerprint(own),
        source=SOURCE,
        status=status,
        labels=labels,
        annotations=drop_empty(annotations),
        starts_at=parse_rfc3339(text(raw, "startsAt")),
        ends_at=parse_rfc3339(text(raw, "endsAt")),
        generator_url=text(raw, "generatorURL"),
        received_at=received_at,
    )


def _values(values: Any) -> str:
    """``{"B": 44.2, "C": 1}`` as ``B=44.2, C=1``: the numbers a person reads next to the summary."""
    if not isinstance(values, Mapping):
        return ""
    parts = []
    for key in sorted(values, key=str):
        value = values[key]
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            parts.append(f"{key}={value}")
    return ", ".join(parts)
