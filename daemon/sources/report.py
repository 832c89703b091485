"""User reports (``POST /api/v1/reports``): a person or a help-desk form says something is wrong.

A report is one alert of source ``report``. Its identity is the reporter's own id when
the form sends one (``id``, e.g. a help-desk ticket number), else the service and the
title, so the same person pressing submit twice is one alert, not two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.errors import PayloadError
from daemon.fingerprint import label_fingerprint
from daemon.models import Alert, AlertStatus
from daemon.sources.common import BadAlert, drop_empty, require_object, sender_fingerprint, single, text
from daemon.sources.result import ParseResult

SOURCE = "report"
# What the reporter says it affects -> our severity label (the triage model may raise it).
IMPACT_MAP = {"high": "critical", "medium": "warning", "low": "info"}
STATUS_MAP = {"open": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}
MAX_TITLE = 300


def parse(payload: object, received_at: float) -> ParseResult:
    """Turn one report into one alert; never mutates ``payload``."""
    body = require_object(payload, "a report: title, description, reporter, service, impact")
    try:
        return single(SOURCE, received_at, _to_alert(body, received_at))
    except (ValueError, OverflowError) as err:
        raise PayloadError(str(err)) from None


def _to_alert(body: Mapping[str, Any], received_at: float) -> Alert:
    title = text(body, "title").strip()
    if not title:
        raise BadAlert("title is required")
    if len(title) > MAX_TITLE:
        raise BadAlert(f"title is longer than {MAX_TITLE} characters")
    impact = text(body, "impact", "medium").strip().lower()
    if impact not in IMPACT_MAP:
        raise BadAlert("impact: expected high, medium or low")
    status = STATUS_MAP.get(text(body, "status", "open").strip().lower())
    if status is None:
        raise BadAlert("status: expected open or resolved")
    service = text(body, "service").strip()
    labels = drop_empty(
        {
            "alertname": title,
            "severity": IMPACT_MAP[impact],
            "service": service,
            "reporter": text(body, "reporter").strip(),
        }
    )
    annotations = drop_empty({"summary": title, "description": text(body, "description")})
    own = text(body, "id").strip()
    identity = (
        sender_fingerprint(SOURCE, own)
        if own
        else label_fingerprint({"source": SOURCE, "service": service, "title": title.lower()})
    )
    return Alert(
        fingerprint=identity,
        source=SOURCE,
        status=status,
        labels=labels,
        annotations=annotations,
        starts_at=received_at,
        ends_at=None,
        generator_url=text(body, "url"),
        received_at=received_at,
    )
